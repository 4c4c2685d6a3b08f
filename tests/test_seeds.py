"""jax.vmap over seeds: the same parameters as separate runs, written as ordinary runs."""

import importlib.util

import jax
import numpy as np
import pytest

from locornn import checkpoints, train
from locornn.reproduce import seeds
from tests.conftest import ROOT, experiment_config


def test_vmapped_seeds_match_separately_trained_runs(tmp_path):
    config = experiment_config("waves", figures__enabled=False, train__num_steps=6,
                               train__log_every=3)
    summaries = _seed_1_vmapped_and_alone(config, tmp_path)
    assert [s["seed"] for s in summaries] == [0, 1] and all(s["steps"] == 6 for s in summaries)


def _seed_1_vmapped_and_alone(config, tmp_path):
    """Train seeds 0 and 1 vmapped and seed 1 alone; assert seed 1's parameters agree; return
    the vmapped summaries."""
    summaries = seeds.train_seeds(config, (0, 1), root=tmp_path / "vmapped", progress=False)
    config.seed = 1
    train.train_and_evaluate(config, tmp_path / "alone", progress=False)
    _, _, alone = checkpoints.load_run(tmp_path / "alone")
    _, _, vmapped = checkpoints.load_run(train.default_workdir(config, tmp_path / "vmapped"))
    for a, b in zip(jax.tree.leaves(alone.params), jax.tree.leaves(vmapped.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    return summaries


def test_forecast_benchmark_times_one_run_and_vmapped_seeds():
    """benchmarks/bench_forecast.py (which sizes the cpu table) runs on the smoke preset and
    reports the per-seed cost of batching seeds against a single run."""
    spec = importlib.util.spec_from_file_location(
        "bench_forecast", ROOT / "benchmarks" / "bench_forecast.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.bench("lstm", "smoke", seeds=2, steps=1)
    assert result["single_ms"] > 0 and result["vmapped_ms"] > 0
    assert result["vmapped_per_seed_vs_single"] == pytest.approx(
        result["vmapped_ms"] / (2 * result["single_ms"]))
    assert (result["batch"], result["frames"]) == (4, 10)  # the smoke preset's window


@pytest.mark.slow
def test_vmapped_seeds_train_the_closed_loop_curriculum_like_separate_runs(tmp_path):
    """The closed-loop curriculum (a traced feedback start that depends on the step) is the same
    under jax.vmap over seeds as in a separate run."""
    config = experiment_config("hamiltonian", figures__enabled=False, train__num_steps=4,
                               train__log_every=2, data__cache_dir=str(tmp_path / "cache"),
                               model__rollout="autoregressive", train__closed_loop_frames=-1,
                               train__curriculum_steps=4)
    _seed_1_vmapped_and_alone(config, tmp_path)
