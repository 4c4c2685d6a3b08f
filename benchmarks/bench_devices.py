"""Training throughput on 1, 2, 4 and 8 devices (data-parallel, :mod:`locornn.sharding`).

Each device count runs in its own process (the count is fixed when JAX starts):
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` on CPU, where the N "devices" share the
same cores -- so on a CPU this shows correctness and the overhead of splitting a batch, not a
speed-up. On a machine with N accelerators, pass ``--real`` to use them as they are.

    python benchmarks/bench_devices.py                       # waves cpu preset, 1 2 4 8
    python benchmarks/bench_devices.py --preset smoke --counts 1 4 --steps 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # timing (also under runpy)

from timing import write_json  # noqa: E402

CHILD = r"""
import json, sys
sys.path.insert(0, {src!r}); sys.path.insert(0, {here!r})
import jax
from locornn import configs, optim, sharding, tasks, train
from timing import time_steps
import bench_train_step as b
path = {experiment!r}
config = configs.load(path, [])
config = configs.load(path, b.small_data(config))
mesh = sharding.data_mesh()
sharding.check_batch(config.train.batch_size, mesh)
task = tasks.build_task(config)
state = sharding.place_state(optim.create_train_state(config, task), mesh)
step = sharding.sharded_step(train.make_train_step(task, jit=False), mesh)
batch = sharding.place_batch(task.train_batch(0), mesh)
compile_s, step_s = time_steps(step, state, batch, {steps})
print(json.dumps(dict(devices=mesh.size, batch=config.train.batch_size, step_ms=1e3 * step_s,
                      sequences_per_s=config.train.batch_size / step_s, compile_s=compile_s)))
"""


def run(count: int, experiment: str, steps: int, real: bool) -> dict:
    env = dict(os.environ)
    if not real:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={count}"
        env["JAX_PLATFORMS"] = "cpu"
    code = CHILD.format(src=os.path.join(HERE, "..", "src"), here=HERE, experiment=experiment,
                        steps=steps)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode:
        return dict(devices=count, error=out.stderr.strip().splitlines()[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="waves")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--counts", type=int, nargs="*", default=[1, 2, 4, 8])
    parser.add_argument("--steps", type=int, default=10, help="timed steps after warm-up (10)")
    parser.add_argument("--real", action="store_true", help="use the real devices as they are")
    parser.add_argument("--quick", action="store_true", help="smoke preset, 1 and 2, 2 steps")
    parser.add_argument("--json", default=None)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"(bench_devices: ignoring {' '.join(unknown)})")
    if args.quick:
        args.preset, args.counts, args.steps = "smoke", [1, 2], 2
    experiment = f"{args.experiment}:{args.preset}"
    print(f"data-parallel train step, {args.experiment} {args.preset!r}, "
          f"{'real' if args.real else 'simulated CPU'} devices sharing {os.cpu_count()} CPUs")
    print(f"{'devices':>7s} {'batch':>6s} {'ms/step':>9s} {'seq/s':>8s} {'compile s':>9s}")
    rows = []
    for count in args.counts:
        row = run(count, experiment, args.steps, args.real)
        rows.append(row)
        if "error" in row:
            print(f"{count:7d}  {row['error']}")
        else:
            print(f"{row['devices']:7d} {row['batch']:6d} {row['step_ms']:9.1f} "
                  f"{row['sequences_per_s']:8.1f} {row['compile_s']:9.1f}", flush=True)
    write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
