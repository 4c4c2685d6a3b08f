"""Training: ``train_and_evaluate(config, workdir)``, in the layout of the Flax examples.

What a run writes to ``workdir`` (:func:`default_workdir` from the CLI):

* ``config.json``: the resolved config. A workdir is tied to one config: starting again with
  a different one stops with an error instead of mixing two runs (only ``train.num_steps`` and
  ``figures.*`` may change, to train further or redraw). It is written only once the data has
  loaded, so a start that fails leaves no ``config.json`` behind.
* ``data.json``: what the run trains on (:mod:`locornn.data.fingerprint`): kind, path and a
  content fingerprint. A workdir is tied to its data too: resuming on other data (another
  MNIST folder, the built-in digits instead of MNIST) stops with an error.
* ``metrics.jsonl``: one JSON object per line, ``{"step", "split": "train"|"test"|"probe", ...}``;
  test and probe records are on the held-out split, never on training data.
* ``events.out.tfevents.*``: the same numbers, the held-out results and the figures for
  TensorBoard (``tensorboard --logdir runs``; :mod:`locornn.run_log`).
* ``checkpoints/<step>/``: orbax checkpoints of the train state (params, optimiser state, step)
  every ``train.checkpoint_every`` steps, at the end, and when interrupted.
* ``summary.json``, ``loss.png``, ``figure1.png``, ``hidden.gif`` after training.

One process per run: training holds ``workdir`` (:func:`exclusive_workdir`, an ``flock``), so
a second process started on the same run stops at once with :class:`RunInUseError`.

Resume: a run that finds checkpoints continues from the newest one that restores; a newer
damaged one is reported in one line and moved to ``damaged_checkpoints/``
(:func:`locornn.checkpoints.restore_newest_intact`). Batches are a pure function of
``(seed, step)`` (:func:`locornn.data.train_batch`), so an interrupted and resumed run reaches the
same parameters as an uninterrupted one. Ctrl-C or SIGTERM saves a checkpoint and exits.

Devices: the train step runs on every visible device, the batch split over a ``data`` mesh
axis and the state replicated (:mod:`locornn.sharding`); one device is the same program.

Non-finite loss: the loop checks every step's loss and gradient norm at each log/checkpoint
boundary; on the first NaN/Inf it raises :class:`NonFiniteLossError` naming the step, and no
checkpoint is ever written after it, so the last good one is kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import pathlib
import signal
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from tqdm.auto import tqdm

from locornn import checkpoints, configs, plots, run_log, sharding, tasks
from locornn.analysis.after_training import AFTER_TRAINING
from locornn.data import fingerprint
from locornn.optim import TrainState, create_train_state

# Fields that may differ between a workdir's saved config and a resumed run.
RESUMABLE_CHANGES = ("train.num_steps", "figures.")


def default_workdir(config: ml_collections.ConfigDict, root="runs") -> pathlib.Path:
    """``runs/<experiment>/<preset>/<seed>``; forecasting runs also by system and model
    (``runs/hamiltonian/<preset>/<system>/<model>/<seed>``), so Table 1 reuses them."""
    path = pathlib.Path(root) / config.experiment / config.preset
    if config.data.name == "hamiltonian":
        path = path / config.data.system / config.model.kind
    return path / str(config.seed)


class NonFiniteLossError(RuntimeError):
    """The training loss or gradient became NaN/Inf."""


class RunInUseError(RuntimeError):
    """Another process is training the same workdir."""


@contextlib.contextmanager
def exclusive_workdir(workdir: pathlib.Path):
    """Hold ``workdir`` for one training process: two processes resuming the same run would
    write the same checkpoints and metrics over each other.

    The lock is ``flock`` on ``workdir/.train.lock``, which records the holder's pid for the
    message. The kernel releases it when the process ends, so a killed run leaves no stale
    lock; a clean exit removes the file, and the workdir too if this call created it and
    nothing was written (a start that failed leaves nothing behind).

    Raises:
      RunInUseError: another process holds the workdir (before anything is written).
    """
    created = not workdir.exists()
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / ".train.lock"
    while True:
        handle = open(path, "a+")  # held open (and locked) for the whole block
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunInUseError(f"{workdir} is being trained by another process (pid {holder}); "
                                f"wait for it to finish or stop it, then run again to resume"
                                ) from None
        if path.exists() and path.stat().st_ino == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()  # the holder removed the file as we locked it: lock the new one
    try:
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        path.unlink(missing_ok=True)  # while still held, so no one locks a removed file
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
        if created and not any(workdir.iterdir()):
            workdir.rmdir()


def make_train_step(task: tasks.Task, *, jit: bool = True) -> Callable:
    """``(state, batch) -> (state, {"loss", "grad_norm"})``, jitted unless ``jit=False`` (to
    transform it further, e.g. ``jax.vmap`` over seeds in :mod:`locornn.reproduce.seeds`)."""
    def train_step(state: TrainState, batch: jax.Array):
        loss, grads = jax.value_and_grad(task.loss)(state.params, batch, state.step)
        return state.apply_gradients(grads=grads), {"loss": loss,
                                                    "grad_norm": optax.tree.norm(grads)}

    return jax.jit(train_step) if jit else train_step


# ------------------------------------------------------------------------------------------
# Workdir bookkeeping


def _flat(config) -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in _flat(value).items()})
        else:
            out[key] = value
    return out


def config_changes(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> list[str]:
    """Config keys at which the run in ``workdir`` differs from ``config`` ([] if no run there).

    The saved config is read with :func:`configs.from_dict`, so a key added after the run was
    written counts as its default (what that run used). Keys a resume may change
    (``train.num_steps``, ``figures.*``) are not reported.
    """
    path = pathlib.Path(workdir) / "config.json"
    if not path.exists():
        return []
    saved = _flat(json.loads(checkpoints.read_config(workdir).to_json()))
    now = _flat(json.loads(config.to_json()))
    return sorted(k for k in set(saved) | set(now)
                  if saved.get(k) != now.get(k) and not k.startswith(RESUMABLE_CHANGES))


def require_same_config(config: ml_collections.ConfigDict, workdir: pathlib.Path,
                        advice: str = "use another workdir or remove this one") -> None:
    """Raise :class:`configs.ConfigError` naming the differing keys if ``workdir`` holds a run
    of another config (see :func:`config_changes`); ``advice`` ends the message."""
    changed = config_changes(config, workdir)
    if changed:
        raise configs.ConfigError(
            f"{workdir} holds a run with a different config (differs at {', '.join(changed)}); "
            f"{advice}")


def _claim_workdir(config: ml_collections.ConfigDict, workdir: pathlib.Path,
                   task: tasks.Task) -> None:
    """Check that a run already in ``workdir`` trained on this task's data, then write
    data.json and (last: it marks a run) config.json."""
    recorded = fingerprint.require_same_data(
        workdir, task.data, "train on this data in another workdir, or restore the data the run "
        "was trained on (e.g. LOCORNN_MNIST_DIR or data.* as when it started)")
    if recorded is None and (workdir / "config.json").exists():
        checkpoints.warn(f"{workdir} has no record of its data (written by an older locornn); "
                         f"recording {fingerprint.describe(task.data)}")
    workdir.mkdir(parents=True, exist_ok=True)
    fingerprint.write_record(workdir, task.data)
    (workdir / "config.json").write_text(config.to_json(indent=2) + "\n")


def _truncate_metrics(path: pathlib.Path, step: int) -> None:
    """Drop records beyond the restored checkpoint: the resumed run writes them again."""
    if path.exists():
        keep = [r for r in plots.read_metrics(path) if r["step"] <= step]
        path.write_text("".join(json.dumps(r) + "\n" for r in keep))


class _Interrupts:
    """Turn SIGTERM into KeyboardInterrupt while training, so kill and Ctrl-C both checkpoint."""

    def __enter__(self):
        self.previous = signal.getsignal(signal.SIGTERM)
        try:
            signal.signal(signal.SIGTERM, self._raise)
        except ValueError:  # not the main thread: leave signals alone
            self.previous = None
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


# ------------------------------------------------------------------------------------------


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
                       *, progress: bool = True) -> dict:
    """Train ``config`` in ``workdir`` (resuming if it holds checkpoints); return the summary.

    Raises:
      configs.ConfigError: unknown key, wrong type, or a workdir that holds another run.
      NonFiniteLossError: the loss or gradients became NaN/Inf (the message names the step).
      RunInUseError: another process is training ``workdir`` (:func:`exclusive_workdir`).
    """
    configs.validate(config)
    sharding.initialize_distributed(config.distributed)  # before anything touches a device
    mesh = sharding.data_mesh()
    sharding.check_batch(config.train.batch_size, mesh)  # before anything is written
    primary = sharding.is_primary()  # one process writes; all compute
    progress = progress and primary
    workdir = pathlib.Path(workdir).absolute()
    if primary:  # before the data loads: a run of another config there is refused at once
        require_same_config(config, workdir)
    with exclusive_workdir(workdir) if primary else contextlib.nullcontext():
        return _train(config, workdir, mesh, primary, progress)


def _train(config, workdir: pathlib.Path, mesh, primary: bool, progress: bool) -> dict:
    """:func:`train_and_evaluate` once the config is checked and the workdir held."""
    log = tqdm.write if progress else (lambda *_: None)

    task = tasks.build_task(config, progress=progress)  # --quiet silences data generation too
    if primary:
        _claim_workdir(config, workdir, task)
    state = sharding.place_state(create_train_state(config, task), mesh)
    num_params = sum(x.size for x in jax.tree.leaves(state.params))
    log(f"locornn: {config.experiment}/{config.preset} seed {config.seed}: "
        f"{config.model.kind} with {num_params:,} parameters; data: {task.source}; "
        f"{mesh.size} device(s) ({jax.devices()[0].platform}, batch split over 'data'); "
        f"workdir {workdir}")

    manager = ocp.CheckpointManager(
        workdir / "checkpoints",
        options=ocp.CheckpointManagerOptions(max_to_keep=config.train.max_checkpoints,
                                             create=True))
    metrics_path = workdir / "metrics.jsonl"
    latest = manager.latest_step()
    if latest is not None and latest > config.train.num_steps:
        manager.close()  # never report a later state as this budget's
        raise configs.ConfigError(
            f"{workdir} holds a checkpoint at step {latest}, beyond train.num_steps = "
            f"{config.train.num_steps}; use another workdir or ask for >= {latest} steps")
    if latest is not None:
        try:
            state, latest = checkpoints.restore_newest_intact(manager, state, workdir,
                                                              move_aside=primary)
        except checkpoints.CheckpointError:
            manager.close()
            raise
    if latest is not None:
        if primary:
            _truncate_metrics(metrics_path, latest)
        log(f"locornn: resuming from checkpoint at step {latest}")
    elif primary:
        _truncate_metrics(metrics_path, -1)

    step_on_mesh = sharding.sharded_step(make_train_step(task, jit=False), mesh)

    def train_step(state, step):  # each process builds only its devices' rows of the batch
        batch = sharding.build_batch(lambda rows: task.train_batch(step, rows),
                                     config.train.batch_size, mesh)
        return step_on_mesh(state, batch)

    start, total = int(state.step), config.train.num_steps
    wall_start = time.perf_counter()
    # TensorBoard hides the events after the checkpoint resumed from (dropped from metrics.jsonl
    # above); a run started afresh hides all older ones
    purge_step = start + 1 if start else 0
    try:
        with _Interrupts(), run_log.RunLog(workdir if primary else None,
                                           purge_step=purge_step) as sink:
            state = _loop(config, state, task, train_step, manager, sink, start, total,
                          progress)
    except KeyboardInterrupt:
        manager.wait_until_finished()
        log(f"locornn: interrupted; the latest checkpoint is step {manager.latest_step()}. "
            f"Run the same command again to resume.")
        raise
    finally:  # whatever happens, finish writing the checkpoints already started
        manager.wait_until_finished()
        manager.close()

    if not primary:  # process 0 evaluates, draws and writes the summary on its own copy
        return {}
    summary = finish_run(config, task, sharding.local_copy(state), workdir,
                         time.perf_counter() - wall_start, devices=mesh.size)
    held_out = ", ".join(f"{k} {v:.4g}" for k, v in summary["test"].items()
                         if isinstance(v, (int, float)))
    log(f"locornn: done. held-out {held_out}; wrote {workdir}")
    return summary


def finish_run(config, task: tasks.Task, state: TrainState, workdir: pathlib.Path,
               seconds: float, devices: int = 1) -> dict:
    """Held-out evaluation, figures and analyses of a trained state; writes summary.json."""
    summary = {"experiment": config.experiment, "preset": config.preset, "seed": config.seed,
               "model": config.model.kind, "devices": devices,
               "num_params": int(sum(x.size for x in jax.tree.leaves(state.params))),
               "data_source": task.source, "data": task.data, "steps": int(state.step),
               "train_seconds_this_session": seconds,
               "test": task.final(state.params, workdir)}
    if config.figures.enabled:
        write_figures(config, task, state.params, workdir)
    for name, analyse in AFTER_TRAINING.items():  # as the experiment's analysis.* flags say
        if config.analysis.get(name):
            summary[name] = analyse(config, workdir)
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    run_log.write_summary_events(workdir, summary["steps"], summary)
    return summary


def _loop(config, state, task, train_step, manager, sink, start, total, progress):
    """The training loop proper (see the module docstring for its guarantees)."""
    tc = config.train
    pending = []  # (step, device metrics) not yet checked for finiteness
    window_start, window_steps = time.perf_counter(), 0

    def flush(step_done: int) -> dict:
        """Check and log the pending steps; raise on the first non-finite one."""
        nonlocal pending, window_start, window_steps
        host = jax.device_get(pending)
        pending = []
        for step, values in host:
            if not all(math.isfinite(float(v)) for v in values.values()):
                raise NonFiniteLossError(
                    f"loss became {float(values['loss'])} (gradient norm "
                    f"{float(values['grad_norm'])}) at step {step}; stopping. The last good "
                    f"checkpoint (step {manager.latest_step()}) is kept in {manager.directory}. "
                    f"Check the data for NaN/Inf, or lower train.learning_rate / set "
                    f"train.clip_norm.")
        last = {k: float(v) for k, v in host[-1][1].items()} if host else {}
        rate = window_steps / max(time.perf_counter() - window_start, 1e-9)
        window_start, window_steps = time.perf_counter(), 0
        if last:
            sink.write({"step": step_done, "split": "train", **last, "steps_per_second": rate})
        return last

    if start == 0 and task.probe is not None:  # the untrained network, for comparison
        probed = task.probe(sharding.local_copy(state.params))
        sink.write({"step": 0, "split": "probe", **probed})
    with tqdm(total=total, initial=start, unit="step", disable=not progress,
              dynamic_ncols=True, desc=config.experiment) as bar:
        step = start
        try:
            for step in range(start, total):
                state, step_metrics = train_step(state, step)
                pending.append((step, step_metrics))
                window_steps += 1
                done = step + 1
                evaluate_now = done % tc.eval_every == 0 or done == total
                save_now = done % tc.checkpoint_every == 0 or done == total
                if done % tc.log_every == 0 or evaluate_now or save_now:
                    last = flush(done)
                    bar.set_postfix(loss=f"{last['loss']:.4g}")
                if evaluate_now:  # on each process's own devices (sharding.local_mesh)
                    params = sharding.local_copy(state.params)
                    held_out = task.evaluate(params)
                    sink.write({"step": done, "split": "test", **held_out})
                    bar.set_postfix(loss=f"{last['loss']:.4g}", test=f"{held_out['loss']:.4g}")
                    if task.probe is not None:
                        probed = task.probe(params)
                        sink.write({"step": done, "split": "probe", **probed})
                if save_now:
                    manager.save(done, args=ocp.args.StandardSave(state))
                if evaluate_now or save_now:  # keep steps/s a measure of training alone
                    window_start = time.perf_counter()
                bar.update(1)
        except KeyboardInterrupt:
            _save_if_finite(manager, state)
            raise
    return state


def _save_if_finite(manager, state) -> None:
    """On interrupt: checkpoint the current state, unless it is already saved or not finite."""
    step = int(state.step)
    finite = all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(state.params))
    if finite and step != manager.latest_step():
        manager.save(step, args=ocp.args.StandardSave(state), force=True)


def write_figures(config, task: tasks.Task, params, workdir: pathlib.Path) -> None:
    """loss.png, figure1.png and hidden.gif of one held-out sequence."""
    plots.loss_curve(plots.read_metrics(workdir / "metrics.jsonl"), workdir / "loss.png")
    sequence = task.figure_sequence
    out = jax.jit(task.model.apply)({"params": params}, jnp.asarray(sequence))
    frames, z, prediction = sequence[0], np.asarray(out["z"][0]), np.asarray(out["prediction"][0])
    title = f"{config.experiment} ({config.model.kind}, held-out sequence)"
    plots.figure1(frames, z, prediction, workdir / "figure1.png",
                  num_frames=config.figures.num_frames, title=title, shift=task.prediction_shift)
    plots.hidden_gif(frames, z, prediction, workdir / "hidden.gif", shift=task.prediction_shift)
