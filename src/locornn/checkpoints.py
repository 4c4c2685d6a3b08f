"""A finished (or interrupted) run read back: ``load_run(workdir)``; damaged checkpoints.

Downstream of training and upstream of analysis: figures and analyses load runs through here,
never through :mod:`locornn.train`.

A run is bound to its data: :func:`load_run` refuses (:class:`~locornn.data.fingerprint.
DataMismatch`) a run whose data found now differs from the record in its ``data.json``, unless
asked to evaluate on other data on purpose (``data_override``).

A checkpoint that orbax cannot restore (a damaged array file, unreadable metadata) is reported
in one line naming its step, the file and why; the newest checkpoint that restores is used
instead (:func:`restore_newest_intact`). Training moves the damaged ones aside to
``damaged_checkpoints/<step>`` (never deleting them); when no checkpoint restores, nothing is
moved and :class:`CheckpointError` says so.
"""

from __future__ import annotations

import ast
import gc
import json
import pathlib
import re
import shutil
import sys

import ml_collections
import orbax.checkpoint as ocp

from locornn import configs, tasks
from locornn.data import fingerprint
from locornn.optim import create_train_state

CHECKPOINTS = "checkpoints"
DAMAGED = "damaged_checkpoints"
_READING = ocp.CheckpointManagerOptions(create=False)  # reading a run never creates folders


class CheckpointError(ValueError):
    """None of a run's checkpoints can be restored."""


def warn(message: str) -> None:
    """One line on stderr (shown with ``--quiet`` too: damage is never silent)."""
    print(f"locornn: warning: {message}", file=sys.stderr, flush=True)


def read_config(workdir: pathlib.Path) -> ml_collections.ConfigDict:
    """The config of the run in ``workdir``; FileNotFoundError / ConfigError in one line."""
    path = pathlib.Path(workdir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{workdir} is not a run directory (no config.json); pass a "
                                f"directory written by `locornn train`")
    try:
        values = json.loads(path.read_text())
        if not isinstance(values, dict):
            raise ValueError(f"a JSON {type(values).__name__}, not an object")
        return configs.from_dict(values)
    except configs.ConfigError as error:
        raise configs.ConfigError(f"{path}: {error}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise configs.ConfigError(f"{path} is not a readable run config ({error}); remove the "
                                  f"run directory or use another one") from None


