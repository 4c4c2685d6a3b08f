"""Forecasting (Table 1) training speed: one run vs seeds batched with ``jax.vmap``.

For each recurrent core, times the jitted train step of the ``hamiltonian`` preset (forward,
backward through the open-loop rollout, Adam update) on random frames of the preset's window,
once for a single run and once for ``--seeds`` runs stacked and updated by one
``jax.jit(jax.vmap(train_step))`` (:mod:`locornn.reproduce.seeds`), after a warm-up call that
compiles. The ratio says whether batching seeds pays on this machine: on an accelerator a small
model leaves the device mostly idle and batching fills it; on XLA:CPU the work is the same and
the batched matrix products can be slower than separate ones.

    python benchmarks/bench_forecast.py                     # cpu preset, 4 cores, ~2 min
    python benchmarks/bench_forecast.py --kinds locornn --preset paper --steps 5
"""

from __future__ import annotations

import argparse
import os
import sys
import types

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # timing (also under runpy)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from timing import time_steps, write_json  # noqa: E402

from locornn import configs, optim, tasks, train  # noqa: E402
from locornn.models.forecasting import KINDS, build_forecast_model  # noqa: E402

EXPERIMENT = "hamiltonian"  # the packaged experiment
IMAGE = (32, 32, 3)  # the suite's frames


def _state_and_step(config, frames):
    model = build_forecast_model(config.model, IMAGE)
    loss, _ = tasks.forecast_objectives(config, model)  # the training objective of make train
    params = model.init(jax.random.PRNGKey(config.seed), frames[0])["params"]
    state = optim.TrainState.create(apply_fn=model.apply, params=params,
                                    tx=optim.make_optimizer(config.train))
    return state, train.make_train_step(types.SimpleNamespace(loss=loss), jit=False)


def bench(kind: str, preset: str, seeds: int, steps: int) -> dict:
    config = configs.load(f"{EXPERIMENT}:{preset}", [f"--config.model.kind={kind}"])
    shape = (seeds, config.train.batch_size, config.data.sequence_length, *IMAGE)
    frames = jax.random.uniform(jax.random.PRNGKey(0), shape)
    state, step = _state_and_step(config, frames)
    single_compile, single = time_steps(jax.jit(step), state, frames[0], steps)
    stacked = jax.tree.map(lambda leaf: jnp.stack([leaf] * seeds), state)
    batched_compile, batched = time_steps(jax.jit(jax.vmap(step)), stacked, frames, steps)
    return {"kind": kind, "preset": preset, "batch": shape[1], "frames": shape[2],
            "seeds": seeds, "single_ms": 1e3 * single, "vmapped_ms": 1e3 * batched,
            "vmapped_per_seed_vs_single": batched / (seeds * single),
            "single_compile_s": single_compile, "vmapped_compile_s": batched_compile}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="*", default=list(KINDS), help="recurrent cores")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--seeds", type=int, default=3, help="runs batched by jax.vmap (3)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps after warm-up (10)")
    parser.add_argument("--quick", action="store_true", help="3 timed steps, locornn only")
    parser.add_argument("--json", default=None, help="also write the results to this path")
    # `locornn bench ARGS` passes the same ARGS to every benchmark: ignore other scripts' flags.
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"(bench_forecast: ignoring {' '.join(unknown)})")
    if args.quick:
        args.kinds, args.steps = ["locornn"], 3
    print(f"train step, hamiltonian preset {args.preset!r}, {jax.default_backend()}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'core':8s} {'1 run ms':>9s} {f'{args.seeds} vmapped ms':>15s} "
          f"{'per seed vs 1 run':>18s} {'compile s (1 / vmapped)':>24s}")
    results = []
    for kind in args.kinds:
        r = bench(kind, args.preset, args.seeds, args.steps)
        print(f"{kind:8s} {r['single_ms']:9.1f} {r['vmapped_ms']:15.1f} "
              f"{r['vmapped_per_seed_vs_single']:17.2f}x "
              f"{r['single_compile_s']:12.1f} / {r['vmapped_compile_s']:.1f}", flush=True)
        results.append(r)
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
