"""`locornn analyze waves`: wave metrics of a run's hidden state, trained and untrained."""

import argparse
import json
import math

import jax
import numpy as np
import pytest
from PIL import Image

from locornn import checkpoints, data, optim, plots, train
from locornn.analysis.waves import phase_map
from locornn.analysis.waves import report as wr
from locornn.analysis.waves import statistics as analysis_waves
from locornn.analysis.waves.phase import reference_phase
from tests.conftest import experiment_config

pytestmark = pytest.mark.slow  # trains a smoke run (about half a minute on 2 busy cores)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A smoke run of 10 steps with probe records (steps 0 and 10)."""
    workdir = tmp_path_factory.mktemp("waves_run")
    config = experiment_config("waves", figures__enabled=False, train__num_steps=10,
                               train__probe_sequences=2)
    train.train_and_evaluate(config, workdir, progress=False)
    return workdir


@pytest.fixture(scope="module")
def loaded(run_dir):
    """``(config, task, state, z)``: the run, loaded once, and its model's ``z`` on the first 4
    held-out sequences (computed directly, without :mod:`wave_report`)."""
    config, task, state = checkpoints.load_run(run_dir)
    test = data.load(config.data).test[:4]
    z = jax.jit(task.model.apply)({"params": state.params}, test)["z"]
    return config, task, state, np.asarray(z)


@pytest.fixture(scope="module")
def reports(run_dir):
    """The trained report, then the untrained one (both on 4 held-out sequences)."""
    trained = wr.wave_report(run_dir, num_sequences=4)
    return trained, wr.wave_report(run_dir, untrained=True, num_sequences=4)


def _same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-4, abs=1e-6)


def test_hidden_states_are_the_models_z_for_every_sequence(loaded):
    config, task, state, expected = loaded
    sequences = data.load(config.data).test[:3]
    z = wr.hidden_states(task, state.params, sequences, batch_size=2)  # two model calls
    assert isinstance(z, np.ndarray)
    assert z.shape == (3, sequences.shape[1], 8, 8, 1)  # smoke: 8x8x1 lattice
    np.testing.assert_allclose(z, expected[:3], rtol=1e-5, atol=1e-6)


