"""Hamiltonian-suite generation speed: trajectories per second per system.

Times the full pipeline (parameter and state sampling, float64 Dopri8 integration or the
closed form, rendering, uint8 conversion, host transfer) for ``--num`` trajectories of
``--steps`` steps, after one warm-up call that compiles (its time is reported separately).

    python benchmarks/bench_hamiltonian.py                 # the six systems, ~1-2 min on 2 cores
    python benchmarks/bench_hamiltonian.py --variants      # plus the _colors/_friction ones
    python benchmarks/bench_hamiltonian.py --num 512 --steps 999
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from locornn.data.hamiltonian import ALL_SYSTEMS, SYSTEMS  # noqa: E402
from locornn.data.hamiltonian.generate import default_chunk_size, generate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--num", type=int, default=128, help="timed trajectories, a multiple of the chunk (128)"
    )
    parser.add_argument("--steps", type=int, default=255, help="steps per trajectory (255)")
    parser.add_argument("--chunk-size", type=int, default=None, help="trajectories per jit call")
    parser.add_argument("--systems", nargs="*", default=None, help="subset of systems")
    parser.add_argument("--variants", action="store_true", help="also the _colors/_friction sets")
    parser.add_argument("--quick", action="store_true", help="one chunk (64) per system")
    parser.add_argument("--json", default=None, help="also write the results to this path")
    # `locornn bench ARGS` passes the same ARGS to every benchmark: ignore other scripts' flags.
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"(bench_hamiltonian: ignoring {' '.join(unknown)})")
    names = args.systems or (ALL_SYSTEMS if args.variants else SYSTEMS)
    chunk = args.chunk_size or default_chunk_size(args.steps)
    if args.quick:  # one chunk per system (fewer would time the padding, not the data)
        args.num = chunk
    print(
        f"{args.num} trajectories x {args.steps + 1} frames, chunk {chunk}, {os.cpu_count()} CPUs"
    )
    print(f"{'system':34s} {'compile s':>9s} {'run s':>7s} {'traj/s':>8s} {'frames/s':>9s}")
    results = []
    for name in names:
        start = time.perf_counter()
        generate(name, num=chunk, num_steps=args.steps, seed=0, chunk_size=chunk)
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        generate(name, num=args.num, num_steps=args.steps, seed=1, chunk_size=chunk)
        run_s = time.perf_counter() - start
        rate = args.num / run_s
        print(
            f"{name:34s} {compile_s:9.1f} {run_s:7.2f} {rate:8.0f} {rate * (args.steps + 1):9.0f}",
            flush=True,
        )
        results.append(
            {"system": name, "compile_s": compile_s, "run_s": run_s, "trajectories_per_s": rate}
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"num": args.num, "steps": args.steps, "chunk": chunk, "results": results}, f)
    return 0


if __name__ == "__main__":
    # no SystemExit on success: `locornn bench` runs the scripts in one process with runpy
    if code := main():
        raise SystemExit(code)
