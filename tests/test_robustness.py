"""One error path for every command, no half-made runs, and runs that survive a damaged checkpoint.

Specification:
* every command of ``locornn`` given a run directory that is missing, empty or unfinished (a
  config but no checkpoint, or a half-written config) ends in one line on stderr and exit 2,
  and writes no file;
* a start that fails on its data leaves no ``config.json`` (nothing that looks like a run);
* a newest checkpoint that cannot be restored (random bytes over an array file, or over its
  ``_METADATA``) is reported in one line naming the step and the file; training resumes from the
  newest intact checkpoint, reaching the parameters of an uninterrupted run, and moves the
  damaged one to ``damaged_checkpoints/`` (never deleting it); eval says the step it used.
"""

import argparse
import json
import os
import shutil

import jax
import numpy as np
import pytest

from locornn import checkpoints, cli, configs, train
from locornn.data import mnist

WAVES = "waves:smoke"
MNIST = "rotating_mnist:smoke"


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _fails_in_one_line(argv, capsys, folder):
    """Run ``locornn argv``: exit 2, one line on stderr, no file under ``folder`` changed."""
    before = _files(folder)
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, (argv, code, err)
    assert len(err.splitlines()) == 1 and err.startswith("locornn: "), (argv, err)
    assert _files(folder) == before, argv
    return err


# ------------------------------------------------------------------------------------------
# Every command


