"""Can the run's decoder draw the system at all? (``locornn analyze decoder-probe``).

Specification:
* the error is VPT's own per frame (:func:`locornn.metrics.normalised_error`);
* trained afresh on single frames, the run's decoder given the true state, and its encoder +
  decoder given the frame, draw held-out frames better than the mean training frame does
  (they learn), with the pendulum's state given as ``cos q, sin q``;
* the command needs only the run's config (no checkpoint), writes ``decoder_probe.json`` and
  refuses a run that is not a forecasting run in one line, writing nothing.
"""

import json

import numpy as np
import pytest

from locornn import cli, configs, metrics, tasks
from locornn.analysis.probes import decoder as decoder_probe
from tests.conftest import experiment_config


def test_the_error_is_vpts_normalised_error_per_frame():
    rng = np.random.default_rng(0)
    frames = rng.uniform(size=(5, 4, 4, 3)).astype(np.float32)
    pictures = rng.uniform(size=(5, 4, 4, 3)).astype(np.float32)
    expected = np.asarray(metrics.normalised_error(pictures, frames))
    np.testing.assert_allclose(decoder_probe.frame_errors(pictures, frames, batch=2), expected,
                               rtol=1e-6)
    np.testing.assert_array_equal(decoder_probe.frame_errors(frames, frames), np.zeros(5))


@pytest.fixture(scope="module")
def pendulum(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    config = experiment_config("hamiltonian", data__system="pendulum",
                               data__cache_dir=str(cache))
    return config, tasks.build_task(config, progress=False).dataset


def test_both_fits_learn_to_draw_held_out_pendulum_frames(pendulum):
    config, dataset = pendulum
    report = decoder_probe.decoder_probe(config, dataset, steps=150, batch=32,
                                         learning_rate=3e-3, progress=False)
    assert report["targets"] == ["cos q", "sin q"]
    assert [p["input"] for p in report["probes"]] == ["true state -> decoder",
                                                      "frame -> encoder -> decoder"]
    assert report["test_frames"] == dataset.test_images.shape[0] * dataset.test_images.shape[1]
    for probe in report["probes"]:
        assert probe["median_error"] < 0.8 * report["mean_frame"]["median_error"], probe
        assert probe["median_error"] <= probe["p90_error"]
        assert 0.0 <= probe["within_threshold"] <= 1.0


def test_a_budget_must_be_positive(pendulum):
    config, dataset = pendulum
    with pytest.raises(ValueError, match="steps and batch"):
        decoder_probe.decoder_probe(config, dataset, steps=0, progress=False)


def test_the_command_needs_only_the_config_and_refuses_other_runs(pendulum, tmp_path, capsys):
    config, _ = pendulum
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(config.to_json(indent=2))  # no checkpoint
    assert cli.main(["analyze", "decoder-probe", str(run), "--steps", "5", "--batch", "4",
                     "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "true state -> decoder" in out and "mean training frame" in out
    assert json.loads((run / "decoder_probe.json").read_text())["steps"] == 5

    waves = tmp_path / "waves"
    waves.mkdir()
    (waves / "config.json").write_text(configs.load("waves:smoke").to_json(indent=2))
    assert cli.main(["analyze", "decoder-probe", str(waves)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a Hamiltonian forecasting run" in err
    assert not (waves / "decoder_probe.json").exists()
