"""A finished (or interrupted) run read back: ``load_run(workdir)``.

Downstream of training and upstream of analysis: figures and analyses load runs through here,
never through :mod:`locornn.train`.
"""

from __future__ import annotations

import json
import pathlib

import orbax.checkpoint as ocp

from locornn import configs, tasks
from locornn.optim import create_train_state


def load_run(workdir: str | pathlib.Path):
    """Config, task (model and data), and the latest train state of a run."""
    workdir = pathlib.Path(workdir).absolute()
    path = workdir / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{workdir} is not a run directory (no config.json)")
    config = configs.from_dict(json.loads(path.read_text()))
    task = tasks.build_task(config)
    state = create_train_state(config, task)
    with ocp.CheckpointManager(workdir / "checkpoints") as manager:
        step = manager.latest_step()
        if step is None:
            raise FileNotFoundError(f"{workdir} has no checkpoint yet")
        state = manager.restore(step, args=ocp.args.StandardRestore(state))
    return config, task, state
