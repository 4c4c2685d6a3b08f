"""The training loop: it learns, resumes exactly, and fails loudly on bad input."""

import json
import pathlib
import shutil

import jax
import ml_collections
import numpy as np
import pytest

from locornn import checkpoints, configs, data, optim, tasks, train
from tests.conftest import experiment_config


def _held_out_loss_at_init(config):
    task = tasks.build_task(config)
    return task.final(optim.create_train_state(config, task).params, None)["loss"]


def _params(workdir):
    _, _, state = checkpoints.load_run(workdir)
    return state.params


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    """The smoke preset trained once for 5, 10 and 20 steps: ``{steps: (workdir, summary)}``,
    shared by the tests that read a finished run (those that change one copy it first)."""
    runs = {}
    for steps in (5, 10, 20):
        workdir = tmp_path_factory.mktemp(f"smoke_{steps}") / "run"
        config = experiment_config("waves", figures__enabled=False, train__num_steps=steps)
        runs[steps] = workdir, train.train_and_evaluate(config, workdir, progress=False)
    return runs


def _copy(run, tmp_path):
    return pathlib.Path(shutil.copytree(run, tmp_path / "run"))


def test_training_the_smoke_preset_lowers_the_held_out_loss(tmp_path, smoke_config):
    before = _held_out_loss_at_init(smoke_config)
    summary = train.train_and_evaluate(smoke_config, tmp_path, progress=False)
    assert summary["test"]["loss"] < 0.98 * before
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()]
    tests = [r for r in records if r["split"] == "test"]
    assert [r["step"] for r in tests] == [10, 20, 30]
    assert json.loads((tmp_path / "config.json").read_text())["model"]["lattice"] == 8


