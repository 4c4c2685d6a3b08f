"""What a run logs: ``metrics.jsonl`` (the record locornn reads back) and TensorBoard event files.

Every record a run writes to ``metrics.jsonl`` (``{"step", "split", ...}``) also goes, as
scalars ``<split>/<key>`` (``train/loss``, ``test/mse``, ``probe/traveling_wave_strength``), to
TensorBoard event files in the run directory, written by tensorboardX (a background thread:
training does not wait on it). At the end of a run :func:`write_summary_events` adds the
held-out results (``final/<key>``: the test loss, and VPT for forecasting) and every figure in
the run directory (``loss.png``, ``figure1.png``, ``forecast.png``, the analyses' figures) as
images. So::

    tensorboard --logdir runs

shows every run by its path. A resumed run purges the events after its checkpoint, as it drops
those records from ``metrics.jsonl``; a run started afresh purges all older events.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import pathlib

import numpy as np

METRICS_FILE = "metrics.jsonl"
_WRITERS = itertools.count()  # event file names hold only the second: two in one second differ


def _writer(workdir: pathlib.Path, purge_step: int | None = None):
    from tensorboardX import SummaryWriter  # imported when a run starts: --help stays quick

    return SummaryWriter(logdir=str(workdir), purge_step=purge_step, flush_secs=30,
                         filename_suffix=f".{os.getpid()}.{next(_WRITERS)}")


def _scalars(record: dict):
    """``(key, value)`` of every finite number in a record (not its step or split)."""
    for key, value in record.items():
        if key in ("step", "split") or isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and math.isfinite(value):
            yield key, float(value)


class RunLog:
    """``metrics.jsonl`` and the TensorBoard events of one run, appended record by record.

    ``workdir=None`` writes nothing (a process other than the first of a multi-host job).
    ``purge_step``: TensorBoard hides this run's older events from this step on (the step a
    run resumes at; 0 for a run started afresh).
    """

    def __init__(self, workdir: pathlib.Path | None, *, purge_step: int | None = None,
                 mode: str = "a"):
        self._sink = open(pathlib.Path(workdir) / METRICS_FILE if workdir else os.devnull, mode)
        self._events = _writer(pathlib.Path(workdir), purge_step) if workdir else None

    def write(self, record: dict) -> None:
        """One record: a line of ``metrics.jsonl`` and a scalar per number."""
        self._sink.write(json.dumps(record) + "\n")
        self._sink.flush()
        if self._events is not None:
            for key, value in _scalars(record):
                self._events.add_scalar(f"{record['split']}/{key}", value, record["step"])

    def close(self) -> None:
        self._sink.close()
        if self._events is not None:
            self._events.close()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_summary_events(workdir: pathlib.Path, step: int, summary: dict) -> None:
    """The held-out results (``final/<key>``) and every ``*.png`` of ``workdir`` as images."""
    from PIL import Image

    workdir = pathlib.Path(workdir)
    with _writer(workdir) as events:
        for key, value in _scalars(summary.get("test", {})):
            events.add_scalar(f"final/{key}", value, step)
        for path in sorted(workdir.glob("*.png")):
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"))
            events.add_image(path.stem, pixels, step, dataformats="HWC")
