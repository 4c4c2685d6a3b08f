"""Several seeds of one config trained in one process with ``jax.vmap`` (how TPU users batch runs).

The seeds' train states are stacked along a leading axis and one jitted, vmapped train step
updates all of them; each seed keeps its own initialisation and its own batch order (the same
batches as a separate ``train_and_evaluate`` run with that seed). At the end every seed is
written as an ordinary finished run (config.json, metrics.jsonl, checkpoint, summary.json,
figures) in ``default_workdir``, so ``locornn reproduce table1`` and ``locornn eval`` treat them
like any other run. A vmapped group is not resumable mid-way: an interrupted group starts again
(runs already finished are reused by the table).

On an accelerator it fills the device with several small models at once. On XLA:CPU it saves
compilation only and costs time: the batched matrix products run slower than separate ones
(measured with ``benchmarks/bench_forecast.py``, 2 cores, Table 1 cpu preset: 3 vmapped seeds
cost 1.1x to 1.55x three separate runs' steps, depending on the core), so the cpu table trains
seeds one by one.
"""

from __future__ import annotations

import contextlib
import pathlib
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from tqdm.auto import tqdm

from locornn import configs, run_log, sharding, tasks, train
from locornn.optim import create_train_state


def _with_seed(config: ml_collections.ConfigDict, seed: int) -> ml_collections.ConfigDict:
    config = config.copy_and_resolve_references()
    config.seed = seed
    return config


def train_seeds(config: ml_collections.ConfigDict, seeds, *, root="runs",
                progress: bool = True) -> list[dict]:
    """Train ``config`` for every seed in ``seeds`` at once; return their summaries."""
    configs.validate(config)
    mesh = sharding.seeds_mesh(len(seeds))  # (data, seeds) over all devices
    sharding.check_batch(config.train.batch_size, mesh)  # before anything is written
    runs = [_with_seed(config, seed) for seed in seeds]
    workdirs = [train.default_workdir(c, root).absolute() for c in runs]
    for run, workdir in zip(runs, workdirs, strict=True):
        train.require_same_config(run, workdir)
    with contextlib.ExitStack() as held:  # every seed's workdir, for the whole training
        for workdir in workdirs:
            held.enter_context(train.exclusive_workdir(workdir))
        return _train_held(config, seeds, runs, workdirs, mesh, progress)


def _train_held(config, seeds, runs, workdirs, mesh, progress: bool) -> list[dict]:
    seed_tasks = [tasks.build_task(run) for run in runs]
    for run, workdir, task in zip(runs, workdirs, seed_tasks, strict=True):
        train._claim_workdir(run, workdir, task)  # once its data loaded
    states = [create_train_state(run, task) for run, task in zip(runs, seed_tasks,
                                                                        strict=True)]
    # One model and optimiser object for all (the seeds differ only in arrays), then stack.
    states = [s.replace(apply_fn=states[0].apply_fn, tx=states[0].tx) for s in states]
    step_all, per_seed, batches = sharding.stacked_step(
        train.make_train_step(seed_tasks[0], jit=False), mesh)
    stacked = jax.device_put(jax.tree.map(lambda *leaves: jnp.stack(leaves), *states), per_seed)
    tc, history = config.train, []
    start = time.perf_counter()
    for step in tqdm(range(tc.num_steps), unit="step", disable=not progress,
                     desc=f"{config.experiment} seeds {list(seeds)}"):
        batch = np.stack([task.train_batch(step) for task in seed_tasks])
        stacked, step_metrics = step_all(stacked, jax.device_put(batch, batches))
        if (step + 1) % tc.log_every == 0 or step + 1 == tc.num_steps:
            history.append((step + 1, jax.device_get(step_metrics)))
            _check_finite(history[-1], seeds)
    seconds = (time.perf_counter() - start) / len(seeds)
    summaries = []
    for i, (run, task, workdir) in enumerate(zip(runs, seed_tasks, workdirs, strict=True)):
        state = jax.tree.map(lambda leaf, i=i: leaf[i], stacked)
        _write_metrics(workdir, history, i)
        with ocp.CheckpointManager(workdir / "checkpoints",
                                   options=ocp.CheckpointManagerOptions(create=True)) as manager:
            manager.save(int(state.step), args=ocp.args.StandardSave(state))
            manager.wait_until_finished()
        summaries.append(train.finish_run(run, task, state, workdir, seconds,
                                          devices=mesh.size))
    return summaries


def _check_finite(record, seeds) -> None:
    step, values = record
    for i, seed in enumerate(seeds):
        if not all(np.isfinite(values[key][i]) for key in values):
            raise train.NonFiniteLossError(
                f"seed {seed}: loss became {values['loss'][i]} by step {step} (vmapped group); "
                f"train this seed alone to locate the step")


def _write_metrics(workdir: pathlib.Path, history, index: int) -> None:
    with run_log.RunLog(workdir, purge_step=0, mode="w") as sink:
        for step, values in history:
            record = {key: float(values[key][index]) for key in values}
            sink.write({"step": step, "split": "train", **record})
