"""Finding finished runs, and training the missing ones: what the figures and ablations share.

A run lives where ``locornn train`` puts it (:func:`locornn.train.default_workdir`:
``<runs_root>/<experiment>/<preset>/<seed>``, and
``<runs_root>/hamiltonian/<preset>/<system>/<model>/<seed>`` for forecasting runs). It is
finished when its ``summary.json`` says it reached its own ``train.num_steps``; a finished run is
reused as it is, an unfinished one is resumed by :func:`locornn.train.train_and_evaluate`
(which refuses a workdir holding another config).
"""

from __future__ import annotations

import json
import pathlib

from locornn import train


def say(message: str) -> None:
    print(f"locornn: {message}", flush=True)


def run_dir(runs_root, config) -> pathlib.Path:
    """The default workdir of ``locornn train`` for ``config`` under ``runs_root``."""
    return train.default_workdir(config, runs_root)


def is_finished(workdir: pathlib.Path) -> bool:
    """Trained to its config's ``train.num_steps`` (``summary.json`` is written at the end)."""
    try:
        summary = json.loads((pathlib.Path(workdir) / "summary.json").read_text())
        saved = json.loads((pathlib.Path(workdir) / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return summary.get("steps", -1) >= saved["train"]["num_steps"]


def ensure_trained(label: str, config, workdir, train_missing: bool = True,
                   progress: bool = True) -> pathlib.Path | None:
    """``workdir`` holding a finished run of ``config``: reused, or trained (resumed) first.

    Returns ``None`` (with a printed note) when the run is unfinished and ``train_missing`` is
    False.
    """
    workdir = pathlib.Path(workdir)
    if is_finished(workdir):
        say(f"{label}: reusing {workdir}")
        return workdir
    if not train_missing:
        say(f"skipping {label}: no finished run in {workdir} (train it, or drop --no-train)")
        return None
    say(f"{label}: training {workdir} ({config.preset} preset)")
    train.train_and_evaluate(config, workdir, progress=progress)
    return workdir
