"""Wall time of ``locornn --help`` in a fresh interpreter (the parser must not import jax).

    python benchmarks/bench_cli_help.py [--repeats 5]

Prints the median and the slowest of ``--repeats`` runs of ``python -m locornn --help`` and of
``python -m locornn train --help``; the goal for the first is under one second on a 2-core
laptop. The source tree's ``src`` is put first on PYTHONPATH, so it measures this checkout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def seconds(argv: list[str], repeats: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "locornn", *argv], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (5)")
    parser.add_argument("--quick", action="store_true", help="2 runs each (for `make bench`)")
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    for argv in (["--help"], ["train", "--help"]):
        times = seconds(argv, repeats)
        print(f"locornn {' '.join(argv)}: median {statistics.median(times):.3f} s, "
              f"slowest {max(times):.3f} s ({repeats} runs)")


if __name__ == "__main__":
    main()