def saved_steps(workdir: pathlib.Path) -> list[int]:
    """Steps with a finished checkpoint, oldest first, read without creating anything."""
    folder = pathlib.Path(workdir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    with ocp.CheckpointManager(folder, options=_READING) as manager:
        return sorted(manager.all_steps())


def _why(error: BaseException) -> str:
    """The most specific message in an exception chain, on one line."""
    chain = [error]
    while chain[-1].__cause__ or chain[-1].__context__:
        chain.append(chain[-1].__cause__ or chain[-1].__context__)
    messages = [" ".join(str(e).split()) for e in chain]
    specific = [m for m in messages if m and "TensorStore(" not in m and "<bound method" not in m]
    message = (specific or messages)[-1] or type(error).__name__
    return message if len(message) <= 300 else message[:297] + "..."


_TENSORSTORE = re.compile(r'Error reading "(?P<key>[^"]+)" in OCDBT database at local file '
                          r'"(?P<path>[^"]+)": (?P<why>.*)')


def _damaged_file(step_dir: pathlib.Path, error: BaseException) -> tuple[pathlib.Path, str]:
    """The file the restore failed on (named in the error, else a metadata file that is not
    JSON, else the step's folder) and why, on one line."""
    why = _why(error)
    match = _TENSORSTORE.search(why)
    if match:  # the arrays live in one database: name it and the array
        return pathlib.Path(match["path"]), f"array {match['key']}: {match['why']}"
    for path in sorted(step_dir.rglob("*")):  # orbax's JSON metadata: not data, not markers
        if path.is_file() and path.suffix not in (".ocdbt", ".txt") and \
                "d" not in path.relative_to(step_dir).parts:
            try:
                json.loads(path.read_bytes())
            except ValueError:  # (UnicodeDecodeError is one)
                return path, why
    return step_dir, why


def _move_aside(workdir: pathlib.Path, step: int) -> pathlib.Path:
    target = workdir / DAMAGED / str(step)
    number = 1
    while target.exists():
        target, number = workdir / DAMAGED / f"{step}-{number}", number + 1
    target.parent.mkdir(exist_ok=True)
    shutil.move(workdir / CHECKPOINTS / str(step), target)
    return target


def restore_newest_intact(manager: ocp.CheckpointManager, state, workdir: pathlib.Path, *,
                          move_aside: bool):
    """``(state, step)`` of the newest checkpoint that restores; ``(state, None)`` if there are
    none. Each newer one that does not restore is reported by :func:`warn` (and, with
    ``move_aside``, moved to ``damaged_checkpoints/``); if none restores, raises
    :class:`CheckpointError` and moves nothing."""
    workdir = pathlib.Path(workdir)
    damaged = []
    _silence_abandoned_reads()
    for step in sorted(manager.all_steps(), reverse=True):
        try:
            restored = manager.restore(step, args=ocp.args.StandardRestore(state))
        except Exception as error:  # noqa: BLE001 - orbax and tensorstore raise many types
            step_dir = pathlib.Path(manager.directory) / str(step)
            damaged.append((step, *_damaged_file(step_dir, error)))
        else:
            break
        gc.collect()  # the failed restore's abandoned reads, now (see _silence_abandoned_reads)
    else:
        if damaged:
            step, path, why = damaged[0]
            raise CheckpointError(
                f"no checkpoint of {workdir} can be restored (newest: step {step}, {path}: "
                f"{why}); move {workdir / CHECKPOINTS} aside to train from the start")
        return state, None
    if damaged:
        for bad_step, path, why in damaged:
            shown = path.relative_to(workdir) if path.is_relative_to(workdir) else path
            shown = f"{shown}/" if path.is_dir() else shown
            where = (f"moved it to {_move_aside(workdir, bad_step).relative_to(workdir)}"
                     if move_aside else "left in place")
            warn(f"checkpoint at step {bad_step} cannot be restored ({shown}: {why}); {where}; "
                 f"using step {step}, the newest intact checkpoint")
        if move_aside:
            manager.reload()
    return restored, step


def _is_abandoned_read(unraisable) -> bool:
    """Whether an exception Python could not raise is the noise of a failed orbax restore: one
    of the reads it abandoned (an orbax coroutine) being collected, or tensorstore finishing
    such a read into orbax's event loop, already closed."""
    code = getattr(unraisable.object, "cr_code", None)
    if code is not None and "orbax" in code.co_filename:
        return True
    return isinstance(unraisable.exc_value, RuntimeError) and \
        str(unraisable.exc_value) == "Event loop is closed"


def _silence_abandoned_reads() -> None:
    """A failed restore leaves the reads of its other arrays pending; each would print its own
    traceback when it ends ("Exception ignored in: ..."), at any later time. They are the
    failure already reported in one line: from the first restore on, they are dropped (every
    other unraisable exception still reaches the hook in place before)."""
    if getattr(sys.unraisablehook, "drops_abandoned_reads", False):
        return
    forward = sys.unraisablehook

    def hook(unraisable):
        if not _is_abandoned_read(unraisable):
            forward(unraisable)

    hook.drops_abandoned_reads = True
    sys.unraisablehook = hook


def _data_overrides(config, overrides) -> ml_collections.ConfigDict:
    """``config`` with ``--config.data.<key>=<value>`` overrides (only ``data.*``)."""
    values = json.loads(config.to_json())
    for item in overrides:
        key, _, text = item.removeprefix("--config.").partition("=")
        if not key.startswith("data."):
            raise configs.ConfigError(f"{item}: evaluation may change only data.* fields")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        if key.split(".", 1)[1] not in values["data"]:
            raise configs.ConfigError(f"unknown config key {key!r}")
        values["data"][key.split(".", 1)[1]] = value
    return configs.from_dict(values)


def load_run(workdir: str | pathlib.Path, *, data_override: bool = False,
             overrides: tuple[str, ...] = ()):
    """Config, task (model and data), and the latest train state of a run.

    The state is the newest checkpoint that restores (a damaged newer one is reported and
    left in place). The data must be what the run was trained on (its ``data.json``), unless
    ``data_override``; ``overrides`` (``--config.data.*=...``) change where the data comes from.
    ``task.data`` records the data used, :func:`fingerprint.read_record` what it was trained on.
    """
    workdir = pathlib.Path(workdir).absolute()
    config = read_config(workdir)
    if not saved_steps(workdir):
        raise FileNotFoundError(f"{workdir} has no checkpoint yet (training has not saved one: "
                                f"run `locornn train` on it to continue)")
    if overrides:
        config = _data_overrides(config, overrides)
    task = tasks.build_task(config)
    if not data_override:
        fingerprint.require_same_data(
            workdir, task.data, "restore that data (e.g. LOCORNN_MNIST_DIR or data.* as in "
            "training), or pass --data-override to evaluate on this data on purpose")
    state = create_train_state(config, task)
    with ocp.CheckpointManager(workdir / CHECKPOINTS, options=_READING) as manager:
        state, _ = restore_newest_intact(manager, state, workdir, move_aside=False)
    return config, task, state
