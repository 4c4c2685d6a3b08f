"""Peak resident memory of training on a recording larger than the run needs to hold.

Writes a ``.npy`` recording of ``--gigabytes`` (uint8 frames ``(N, 200, 144, 144)``, written
chunk by chunk: never held whole), trains ``video:smoke`` on it for ``--steps`` steps in a child
process, and reports the child's peak resident set (``ru_maxrss``) next to the same run on a
small file of the same frames (the program's own footprint: jax, the model, compiled code).
The file is deleted afterwards.

    python benchmarks/bench_video_memory.py                    # 2 GB (docs/data.md)
    python benchmarks/bench_video_memory.py --gigabytes 0.2   # `make bench` (--quick)
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # timing (also under runpy)
from timing import write_json  # noqa: E402

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
FRAMES, SIDE = 200, 144  # per recording; bytes per recording: 200 * 144 * 144 = 4.1 MB


def write_recording(path: pathlib.Path, gigabytes: float) -> int:
    """Drifting gratings as ``(N, FRAMES, SIDE, SIDE)`` uint8, one recording at a time."""
    count = max(int(gigabytes * 1e9 / (FRAMES * SIDE * SIDE)), 2)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8,
                                    shape=(count, FRAMES, SIDE, SIDE))
    rows, cols = np.mgrid[:SIDE, :SIDE]
    t = np.arange(FRAMES)[:, None, None]
    rng = np.random.default_rng(0)
    for i in range(count):
        angle, period = rng.uniform(0, 2 * np.pi), rng.uniform(8, 30)
        along = cols * np.cos(angle) + rows * np.sin(angle)
        out[i] = np.round(127.5 + 127.5 * np.sin(2 * np.pi * (along / 24 - t / period)))
        if i % 64 == 63:
            out.flush()
    out.flush()
    del out
    return count


# The child reports its own high-water mark: a parent's rusage of a child (ru_maxrss) also
# counts the parent's memory at the fork, here the pages of the file it has just written.
CHILD = """
import sys
from locornn import cli
code = cli.main(sys.argv[1:])
with open("/proc/self/status") as status:
    peak = [line.split()[1] for line in status if line.startswith("VmHWM:")][0]
print("VmHWM_KB", peak, flush=True)
sys.exit(code)
"""


def peak_rss_mb(path: pathlib.Path, workdir: pathlib.Path, steps: int) -> tuple[float, float]:
    """(peak resident MiB, seconds) of ``locornn train --config video:smoke`` on ``path``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "train", "--config", "video:smoke",
         f"--config.data.path={path}", f"--config.train.num_steps={steps}",
         "--config.figures.enabled=False", "--workdir", str(workdir), "--quiet"],
        env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"training on {path} failed: {done.stderr[-2000:]}")
    peak_kb = int(done.stdout.split("VmHWM_KB")[-1].split()[0])
    return peak_kb / 1024, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=2.0, help="recording size (2)")
    parser.add_argument("--steps", type=int, default=100, help="training steps (100)")
    parser.add_argument("--dir", default=None, help="where the file goes (a temporary folder)")
    parser.add_argument("--quick", action="store_true", help="0.2 GB, 20 steps (make bench)")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args()
    gigabytes, steps = (0.2, 20) if args.quick else (args.gigabytes, args.steps)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        folder = pathlib.Path(folder)
        try:
            big, small = folder / "recording.npy", folder / "small.npy"
            count = write_recording(big, gigabytes)
            write_recording(small, 0.02)
            size_mb = big.stat().st_size / 2 ** 20
            big_rss, big_s = peak_rss_mb(big, folder / "run_big", steps)
            small_rss, small_s = peak_rss_mb(small, folder / "run_small", steps)
        finally:
            for path in folder.glob("*.npy"):
                path.unlink()
    print(f"recording {size_mb:.0f} MiB ({count} x {FRAMES} frames of {SIDE}x{SIDE} uint8), "
          f"video:smoke, {steps} steps: peak resident {big_rss:.0f} MiB ({big_s:.0f} s); on a "
          f"{small.name} of {0.02 * 1e3:.0f} MB: {small_rss:.0f} MiB ({small_s:.0f} s)")
    write_json(args.json, {"file_mib": size_mb, "steps": steps, "peak_rss_mib": big_rss,
                           "small_file_peak_rss_mib": small_rss})


if __name__ == "__main__":
    main()
