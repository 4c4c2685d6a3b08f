"""Finding finished runs, and training the missing ones: what the figures and ablations share.

A run lives where ``locornn train`` puts it (:func:`locornn.train.default_workdir`:
``<runs_root>/<experiment>/<preset>/<seed>``, and
``<runs_root>/hamiltonian/<preset>/<system>/<model>/<seed>`` for forecasting runs). It is
finished when its ``summary.json`` says it reached the asked ``train.num_steps``. A finished run
is reused (also one trained longer than asked: the note says so); an unfinished or shorter one
is resumed by :func:`locornn.train.train_and_evaluate`. A run of another config (any key but
``train.num_steps`` and ``figures.*``: another KL weight, lattice, wavelength, ...) is refused
with the differing keys named, before anything is trained or drawn, so a figure is never drawn
from runs of a config other than the one asked for.
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


def trained_steps(workdir: pathlib.Path) -> int:
    """The steps a run in ``workdir`` was trained to (``summary.json`` is written at the end of
    training); -1 without a readable summary and config (``config.json`` marks a run)."""
    try:
        summary = json.loads((pathlib.Path(workdir) / "summary.json").read_text())
        json.loads((pathlib.Path(workdir) / "config.json").read_text())
    except (OSError, ValueError):
        return -1
    return summary.get("steps", -1)


def ensure_trained(label: str, config, workdir, train_missing: bool = True,
                   progress: bool = True) -> pathlib.Path | None:
    """``workdir`` holding a finished run of ``config``: reused, or trained (resumed) first.

    Returns ``None`` (with a printed note) when the run is unfinished and ``train_missing`` is
    False.

    Raises:
      locornn.configs.ConfigError: ``workdir`` holds a run of another config (the message
        names the keys).
    """
    workdir = pathlib.Path(workdir)
    train.require_same_config(
        config, workdir, "give the --config.* overrides it was trained with, another "
        "--runs-root, or remove it")
    asked, steps = config.train.num_steps, trained_steps(workdir)
    if steps >= asked:
        longer = f" (trained to {steps} steps, {asked} asked)" if steps != asked else ""
        say(f"{label}: reusing {workdir}{longer}")
        return workdir
    if not train_missing:
        say(f"skipping {label}: no run trained to {asked} steps in {workdir} (train it, or drop "
            f"--no-train)")
        return None
    say(f"{label}: training {workdir} ({config.preset} preset)")
    train.train_and_evaluate(config, workdir, progress=progress)
    return workdir
