"""Data-parallel training over several devices (4 or 8 simulated CPU devices, in subprocesses) gives
the numbers of one device; a checkpoint moves between device counts; a batch that cannot be
split is refused before anything is written. The one-device side of each comparison runs in
this (pytest's) process, which has one CPU device, while the several-device process runs."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from locornn import cli
from tests.conftest import ROOT, experiment_config

WAVES = "waves"
pytestmark = pytest.mark.slow  # each case starts fresh processes (~5 s each on 2 cores)


def train_argv(workdir, *overrides: str) -> list[str]:
    return ["train", "--config", f"{WAVES}:smoke", "--workdir", str(workdir), "--quiet",
            "--config.figures.enabled=False", *overrides]


def start(argv: list[str], devices: int) -> subprocess.Popen:
    """``python argv`` started in a fresh process on ``devices`` simulated CPU devices (from the
    repository root), to run while this process does its own part."""
    env = {**os.environ, "MPLBACKEND": "Agg", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    return subprocess.Popen([sys.executable, *argv], env=env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = process.communicate(timeout=600)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def start_train(workdir, devices: int, *overrides: str) -> subprocess.Popen:
    """``locornn train``, started on ``devices`` simulated CPU devices."""
    return start(["-m", "locornn", *train_argv(workdir, *overrides)], devices)


def train(workdir, devices: int, *overrides: str) -> subprocess.CompletedProcess:
    return finish(start_train(workdir, devices, *overrides))


def train_on_one_device(workdir, *overrides: str) -> None:
    """``locornn train`` in this process: its one CPU device."""
    assert cli.main(train_argv(workdir, *overrides)) == 0


def start_measure(measure, devices: int, workdir) -> subprocess.Popen:
    """``measure(workdir)`` (a function of this module), started on ``devices`` simulated CPU
    devices; :func:`measured` reads what it returns."""
    script = ("import json, sys\n"
              f"from tests.test_sharding import {measure.__name__}\n"
              f"print(json.dumps({measure.__name__}(sys.argv[1])))\n")
    return start(["-c", script, str(workdir)], devices)


def measured(done: subprocess.CompletedProcess) -> dict:
    """What the finished :func:`start_measure` process's function returned."""
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def on_one_device(measure, workdir) -> dict:
    """``measure(workdir)`` in this process (one CPU device), through JSON like
    :func:`measured`."""
    return json.loads(json.dumps(measure(str(workdir))))


def summary(workdir) -> dict:
    return json.loads((workdir / "summary.json").read_text())


def vpt_run(workdir: str) -> dict:
    """A 4-step Hamiltonian smoke run with 6 held-out trajectories on this process's devices:
    how 6 rows split over them, and the run's held-out VPT, MSE and free decay."""
    import numpy as np

    from locornn import sharding
    from locornn import train as training

    mesh = sharding.local_mesh()
    padded, rows = sharding.split_evenly(np.arange(6.0).reshape(6, 1), mesh)
    config = experiment_config("hamiltonian", figures__enabled=False, data__num_test=6,
                               train__num_steps=4, train__eval_every=4,
                               train__checkpoint_every=4)
    result = training.train_and_evaluate(config, workdir, progress=False)
    per_trajectory = json.loads(open(workdir + "/vpt.json").read())["per_trajectory"]
    return {"devices": mesh.size, "padded": list(padded.shape), "rows": rows,
            "spread": len(padded.sharding.device_set), "vpt": result["test"]["vpt"],
            "mse": result["test"]["mse"], "core": result["test"]["core"],
            "per_trajectory": per_trajectory}


def on_four_devices(root: str) -> dict:
    """The 4-device side of this module's comparisons, in one process (each fresh process
    costs seconds of start-up): the smoke run trained for 10 steps by ``locornn train`` into
    ``root/ten_steps``, and :func:`vpt_run` into ``root/vpt``."""
    root = pathlib.Path(root)
    assert cli.main(train_argv(root / "ten_steps", "--config.train.num_steps=10")) == 0
    return {"vpt": vpt_run(str(root / "vpt"))}


@pytest.fixture(scope="module")
def four_and_one(tmp_path_factory):
    """:func:`on_four_devices` on 4 devices, and the same on one: in this process, while the
    other runs. ``{devices: folder}`` and ``{devices: vpt_run's result}``."""
    root = tmp_path_factory.mktemp("four-and-one")
    four = start_measure(on_four_devices, 4, root / "4")
    try:
        train_on_one_device(root / "1" / "ten_steps", "--config.train.num_steps=10")
        one = on_one_device(vpt_run, root / "1" / "vpt")
    finally:
        four = finish(four)
    return {4: root / "4", 1: root / "1"}, {4: measured(four)["vpt"], 1: one}


