"""Forecasting runs end to end: trained on windows, VPT on long held-out trajectories."""

import json

import jax
import jax.numpy as jnp
import numpy as np

from locornn import tasks, train
from locornn.models.forecasting import KINDS, build_forecast_model
from locornn.optim import create_train_state
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


def test_presets_have_the_sizes_the_table_promises():
    """paper: the published sizes; cpu: windows spanning two spring periods (2 pi sqrt(m/k) /
    dt = 63 frames each), VPT from frame 64 on >= 400-frame test trajectories; every preset
    builds every core."""
    paper = experiment_config("hamiltonian", "paper")
    assert (paper.train.batch_size, paper.model.context_frames, paper.data.sequence_length,
            paper.data.num_train, paper.train.num_steps, paper.train.learning_rate,
            paper.data.test_sequence_length) == (128, 31, 31 + 60, 50000, 500000, 1.5e-4, 1000)
    assert (paper.model.encoder, paper.model.decoder, paper.model.lattice) == ("conv", "conv", 23)
    cpu = experiment_config("hamiltonian", "cpu")
    period = 2 * np.pi * 0.5 / 0.05  # frames of one spring period
    assert cpu.data.sequence_length >= 2 * period  # 128-frame windows: README, ablation
    assert cpu.evaluation.vpt_start == 64 and cpu.data.test_sequence_length >= 400
    assert cpu.data.trajectory_length >= cpu.data.sequence_length
    for preset in ("smoke", "cpu", "paper"):
        config = experiment_config("hamiltonian", preset)
        for kind in KINDS:
            config.model.kind = kind
            model = build_forecast_model(config.model, (32, 32, 3))
            frames = jax.ShapeDtypeStruct((1, config.data.sequence_length, 32, 32, 3),
                                          jnp.float32)
            out = jax.eval_shape(lambda x, m=model: m.init_with_output(
                jax.random.PRNGKey(0), x)[0]["prediction"], frames)
            assert out.shape == frames.shape


def test_vpt_start_moves_the_origin_of_the_count_over_the_same_frames(tmp_path):
    """evaluation.vpt_start = 6 counts from frame 6 instead of the window's end (frame 10): the
    per-step errors are those of the same forecast, four more of them at the front."""
    cache = str(tmp_path / "cache")
    results = {}
    for start in (0, 6):
        config = experiment_config("hamiltonian", data__cache_dir=cache,
                                   evaluation__vpt_start=start)
        task = tasks.build_task(config)
        params = create_train_state(config, task).params  # the same seed: same params
        (tmp_path / str(start)).mkdir()
        results[start] = (task.final(params, tmp_path / str(start)),
                          json.loads((tmp_path / str(start) / "vpt.json").read_text()))
    (window, window_curve), (early, early_curve) = results[0], results[6]
    assert window["vpt_start"] == 10 and early["vpt_start"] == 6
    assert early["extrapolation_steps"] == window["extrapolation_steps"] + 4 == 14
    np.testing.assert_allclose(early_curve["median_error_per_step"][4:],
                               window_curve["median_error_per_step"], rtol=1e-6)


def test_test_batches_drop_a_partial_batch_for_means_but_not_for_per_item_results():
    from locornn import data

    items = np.arange(10)
    assert [b.tolist() for b in data.test_batches(items, 4)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [b.tolist() for b in data.test_batches(items, 4, partial=True)] == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(list(data.test_batches(items, 4, max_batches=1, partial=True))) == 1


def test_part_of_a_window_batch_reads_only_those_rows_windows():
    import jax

    from locornn.data import hamiltonian

    images = np.random.default_rng(0).integers(0, 255, (5, 12, 4, 4, 3), dtype=np.uint8)
    key = jax.random.PRNGKey(1)
    whole = np.asarray(hamiltonian.sample_windows(images, key, 6, 4))
    part = np.asarray(hamiltonian.sample_windows(images, key, 6, 4, rows=slice(3, 6)))
    np.testing.assert_array_equal(part, whole[3:6])
    on_device = hamiltonian.sample_windows(jax.numpy.asarray(images), key, 6, 4,
                                           rows=slice(3, 6))
    np.testing.assert_array_equal(np.asarray(on_device), whole[3:6])
