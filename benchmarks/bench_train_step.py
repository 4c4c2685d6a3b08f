"""Time of one training step (forward, backward, optimiser update) of each experiment's preset.

For each packaged experiment (``locornn/experiments/<name>.py``) the preset is loaded unchanged
except for the data set sizes, which are cut to one batch of training and of test sequences so
that no time goes into generating data: the step itself (model, loss, optimiser, shapes) is the
preset's. The step is ``train.make_train_step`` -- the same function ``make train`` runs --
jitted, timed after a warm-up call whose time (compilation) is reported separately.

    python benchmarks/bench_train_step.py                          # cpu presets
    python benchmarks/bench_train_step.py --preset paper --steps 5  # GPU/TPU (benchmarks/gpu.sh)
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # timing (also under runpy)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from timing import time_steps, write_json  # noqa: E402

from locornn import configs, optim, tasks, train  # noqa: E402

SEQUENCE_EXPERIMENTS = ("waves", "noise", "rotating_mnist", "orientation")


def small_data(config) -> list[str]:
    """Overrides that keep the preset's step but generate only one batch of training data."""
    batch = config.train.batch_size
    return [f"--config.data.num_train={batch}", f"--config.data.num_test={batch}"]


def time_step(experiment: str, preset: str, steps: int) -> dict:
    config = configs.load(f"{experiment}:{preset}", [])
    config = configs.load(f"{experiment}:{preset}", small_data(config))
    task = tasks.build_task(config)
    state = optim.create_train_state(config, task)
    step = train.make_train_step(task)
    batch = jnp.asarray(task.train_batch(0))
    compile_s, step_s = time_steps(step, state, batch, steps)
    return dict(experiment=experiment, preset=preset, batch=int(batch.shape[0]),
                shape=list(batch.shape), step_ms=1e3 * step_s, compile_s=compile_s,
                steps_per_s=1 / step_s, num_steps=int(config.train.num_steps),
                budget_s=config.train.num_steps * step_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", nargs="*", default=list(SEQUENCE_EXPERIMENTS))
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--steps", type=int, default=10, help="timed steps after warm-up (10)")
    parser.add_argument("--quick", action="store_true", help="smoke presets, 2 timed steps")
    parser.add_argument("--json", default=None, help="also write the results to this path")
    args, unknown = parser.parse_known_args(argv)  # `locornn bench ARGS` reach every script
    if unknown:
        print(f"(bench_train_step: ignoring {' '.join(unknown)})")
    if args.quick:
        args.preset, args.steps = "smoke", 2
    print(f"train step per experiment, preset {args.preset!r}, {jax.default_backend()} "
          f"({jax.devices()[0].device_kind}), {os.cpu_count()} CPUs")
    print(f"{'experiment':15s} {'batch shape':>22s} {'ms/step':>9s} {'steps/s':>8s} "
          f"{'compile s':>9s}")
    results = []
    for experiment in args.experiments:
        r = time_step(experiment, args.preset, args.steps)
        print(f"{experiment:15s} {str(tuple(r['shape'])):>22s} {r['step_ms']:9.1f} "
              f"{r['steps_per_s']:8.2f} {r['compile_s']:9.1f}", flush=True)
        results.append(r)
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