def test_report_of_a_trained_run_holds_every_wave_metric_and_writes_json_and_plot(
        run_dir, loaded, reports):
    report = reports[0]
    saved = json.loads((run_dir / "waves.json").read_text())
    assert set(saved["metrics"]) == set(analysis_waves.wave_metrics(np.random.rand(6, 4, 4, 1)))
    for key, value in saved["metrics"].items():
        assert isinstance(value, float), key  # finite or NaN, never missing or None
    assert saved["state"] == "trained" and saved["step"] == 10 and saved["num_sequences"] == 4
    assert report["metrics"].keys() == saved["metrics"].keys()
    assert report["files"]["json"] == str(run_dir / "waves.json")
    assert (run_dir / "synchrony_vs_loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The numbers are wave_metrics of z on the first 4 held-out sequences, trained params.
    expected = analysis_waves.wave_metrics(loaded[3])
    for key, value in expected.items():
        assert _same(saved["metrics"][key], value), key
    # ... and again on the reference's causal band-pass, with its wave video (raw | band | hue)
    banded = analysis_waves.wave_metrics(loaded[3], band="reference")
    for key, value in banded.items():
        assert _same(saved["metrics_reference_band"][key], value), key
    assert report["files"]["video"] == str(run_dir / "waves_phase.gif")
    with Image.open(run_dir / "waves_phase.gif") as gif:
        assert gif.n_frames == loaded[3].shape[1]  # one frame per step of the first sequence
    # ... and the phase map beside it: the same band's phase, last frames of each sequence
    frames = saved["phase_map"]["frames"]
    assert frames == min(18, loaded[3].shape[1] // 2)
    phases = np.stack([reference_phase(z)[1][-frames:] for z in loaded[3]])
    expected = phase_map.phase_map_metrics(phases, circular=True)  # the smoke lattice wraps
    for key, value in expected.items():
        assert _same(saved["phase_map"][key], value), key
    assert (run_dir / "phase_map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the phase alone, one pixel a site: read back as the authors' videos are, it is the phase
    read = phase_map.phase_from_gif(run_dir / "waves_phase_sites.gif", frames=None)
    phase = reference_phase(loaded[3][0])[1][..., 0]
    assert read.shape == phase.shape
    assert float(np.mean(np.abs(np.angle(np.exp(1j * (read - phase)))))) < 0.05


def test_untrained_report_uses_the_initial_params_and_differs_from_the_trained_one(
        run_dir, loaded, reports):
    trained, untrained = reports[0]["metrics"], reports[1]
    saved = json.loads((run_dir / "waves_untrained.json").read_text())
    assert saved["state"] == "untrained" and saved["step"] == 0
    assert json.loads((run_dir / "waves.json").read_text())["state"] == "trained"  # kept
    assert saved["metrics"] == pytest.approx(untrained["metrics"], nan_ok=True)
    differ = [k for k in trained if not _same(trained[k], untrained["metrics"][k])]
    assert differ, "untrained and trained metrics are identical"

    config, task, _, _ = loaded
    params = optim.create_train_state(config, task).params
    z = wr.hidden_states(task, params, data.load(config.data).test[:4])
    assert _same(saved["metrics"]["standing_wave_index"],
                 analysis_waves.wave_metrics(z)["standing_wave_index"])


def test_synchrony_vs_loss_draws_loss_and_probe_metrics_on_the_same_steps(run_dir, tmp_path):
    records = plots.read_metrics(run_dir / "metrics.jsonl")
    series = wr.synchrony_vs_loss(records, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0
    assert series["held-out loss"][0] == [10]
    assert series["train loss"][0][-1] == 10
    for label in ("global synchrony", "local synchrony", "traveling-wave strength",
                  "standing-wave index", "plane-wave fraction"):
        steps, values = series[label]
        assert steps == [0, 10], label  # untrained probe at step 0, then each evaluation
        probe = [r for r in records if r["split"] == "probe"]
        key = {v: k for k, v in wr.PLOTTED_METRICS.items()}[label]
        assert all(_same(v, r[key]) for v, r in zip(values, probe, strict=True))
    # Without probe records the loss is still drawn, and the panel says why nothing else is.
    series = wr.synchrony_vs_loss([r for r in records if r["split"] != "probe"],
                                  tmp_path / "bare.png")
    assert set(series) == {"train loss", "held-out loss"}


def _cli(argv):
    parser = argparse.ArgumentParser()
    wr.add_command(parser.add_subparsers(dest="analysis", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_command_prints_the_table_and_paths(run_dir, capsys):
    assert _cli(["waves", str(run_dir), "--untrained", "--num-sequences", "2"]) == 0
    out = capsys.readouterr().out
    assert "untrained" in out and "2 held-out sequence(s)" in out
    for key in ("global_synchrony", "traveling_wave_strength", "standing_wave_index"):
        assert key in out
    assert f"wrote {run_dir / 'waves_untrained.json'}" in out
    assert f"wrote {run_dir / 'synchrony_vs_loss.png'}" in out
    assert "neighbour phase difference" in out
    assert f"wrote {run_dir / 'phase_map_untrained.png'}" in out


def test_command_refuses_a_directory_that_is_not_a_run(tmp_path, capsys):
    assert _cli(["waves", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert not (tmp_path / "waves.json").exists()
    (tmp_path / "config.json").write_text(
        experiment_config("waves", figures__enabled=False).to_json())
    assert _cli(["waves", str(tmp_path)]) == 2  # a config but no checkpoint yet
    assert "no checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("lead", [3, -2, 0])
def test_derivative_lag_finds_how_far_the_metric_leads_the_loss(lead):
    """A metric whose jump comes `lead` evaluations before the loss's drop: lag = lead * 100."""
    steps = np.arange(0, 4000, 100)
    rise = 1 / (1 + np.exp(-(steps - 2000) / 150))
    metric = np.interp(steps + lead * 100, steps, rise)  # shifted earlier by `lead` intervals
    loss = 10 * np.exp(-2 * rise)  # drops as the (unshifted) rise happens
    lag = wr.derivative_lag(steps, metric, steps, loss)
    assert lag["lag_steps"] == lead * 100
    assert lag["correlation"] < -0.9  # the loss falls as the metric rises


def test_derivative_lag_is_nan_without_enough_points_or_change():
    assert math.isnan(wr.derivative_lag([0, 1, 2], [0, 1, 2], [0, 1, 2], [3, 2, 1])["lag_steps"])
    assert math.isnan(wr.derivative_lag(range(10), np.ones(10), range(10),
                                        np.arange(10.0) + 1)["lag_steps"])


def test_probe_loss_lags_are_measured_against_the_loss_asked_for():
    """The held-out loss by default, the train loss when asked (or when there is no held-out)."""
    steps = np.arange(0, 4000, 100)
    rise = 1 / (1 + np.exp(-(steps - 2000) / 150))
    metric = list(np.interp(steps + 300, steps, rise))  # leads the rise by 3 intervals
    train = list(10 * np.exp(-2 * rise))  # drops with the rise: metric leads by 300
    held_out = list(10 * np.exp(-2 * np.interp(steps - 200, steps, rise)))  # drops 200 later
    label = wr.PLOTTED_METRICS["traveling_wave_strength"]
    series = {label: (steps, metric), "train loss": (steps, train),
              "held-out loss": (steps, held_out)}
    assert wr.probe_loss_lags(series)[label]["lag_steps"] == 500
    assert wr.probe_loss_lags(series, "train loss")[label]["lag_steps"] == 300
    del series["held-out loss"]
    assert wr.probe_loss_lags(series)[label]["lag_steps"] == 300
