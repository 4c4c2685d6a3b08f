"""Forecasting runs end to end: trained on windows, VPT on long held-out trajectories."""

import json

import numpy as np

from locornn import tasks, train
from tests.conftest import experiment_config


def test_hamiltonian_smoke_run_reports_vpt_counted_from_the_end_of_the_training_window(
        tmp_path):
    config = experiment_config("hamiltonian", data__cache_dir=str(tmp_path / "cache"))
    summary = train.train_and_evaluate(config, tmp_path / "run", progress=False)
    extrapolated = config.data.test_sequence_length - config.data.sequence_length
    assert summary["test"]["extrapolation_steps"] == extrapolated == 10
    assert 0 <= summary["test"]["vpt"] <= extrapolated
    vpt = json.loads((tmp_path / "run" / "vpt.json").read_text())
    assert len(vpt["per_trajectory"]) == config.data.num_test == summary["test"]["vpt_trajectories"]
    assert np.median(vpt["per_trajectory"]) == summary["test"]["vpt"]
    assert len(vpt["median_error_per_step"]) == extrapolated
    for name in ("vpt_error.png", "forecast.png", "figure1.png", "hidden.gif", "loss.png"):
        assert (tmp_path / "run" / name).stat().st_size > 0


def test_forecast_training_batches_are_windows_that_depend_only_on_the_step(tmp_path):
    config = experiment_config("hamiltonian", data__cache_dir=str(tmp_path / "cache"))
    task = tasks.build_task(config)
    a, b, c = task.train_batch(3), task.train_batch(3), task.train_batch(4)
    assert a.shape == (config.train.batch_size, config.data.sequence_length, 32, 32, 3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert float(np.min(a)) >= 0.0 and float(np.max(a)) <= 1.0
