"""The linear probe for the true state (``locornn analyze state-probe``).

Specification:
* features that are a linear function of the truth (among distractors) give R^2 ~ 1 on
  held-out samples; features that carry nothing give R^2 ~ 0;
* the pendulums are probed for ``cos q`` and ``sin q`` of each angle, other systems for ``x``;
* the encoder probed is the model's own encoder (the same numbers as inside a forward pass);
* on a trained forecasting run the command writes ``state_probe.json`` with one R^2 per
  stage (encoder, state in the window, state beyond it); a run that is not a forecasting run
  is refused in one line.
"""

import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from locornn import cli, optim, tasks
from locornn.analysis.probes import state as state_probe
from locornn.models.forecasting import encode_frames
from tests.conftest import experiment_config


def _truth(rng, trajectories=40, frames=50):
    angle = rng.uniform(-np.pi, np.pi, (trajectories, 1, 1)) + 0.1 * np.arange(frames)[:, None]
    return np.concatenate([np.cos(angle), np.sin(angle)], axis=-1)  # (N, T, 2)


def test_features_linear_in_the_truth_give_r2_near_one():
    rng = np.random.default_rng(0)
    truth = _truth(rng)
    mixing = rng.normal(size=(2, 30))
    features = truth @ mixing + 0.01 * rng.normal(size=(*truth.shape[:2], 30))
    features = np.concatenate([features, rng.normal(size=(*truth.shape[:2], 70))], axis=-1)
    result = state_probe.ridge_r2(features[:20], truth[:20], features[20:], truth[20:])
    assert result["r2"] > 0.99 and min(result["r2_per_target"]) > 0.99


def test_features_that_carry_nothing_give_r2_near_zero():
    rng = np.random.default_rng(1)
    truth = _truth(rng)
    noise = rng.normal(size=(*truth.shape[:2], 50))
    result = state_probe.ridge_r2(noise[:20], truth[:20], noise[20:], truth[20:])
    assert abs(result["r2"]) < 0.1


def test_a_constant_target_has_no_r2_and_the_ridge_must_be_positive():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(8, 10, 5))
    targets = np.stack([features[..., 0], np.ones((8, 10))], axis=-1)
    result = state_probe.ridge_r2(features[:4], targets[:4], features[4:], targets[4:])
    assert np.isnan(result["r2_per_target"][1]) and result["r2"] > 0.99
    with pytest.raises(ValueError, match="ridge"):
        state_probe.ridge_r2(features[:4], targets[:4], features[4:], targets[4:], ridge=0)


def test_pendulums_are_probed_for_the_sine_and_cosine_of_their_angles():
    states = np.array([[[0.5, 2.0], [np.pi, -1.0]]])  # (1, 2, D = 2): (q, p)
    targets, names = state_probe.probe_targets("pendulum", states)
    assert names == ["cos q", "sin q"]
    np.testing.assert_allclose(targets[0, :, 0], np.cos([0.5, np.pi]))
    np.testing.assert_allclose(targets[0, :, 1], np.sin([0.5, np.pi]), atol=1e-12)
    double = np.zeros((1, 3, 4))
    assert state_probe.probe_targets("double_pendulum", double)[1] == [
        "cos q1", "cos q2", "sin q1", "sin q2"]
    spring, names = state_probe.probe_targets("mass_spring", states)
    np.testing.assert_array_equal(spring, states)
    assert names == ["x[0]", "x[1]"]


def test_the_probed_encoder_is_the_models_own(tmp_path):
    config = experiment_config("hamiltonian", data__cache_dir=str(tmp_path / "cache"))
    task = tasks.build_task(config, progress=False)
    params = optim.create_train_state(config, task).params
    frames = jnp.asarray(task.dataset.test_images[:2, :config.model.context_frames])
    _, captured = task.model.apply({"params": params}, frames, num_steps=0,
                                   capture_intermediates=True, mutable=["intermediates"])
    inside = captured["intermediates"]["encoder"]["__call__"][0]  # (B * K, units), as called
    probed = encode_frames(task.model, params, frames)
    np.testing.assert_allclose(np.asarray(probed).reshape(inside.shape), np.asarray(inside),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_the_command_probes_a_pendulum_run_and_refuses_other_runs(tmp_path, capsys, waves_run):
    run = tmp_path / "run"
    code = cli.main(["train", "--config", "hamiltonian:smoke", "--workdir", str(run), "--quiet",
                     "--config.data.system=pendulum", "--config.data.num_test=8",
                     f"--config.data.cache_dir={tmp_path / 'cache'}",
                     "--config.figures.enabled=False"])
    assert code == 0
    capsys.readouterr()
    assert cli.main(["analyze", "state-probe", str(run)]) == 0
    out = capsys.readouterr().out
    assert "cos q" in out and "state_probe.json" in out
    report = json.loads((run / "state_probe.json").read_text())
    assert report["targets"] == ["cos q", "sin q"]
    assert (report["fit_trajectories"], report["score_trajectories"]) == (4, 4)
    assert [p["features"] for p in report["probes"]] == ["encoder", "state, window",
                                                         "state, beyond"]
    assert [p["frames"] for p in report["probes"]] == [[0, 10], [0, 10], [10, 20]]
    assert all(np.isfinite(p["r2"]) for p in report["probes"])

    waves = tmp_path / "waves"  # a finished waves run: the session's, copied (never written)
    shutil.copytree(waves_run, waves)
    assert cli.main(["analyze", "state-probe", str(waves)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a Hamiltonian forecasting run" in err
    assert not (waves / "state_probe.json").exists()


def test_jax_arrays_and_uint8_frames_encode_alike(tmp_path):
    config = experiment_config("hamiltonian", data__cache_dir=str(tmp_path / "cache"))
    task = tasks.build_task(config, progress=False)
    params = optim.create_train_state(config, task).params
    frames = np.asarray(task.dataset.test_images[:1, :3])
    as_uint8 = encode_frames(task.model, params, frames)
    as_float = encode_frames(task.model, params, jax.numpy.asarray(frames) / 255.0)
    np.testing.assert_allclose(np.asarray(as_uint8), np.asarray(as_float), rtol=1e-5, atol=1e-6)