@pytest.fixture(scope="module")
def ten_steps(four_and_one):
    """The smoke run trained for 10 steps on 4 devices and on 1 (shared by the tests below)."""
    folders, _ = four_and_one
    return {devices: folder / "ten_steps" for devices, folder in folders.items()}


def test_four_devices_give_the_held_out_loss_of_one(ten_steps):
    four, one = summary(ten_steps[4]), summary(ten_steps[1])
    assert (four["devices"], one["devices"]) == (4, 1)
    assert four["test"]["loss"] == pytest.approx(one["test"]["loss"], rel=1e-5)


def test_a_checkpoint_written_on_four_devices_resumes_on_one(ten_steps, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(ten_steps[4], moved)
    train_on_one_device(moved, "--config.train.num_steps=20")
    train_on_one_device(tmp_path / "one", "--config.train.num_steps=20")
    assert summary(moved)["steps"] == 20 and summary(moved)["devices"] == 1
    assert summary(moved)["test"]["loss"] == pytest.approx(
        summary(tmp_path / "one")["test"]["loss"], rel=1e-5)


def test_a_batch_that_does_not_split_over_the_devices_is_refused(tmp_path):
    done = train(tmp_path / "run", 3)  # the smoke batch is 8
    err = done.stderr.strip()
    assert done.returncode == 2 and len(err.splitlines()) == 1
    assert "'train.batch_size' (8) must be divisible by the 3 devices" in err
    assert not (tmp_path / "run").exists()  # refused before anything was written


def vmapped_seeds(root: str) -> dict:
    """Seeds 0 and 1 of a 6-step smoke run trained at once on this process's devices: the
    mesh and each seed's held-out loss."""
    from locornn import sharding
    from locornn.reproduce import seeds

    config = experiment_config("waves", figures__enabled=False, train__num_steps=6,
                               train__log_every=3)
    mesh = sharding.seeds_mesh(2)
    summaries = seeds.train_seeds(config, (0, 1), root=root, progress=False)
    return {"mesh": dict(mesh.shape), "loss": [s["test"]["loss"] for s in summaries]}


def test_vmapped_seeds_on_a_data_by_seeds_mesh_match_one_device(tmp_path):
    """8 devices, 2 seeds: a 4 x 2 (data x seeds) mesh; each seed's held-out loss is the one
    it reaches on one device."""
    eight = start_measure(vmapped_seeds, 8, tmp_path / "8")
    try:
        one = on_one_device(vmapped_seeds, tmp_path / "1")
    finally:
        eight = finish(eight)
    results = {8: measured(eight), 1: one}
    assert results[8]["mesh"] == {"data": 4, "seeds": 2}
    assert results[1]["mesh"] == {"data": 1, "seeds": 1}
    assert results[8]["loss"] == pytest.approx(results[1]["loss"], rel=1e-5)


def test_two_processes_with_jax_distributed_train_like_one(ten_steps, tmp_path):
    """Two local processes (jax.distributed over gloo, one CPU device each) train one run in a
    shared workdir: process 0 writes it, and its held-out loss is the one-process loss."""
    import socket

    with socket.socket() as probe:  # a free port for the coordinator
        probe.bind(("localhost", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "locornn",
               *train_argv(tmp_path / "two", "--config.train.num_steps=10")]
    workers = []
    for index in range(2):
        env = {**os.environ, "MPLBACKEND": "Agg", "JAX_PLATFORMS": "cpu",
               "XLA_FLAGS": "--xla_force_host_platform_device_count=1",
               "LOCORNN_COORDINATOR": f"localhost:{port}", "LOCORNN_NUM_PROCESSES": "2",
               "LOCORNN_PROCESS_ID": str(index)}
        workers.append(subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err[-2000:]
    two = summary(tmp_path / "two")
    assert two["devices"] == 2 and two["steps"] == 10
    assert two["test"]["loss"] == pytest.approx(summary(ten_steps[1])["test"]["loss"],
                                                rel=1e-5)


def test_vpt_is_computed_with_the_test_trajectories_split_over_the_devices(four_and_one):
    """4 devices: 6 held-out trajectories go out as chunks of 4 and 2 (padded to 4); each
    trajectory's VPT and the held-out MSE are those of one device."""
    _, vpt = four_and_one
    four, one = vpt[4], vpt[1]
    assert (four["devices"], four["padded"], four["rows"], four["spread"]) == (4, [8, 1], 6, 4)
    assert (one["devices"], one["padded"], one["spread"]) == (1, [6, 1], 1)
    assert len(four["per_trajectory"]) == 6
    assert four["per_trajectory"] == one["per_trajectory"]
    assert four["mse"] == pytest.approx(one["mse"], rel=1e-5)
    # the free decay starts from every trajectory's inferred state, padding rows dropped
    assert four["core"].keys() == one["core"].keys()
    for key, value in one["core"].items():
        assert four["core"][key] == (value if value is None else pytest.approx(value, rel=1e-5))