def _leaf_commands(parser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _leaf_commands(sub, (*prefix, name))
            return
    yield " ".join(prefix)


def _unfinished(run, config_text=None):
    """A run directory as a start cut short leaves it: a config, no checkpoint."""
    run.mkdir(parents=True)
    (run / "config.json").write_text(config_text or configs.load(WAVES).to_json(indent=2))
    return run


def _half_written(run):
    """A run directory whose config.json was cut off while being written."""
    return _unfinished(run, '{"experiment": "waves", "data": {"na')


RUN_STATES = {"missing": lambda run: run, "empty": lambda run: run.mkdir() or run,
              "unfinished": _unfinished, "half-written": _half_written}

# Commands that read one run: every broken state of it is an error.
READS_A_RUN = {
    "eval": lambda run, tmp: ["eval", str(run)],
    "analyze orientation": lambda run, tmp: ["analyze", "orientation", str(run)],
    "analyze waves": lambda run, tmp: ["analyze", "waves", str(run)],
    "analyze state-probe": lambda run, tmp: ["analyze", "state-probe", str(run)],
    "analyze decoder-probe": lambda run, tmp: ["analyze", "decoder-probe", str(run), "--quiet"],
    "analyze coupling": lambda run, tmp: ["analyze", "coupling", str(run)],
    "analyze reach": lambda run, tmp: ["analyze", "reach", str(run)],
    "analyze map-match": lambda run, tmp: ["analyze", "map-match", str(run)],
    "analyze gradient-sharing": lambda run, tmp: ["analyze", "gradient-sharing", str(run)],
    "analyze stability": lambda run, tmp: ["analyze", "stability", "--run", str(run),
                                           "--steps", "4", "--lattice", "2", "--batch", "1",
                                           "--out", str(tmp / "stability.png")],
    "reproduce runs-table": lambda run, tmp: ["reproduce", "runs-table", str(run),
                                              "--out", str(tmp / "runs.md")],
    "reproduce screen": lambda run, tmp: ["reproduce", "screen", "orientation", f"a={run}",
                                          "--out", str(tmp / "screen.md")],
}

# Commands that train what is missing (a missing or empty run directory is simply trained):
# the run directory they would use holds a half-written config.
WHERE = ("--runs-root", "{root}", "--results-dir", "{root}/results")


def _where(root) -> list[str]:
    return [part.format(root=root) for part in WHERE]


TRAINS_MISSING_RUNS = {
    "train": (lambda root: root / "run",
              lambda root: ["train", "--config", WAVES, "--workdir", str(root / "run"),
                            "--quiet"]),
    "reproduce table1": (
        lambda root: root / "hamiltonian" / "smoke" / "mass_spring" / "locornn" / "0",
        lambda root: ["reproduce", "table1", "--config", "hamiltonian:smoke", "--systems",
                      "mass_spring", "--models", "locornn", "--seeds", "0", *_where(root),
                      "--quiet"]),
    "reproduce table1-diagnosis": (
        lambda root: root / "hamiltonian" / "smoke" / "pendulum" / "lstm" / "0",
        lambda root: ["reproduce", "table1-diagnosis", "--config", "hamiltonian:smoke",
                      "--systems", "pendulum", "--models", "lstm", *_where(root), "--quiet"]),
    "reproduce ablation": (
        lambda root: (root / "ablation" / "zero_sum_kv" / "hamiltonian" / "smoke"
                      / "mass_spring" / "locornn" / "0"),
        lambda root: ["reproduce", "ablation", "--config", "hamiltonian:smoke", "--variants",
                      "zero_sum_kv", *_where(root), "--quiet",
                      "--config.data.sequence_length=10",  # fits the smoke data
                      "--config.evaluation.vpt_start=0"]),
    "reproduce budget": (
        lambda root: (root / "budget" / "hamiltonian" / "smoke" / "mass_spring"
                      / "locornn" / "0"),
        lambda root: ["reproduce", "budget", "--config", "hamiltonian:smoke", "--budgets", "5",
                      "--systems", "mass_spring", "--models", "locornn", "--seeds", "0",
                      *_where(root), "--quiet"]),
    "reproduce figure1": (
        lambda root: root / "waves" / "smoke" / "0",
        lambda root: ["reproduce", "figure1", "--preset", "smoke", "--experiments", "waves",
                      *_where(root)]),
    "reproduce waves-table": (
        lambda root: root / "waves" / "smoke" / "0",
        lambda root: ["reproduce", "waves-table", "--preset", "smoke", "--experiments",
                      "waves", *_where(root)]),
    "reproduce figure2": (
        lambda root: root / "orientation" / "smoke" / "0",
        # kernel sizes that fit the smoke preset's 8-site lattice (9 does not: refused first)
        lambda root: ["reproduce", "figure2", "--preset", "smoke", "--kernel-sizes", "3", "5",
                      *_where(root)]),
    "reproduce figure2-screen": (
        lambda root: root / "figure2_screen" / "free_wave" / "waves" / "L8_k3_w4-8" / "0",
        lambda root: ["reproduce", "figure2-screen", "--preset", "smoke", "--recipes",
                      "free_wave", "--seeds", "0", "--train-steps", "4", "--runs-root",
                      str(root), "--out", str(root / "sweep.csv"), "--quiet"]),
    "reproduce phase-screen": (
        lambda root: (root / "phase_screen" / "digits" / "details_off" / "rotating_mnist"
                      / "reference" / "0"),
        lambda root: ["reproduce", "phase-screen", "--sources", "digits", "--variants",
                      "details_off", *_where(root), "--quiet"]),
}

# Commands that take no run: their own missing input.
OTHER_INPUTS = {
    "bench": lambda tmp: ["bench", "--dir", str(tmp / "missing")],
    "data hamiltonian": lambda tmp: ["data", "hamiltonian", "--systems", "pendulum",
                                     "--num-train", "1", "--num-test", "1", "--steps", "2",
                                     "--cache-dir", str(tmp / "a-file"), "--quiet"],
    "data show": lambda tmp: ["data", "show", "--systems", "pendulum", "--suite-dir",
                              str(tmp / "missing"), "--out", str(tmp / "shown")],
    "analyze figure-domains": lambda tmp: ["analyze", "figure-domains", str(tmp / "a-file")],
    "analyze phase-video": lambda tmp: ["analyze", "phase-video", str(tmp / "a-file")],
}


def _all_leaf_commands():
    """Every command the parser has (it builds a group's subcommands only when named)."""
    for top in _leaf_commands(cli.build_parser([])):
        if top in ("reproduce", "analyze", "data"):
            yield from (name for name in _leaf_commands(cli.build_parser([top]))
                        if name.startswith(top + " "))
        else:
            yield top


def test_every_command_is_covered_here():
    covered = {*READS_A_RUN, *TRAINS_MISSING_RUNS, *OTHER_INPUTS}
    assert set(_all_leaf_commands()) == covered


@pytest.mark.parametrize("state", list(RUN_STATES))
@pytest.mark.parametrize("command", list(READS_A_RUN))
def test_a_command_on_a_missing_empty_or_unfinished_run_exits_2_in_one_line(
        tmp_path, capsys, command, state):
    run = RUN_STATES[state](tmp_path / "run")
    err = _fails_in_one_line(READS_A_RUN[command](run, tmp_path), capsys, tmp_path)
    assert "run" in err and str(tmp_path) in err
    assert not (run / "checkpoints").exists()


@pytest.mark.parametrize("command", list(TRAINS_MISSING_RUNS))
def test_a_command_that_finds_a_half_written_run_exits_2_in_one_line(tmp_path, capsys,
                                                                      command):
    where, argv = TRAINS_MISSING_RUNS[command]
    _half_written(where(tmp_path))
    err = _fails_in_one_line(argv(tmp_path), capsys, tmp_path)
    assert "config.json" in err


@pytest.mark.parametrize("command", list(OTHER_INPUTS))
def test_a_command_without_its_input_exits_2_in_one_line(tmp_path, capsys, command):
    (tmp_path / "a-file").write_text("not a folder\n")
    _fails_in_one_line(OTHER_INPUTS[command](tmp_path), capsys, tmp_path)


# ------------------------------------------------------------------------------------------
# No half-made runs


def test_a_start_that_fails_on_its_data_leaves_nothing_that_looks_like_a_run(
        tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 5)
    workdir = tmp_path / "run"
    err = _fails_in_one_line(["train", "--config", MNIST, "--workdir", str(workdir), "--quiet",
                              f"--config.data.mnist_dir={folder}"], capsys, tmp_path)
    assert "lacks" in err
    assert not workdir.exists()


# ------------------------------------------------------------------------------------------
# Damaged checkpoints


def _train(workdir, steps=20):
    return cli.main(["train", "--config", WAVES, "--workdir", str(workdir), "--quiet",
                     f"--config.train.num_steps={steps}", "--config.train.checkpoint_every=10",
                     "--config.figures.enabled=False"])


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A waves smoke run with checkpoints at steps 10 and 20, and its final parameters."""
    workdir = tmp_path_factory.mktemp("finished") / "run"
    assert _train(workdir) == 0
    return workdir, checkpoints.load_run(workdir)[2].params


def _largest_array_file(step_dir):
    files = [p for p in step_dir.rglob("*") if p.is_file() and p.parent.name == "d"]
    return max(files, key=lambda p: p.stat().st_size)


DAMAGE = {
    "array file": _largest_array_file,
    "_METADATA": lambda step_dir: step_dir / "default" / "_METADATA",
}


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")  # no stray traces
@pytest.mark.parametrize("part", list(DAMAGE))
def test_a_damaged_newest_checkpoint_is_reported_moved_aside_and_training_resumes_from_the_last_intact_one(  # noqa: E501
        tmp_path, capsys, finished, part):
    source, uninterrupted = finished
    workdir = tmp_path / "run"
    shutil.copytree(source, workdir)
    damaged = DAMAGE[part](workdir / "checkpoints" / "20")
    garbage = np.random.default_rng(0).bytes(damaged.stat().st_size)
    damaged.write_bytes(garbage)
    capsys.readouterr()

    assert cli.main(["eval", str(workdir)]) == 0  # eval: the intact step, said so
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1])["step"] == 10
    warning = err.strip().splitlines()
    assert len(warning) == 1 and "cannot be restored" in warning[0], err
    assert "step 20" in warning[0] and "using step 10" in warning[0]
    named = damaged.relative_to(workdir) if part == "_METADATA" else \
        damaged.parent.parent.parent.relative_to(workdir)  # the array database holding it
    assert str(named) in warning[0]
    assert (workdir / "checkpoints" / "20").exists()  # eval moves nothing

    assert _train(workdir) == 0  # resume: from step 10, to step 20 again
    err = capsys.readouterr().err
    assert "moved it to damaged_checkpoints/20" in err
    kept = workdir / "damaged_checkpoints" / "20"
    assert (kept / damaged.relative_to(workdir / "checkpoints" / "20")).read_bytes() == garbage
    assert checkpoints.saved_steps(workdir) == [10, 20]
    resumed = checkpoints.load_run(workdir)[2].params
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(uninterrupted), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_run_none_of_whose_checkpoints_restores_stops_in_one_line_and_moves_nothing(
        tmp_path, capsys, finished):
    workdir = tmp_path / "run"
    shutil.copytree(finished[0], workdir)
    for step in (10, 20):
        path = workdir / "checkpoints" / str(step) / "default" / "_METADATA"
        path.write_bytes(os.urandom(path.stat().st_size))
    err = _fails_in_one_line(["eval", str(workdir)], capsys, tmp_path)
    assert "no checkpoint" in err and "step 20" in err
    _fails_in_one_line(["train", "--config", WAVES, "--workdir", str(workdir), "--quiet",
                        "--config.train.num_steps=20", "--config.train.checkpoint_every=10",
                        "--config.figures.enabled=False"], capsys, tmp_path)
    assert checkpoints.saved_steps(workdir) == [10, 20]
    assert not (workdir / "damaged_checkpoints").exists()


def test_training_a_run_another_process_holds_stops_in_one_line_and_changes_nothing(
        tmp_path, capsys, finished):
    workdir = tmp_path / "run"
    shutil.copytree(finished[0], workdir)
    with train.exclusive_workdir(workdir):
        err = _fails_in_one_line(["train", "--config", WAVES, "--workdir", str(workdir),
                                  "--quiet", "--config.train.num_steps=30",
                                  "--config.train.checkpoint_every=10",
                                  "--config.figures.enabled=False"], capsys, tmp_path)
    assert "another process" in err and str(workdir) in err
    assert checkpoints.saved_steps(workdir) == [10, 20]
