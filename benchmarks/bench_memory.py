"""Peak memory of the rollout's gradient against sequence length, from XLA's own analysis.

For each length T, compiles ``jit(grad(sum(rollout)))`` (72x72x16 lattice, batch 16 by default)
and reads ``compiled.memory_analysis()``: the arguments (the drives), the outputs (the
gradients) and the temporaries XLA allocates (the residuals kept for the backward pass). Nothing
is run, so this takes seconds. Compared: the rollout's own backward pass
(``hoist_gradients=True``, the default: it keeps z, v and tanh(u) per step), JAX's autodiff of
the scan (``False``: whatever residuals its VJP keeps), the sum taken inside the scan
(:func:`locornn.dynamics.rollout_reduce`, no trajectory) and the same rematerialised in blocks of
~sqrt(T) steps (``block``): memory sub-linear in T.

    python benchmarks/bench_memory.py                     # T = 100, 300, 1000
    python benchmarks/bench_memory.py --lattice 36x36x1 --batch 128 --steps 18 72
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # timing (also under runpy)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from bench_dynamics import parse_lattice  # noqa: E402
from timing import write_json  # noqa: E402

from locornn import dynamics as dyn  # noqa: E402

MB = 2.0 ** 20
# own: the rollout's hand-written backward pass; autodiff: JAX's VJP of the scan; inside: the
# loss summed inside the scan (dynamics.rollout_reduce, no trajectory kept); remat: the same in
# jax.checkpoint blocks of ~sqrt(T) steps
BACKWARDS = ("own", "autodiff", "inside", "remat")


def remat_block(steps: int) -> int:
    """The divisor of ``steps`` nearest above sqrt(steps): memory ~ 2 T / K + c K is least near
    K = sqrt(2 T / c)."""
    return min(d for d in range(1, steps + 1) if steps % d == 0 and d * d >= steps)


def analysis(lattice, batch: int, steps: int, backward: str) -> dict:
    height, width, channels = lattice
    kernel = jax.ShapeDtypeStruct((3, 3, channels, channels), jnp.float32)
    scalar = jax.ShapeDtypeStruct((), jnp.float32)
    params = dyn.OscillatorParams(kernel, kernel, jax.ShapeDtypeStruct((channels,), jnp.float32),
                                  scalar, scalar, scalar)
    drives = jax.ShapeDtypeStruct((steps, batch, height, width, channels), jnp.float32)

    block = remat_block(steps) if backward == "remat" else 0

    def loss(params, drives):
        if backward in ("own", "autodiff"):
            return jnp.sum(dyn.rollout(params, drives, hoist_gradients=backward == "own"))
        # the same sum, taken inside the scan: no trajectory; "remat": blocks of ~sqrt(T) steps
        return dyn.rollout_reduce(params, drives, lambda z, _: jnp.sum(z), block=block)

    memory = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(params, drives).compile()
    memory = memory.memory_analysis()
    state_mb = batch * height * width * channels * 4 / MB
    temp = memory.temp_size_in_bytes / MB
    return dict(steps=steps, backward=backward, block=block, state_mb=state_mb,
                argument_mb=memory.argument_size_in_bytes / MB,
                output_mb=memory.output_size_in_bytes / MB, temp_mb=temp,
                temp_states_per_step=temp / (steps * state_mb))


def train_loss_analysis(experiment: str, preset: str, length: int, block: int) -> dict:
    """Temporaries of one train step's gradient of the packaged ``<experiment>:<preset>`` at
    ``length`` frames, with the trajectory decoded after the scan (``block`` 0) or inside it in
    rematerialised blocks (``model.remat_block``). Data cut to one batch."""
    from locornn import configs, optim, tasks

    batch = configs.load(f"{experiment}:{preset}").train.batch_size
    config = configs.load(f"{experiment}:{preset}", [
        f"--config.data.sequence_length={length}", f"--config.data.num_train={batch}",
        f"--config.data.num_test={batch}", f"--config.model.remat_block={block}"])
    task = tasks.build_task(config)
    state = optim.create_train_state(config, task)
    frames = jax.ShapeDtypeStruct((batch, length, *task.sample.shape[2:]), jnp.float32)
    compiled = jax.jit(jax.grad(task.loss)).lower(state.params, frames).compile()
    memory = compiled.memory_analysis()
    return dict(experiment=experiment, preset=preset, steps=length, backward="train_loss",
                block=block, temp_mb=memory.temp_size_in_bytes / MB)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lattice", type=parse_lattice, default="72x72x16")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, nargs="*", default=[100, 300, 1000])
    parser.add_argument("--quick", action="store_true", help="T = 10, 30")
    parser.add_argument("--train-loss", nargs=2, metavar=("EXPERIMENT", "PRESET"),
                        default=["orientation", "reference"],
                        help="also a whole train step's gradient of this experiment, with and "
                             "without model.remat_block (default: orientation reference, 72x72)")
    parser.add_argument("--json", default=None)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"(bench_memory: ignoring {' '.join(unknown)})")
    if args.quick:
        args.steps = [10, 30]
    lattice = args.lattice
    print(f"gradient of the rollout, {'x'.join(map(str, lattice))} lattice, batch {args.batch}: "
          f"XLA's compiled memory analysis (MB); one state (B, H, W, C) = "
          f"{args.batch * lattice[0] * lattice[1] * lattice[2] * 4 / MB:.1f} MB")
    print(f"{'T':>5s} {'backward':>10s} {'drives':>9s} {'temporaries':>12s} {'states/step':>12s}")
    rows = []
    for steps in args.steps:
        for backward in BACKWARDS:
            row = analysis(lattice, args.batch, steps, backward)
            rows.append(row)
            name = f"remat {row['block']}" if backward == "remat" else backward
            print(f"{steps:5d} {name:>10s} {row['argument_mb']:9.0f} "
                  f"{row['temp_mb']:12.0f} {row['temp_states_per_step']:12.2f}", flush=True)
    experiment, preset = args.train_loss
    print(f"a train step's gradient, {experiment} {preset} (temporaries, MB)")
    for steps in args.steps:
        for block in (0, remat_block(steps)):
            row = train_loss_analysis(experiment, preset, steps, block)
            rows.append(row)
            print(f"{steps:5d} {f'remat {block}' if block else 'trajectory':>10s} "
                  f"{row['temp_mb']:12.0f}", flush=True)
    write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
