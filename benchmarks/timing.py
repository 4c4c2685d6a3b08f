"""Helpers shared by the benchmark scripts (not a benchmark itself: no ``bench_`` prefix)."""

from __future__ import annotations

import json
import time

import jax


def time_steps(step, state, batch, steps: int) -> tuple[float, float]:
    """(compile seconds, seconds per step) of ``state, out = step(state, batch)`` applied
    ``steps`` times after a first call that compiles, with ``block_until_ready``."""
    start = time.perf_counter()
    state, out = step(state, batch)
    jax.block_until_ready(out)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        state, out = step(state, batch)
    jax.block_until_ready(out)
    return compile_s, (time.perf_counter() - start) / steps


def write_json(path: str | None, payload) -> None:
    """Write ``payload`` as indented JSON to ``path`` (nothing when ``path`` is None)."""
    if path:
        with open(path, "w") as handle:
            json.dump(payload, handle, indent=2)