def test_resumed_run_reaches_the_same_parameters_as_an_uninterrupted_one(tmp_path, smoke_config,
                                                                       smoke_runs):
    """N steps, stop, N more steps == 2N steps in one go (same seed, same data order)."""
    smoke_config.train.num_steps = 20
    straight_dir, straight = smoke_runs[20]
    half = experiment_config("waves", figures__enabled=False, train__num_steps=10)
    train.train_and_evaluate(half, tmp_path / "resumed", progress=False)
    resumed = train.train_and_evaluate(smoke_config, tmp_path / "resumed", progress=False)
    assert straight["steps"] == resumed["steps"] == 20
    a, b = _params(straight_dir), _params(tmp_path / "resumed")
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
    lines = (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [
        json.loads(x)["step"] for x in (straight_dir / "metrics.jsonl").open()]


def test_a_run_on_waves_rendered_on_demand_ends_where_the_ordinary_run_does(tmp_path,
                                                                            smoke_config,
                                                                            smoke_runs):
    """data.on_demand renders each batch's rows when asked: the same frames, so the same run."""
    smoke_config.train.num_steps = 10
    _, ordinary = smoke_runs[10]
    smoke_config.data.on_demand = True
    on_demand = train.train_and_evaluate(smoke_config, tmp_path / "on_demand", progress=False)
    assert on_demand["test"]["loss"] == pytest.approx(ordinary["test"]["loss"], rel=1e-5)


def test_a_nan_in_the_data_stops_training_naming_the_step_and_keeps_the_checkpoint(
        tmp_path, smoke_config, monkeypatch):
    real_batch = data.train_batch

    def poisoned(train_split, step, batch_size, seed, rows=slice(None)):
        batch = real_batch(train_split, step, batch_size, seed, rows)
        return batch * np.nan if step == 13 else batch

    monkeypatch.setattr(data, "train_batch", poisoned)
    with pytest.raises(train.NonFiniteLossError, match="at step 13.*checkpoint \\(step 10\\)"):
        train.train_and_evaluate(smoke_config, tmp_path, progress=False)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["10"]
    steps = [json.loads(x)["step"] for x in (tmp_path / "metrics.jsonl").open()]
    assert max(steps) == 10  # nothing logged from the poisoned window


def test_nan_in_the_loaded_data_is_refused_before_training(tmp_path, smoke_config, monkeypatch):
    real_load = data.load

    def with_nan(data_config):
        loaded = real_load(data_config)
        test = loaded.test.copy()
        test[3, 2, 1, 1, 0] = np.nan
        return loaded._replace(test=test)

    monkeypatch.setattr(data, "load", with_nan)
    with pytest.raises(ValueError, match=r"test data contains NaN/Inf in sequence\(s\) \[3\]"):
        train.train_and_evaluate(smoke_config, tmp_path, progress=False)
    assert not (tmp_path / "checkpoints").exists()


def test_unknown_config_key_fails_before_training_and_names_the_key(tmp_path, smoke_config):
    with smoke_config.unlocked():
        smoke_config.model.latice = 16
    with pytest.raises(configs.ConfigError, match="'model.latice'.*did you mean 'model.lattice'"):
        train.train_and_evaluate(smoke_config, tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_wrong_type_and_bad_choice_fail_naming_the_key(smoke_config):
    smoke_config.model.padding = "reflect"
    with pytest.raises(configs.ConfigError, match="'model.padding' must be one of"):
        configs.validate(smoke_config)
    edited = experiment_config("waves").to_dict()  # e.g. a hand-edited config.json
    edited["train"]["batch_size"] = "16"
    with pytest.raises(configs.ConfigError, match="'train.batch_size' must be int"):
        configs.validate(ml_collections.ConfigDict(edited))


def test_a_workdir_refuses_a_different_config(tmp_path, smoke_config, smoke_runs):
    smoke_config.train.num_steps = 5
    workdir = _copy(smoke_runs[5][0], tmp_path)
    smoke_config.model.kernel_size = 5
    with pytest.raises(configs.ConfigError, match="differs at model.kernel_size"):
        train.train_and_evaluate(smoke_config, workdir, progress=False)
    assert (workdir / "checkpoints" / "5").exists()


def test_a_run_another_process_is_training_is_refused_before_anything_is_written(
        tmp_path, smoke_config):
    """Two processes resuming one workdir would write its checkpoints over each other: the
    second is refused before it writes anything (a finished run held by another process:
    tests/test_robustness.py), and the workdir is free again once the holder lets go."""
    workdir = tmp_path / "run"
    with train.exclusive_workdir(workdir):  # a second open file: flock sees another holder
        with pytest.raises(train.RunInUseError, match=r"being trained by another process \(pid"):
            train.train_and_evaluate(smoke_config, workdir, progress=False)
        assert [p.name for p in workdir.iterdir()] == [".train.lock"]
    assert not workdir.exists()  # created for the lock, nothing written: nothing left
    for _ in range(2):  # released on exit, so the next holder gets it
        with train.exclusive_workdir(workdir):
            (workdir / "kept").touch()
    assert [p.name for p in workdir.iterdir()] == ["kept"]  # the lock file goes, work stays


def test_an_interrupted_run_checkpoints_and_resumes_to_the_same_parameters(
        tmp_path, smoke_config, smoke_runs, monkeypatch):
    """Ctrl-C/kill mid-run saves the current step; the same command then finishes the run."""
    smoke_config.train.num_steps = 20
    real_batch = data.train_batch

    def interrupted(train_split, step, batch_size, seed, rows=slice(None)):
        if step == 13:
            raise KeyboardInterrupt
        return real_batch(train_split, step, batch_size, seed, rows)

    monkeypatch.setattr(data, "train_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train.train_and_evaluate(smoke_config, tmp_path / "resumed", progress=False)
    assert (tmp_path / "resumed" / "checkpoints" / "13").is_dir()
    monkeypatch.setattr(data, "train_batch", real_batch)
    train.train_and_evaluate(smoke_config, tmp_path / "resumed", progress=False)
    a, b = _params(smoke_runs[20][0]), _params(tmp_path / "resumed")
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


def test_a_run_written_before_a_field_existed_loads_with_the_default(tmp_path, smoke_runs):
    workdir = _copy(smoke_runs[5][0], tmp_path)
    saved = json.loads((workdir / "config.json").read_text())
    del saved["data"]["test_sequence_length"]  # as if written by an older locornn
    (workdir / "config.json").write_text(json.dumps(saved))
    config, _, state = checkpoints.load_run(workdir)
    assert config.data.test_sequence_length == 0 and int(state.step) == 5
    saved["data"]["lattise"] = 3
    with pytest.raises(configs.ConfigError, match="'data.lattise'"):
        configs.from_dict(saved)


def test_asking_for_fewer_steps_than_the_workdir_holds_is_refused(tmp_path, smoke_config,
                                                                 smoke_runs):
    """A later state is never reported as an earlier budget's (locornn budget reads budgets
    off one run): the checkpoint beyond train.num_steps stops the run, and it is kept."""
    workdir = _copy(smoke_runs[10][0], tmp_path)
    smoke_config.train.num_steps = 5
    with pytest.raises(configs.ConfigError, match="checkpoint at step 10, beyond"):
        train.train_and_evaluate(smoke_config, workdir, progress=False)
    assert (workdir / "checkpoints" / "10").exists()
