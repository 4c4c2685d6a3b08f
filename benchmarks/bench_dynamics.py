"""Oscillator rollout speed: forward and forward+backward time per step and per sequence.

For each lattice, times ``jit(sum(rollout))`` (forward) and ``jit(grad(sum(rollout)))`` with
respect to the parameters and the drives (forward+backward), with ``block_until_ready``, after
one warm-up call that compiles (its time is reported separately), best of ``--repeats``. One
call processes a batch of ``--batch`` sequences of ``--steps`` steps; "s/seq" is that call.

The last row times the same step with the *naive* coupling -- ``lax.conv_general_dilated`` on a
wrap-padded input, differentiated by JAX's own conv transpose rule -- which on XLA:CPU inside
``lax.scan`` is the slow path of jax-ml/jax#12868 that ``dynamics.lattice_conv``'s custom VJP
avoids. It runs fewer steps (``--naive-steps``) and one timed call because it is that slow.

    python benchmarks/bench_dynamics.py                  # a few minutes on 2 cores
    python benchmarks/bench_dynamics.py --quick          # seconds: fewer steps and repeats
    python benchmarks/bench_dynamics.py --lattices 72x72x16 --steps 50 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from locornn import dynamics as dyn  # noqa: E402

DEFAULT_LATTICES = "23x23x1,36x36x1,72x72x1,72x72x16"
REQUIRED_RATIO = 6.0  # the issue: 72x72x16 forward+backward within 6x of forward
RATIO_LATTICE = (72, 72, 16)


def parse_lattice(text: str) -> tuple[int, int, int]:
    """``"72x72x16"`` -> ``(72, 72, 16)`` (height, width, channels)."""
    try:
        height, width, channels = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"lattice must look like HxWxC, got {text!r}") from None
    return height, width, channels


def parse_lattices(text: str) -> list[tuple[int, int, int]]:
    """``"23x23x1,72x72x16"`` -> ``[(23, 23, 1), (72, 72, 16)]``."""
    return [parse_lattice(part) for part in text.split(",")]


def naive_coupling(padding: str) -> dyn.Coupling:
    """The coupling written the obvious way: pad, then ``lax.conv``; autodiff does the rest."""
    def couple(kernel, state):
        radius = kernel.shape[0] // 2
        mode = "wrap" if padding == "circular" else "constant"
        padded = jnp.pad(state, ((0, 0), (radius, radius), (radius, radius), (0, 0)), mode=mode)
        return lax.conv_general_dilated(padded, kernel, (1, 1), "VALID",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return couple


def make_inputs(lattice, args, seed=0):
    """Random parameters (reference initial dt, gamma, alpha) and a drive sequence."""
    height, width, channels = lattice
    rng = np.random.default_rng(seed)
    shape = (args.kernel, args.kernel, channels, channels)
    kernel = lambda: jnp.asarray(0.1 * rng.standard_normal(shape), jnp.float32)  # noqa: E731
    dt, gamma, alpha = dyn.constrain(jnp.float32(-1.95), jnp.float32(1.0), jnp.float32(0.5))
    params = dyn.OscillatorParams(kernel(), None if args.tied else kernel(),
                                  jnp.zeros(channels, jnp.float32), dt, gamma, alpha)
    drives = jnp.asarray(rng.standard_normal((args.steps, args.batch, height, width, channels)),
                         jnp.float32)
    return params, drives


def make_functions(coupling: dyn.Coupling) -> tuple[Callable, Callable]:
    """The jitted forward (sum of the rollout) and forward+backward (its gradient)."""
    def loss(params, drives):
        return jnp.sum(dyn.rollout(params, drives, coupling=coupling))
    return jax.jit(loss), jax.jit(jax.grad(loss, argnums=(0, 1)))


def best_time(fn: Callable, *args, repeats: int) -> tuple[float, float]:
    """(warm-up seconds, including compilation; best of ``repeats`` timed calls in seconds)."""
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    warmup = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - start)
    return warmup, best


def measure(label: str, lattice, coupling: dyn.Coupling, args) -> dict:
    """Time forward and forward+backward for one lattice; return one result row."""
    params, drives = make_inputs(lattice, args)
    forward, forward_backward = make_functions(coupling)
    fwd_compile, fwd = best_time(forward, params, drives, repeats=args.repeats)
    fb_compile, fb = best_time(forward_backward, params, drives, repeats=args.repeats)
    return dict(label=label, lattice="x".join(map(str, lattice)), steps=args.steps,
                batch=args.batch, fwd_ms_per_step=1e3 * fwd / args.steps, fwd_s_per_seq=fwd,
                fwd_bwd_ms_per_step=1e3 * fb / args.steps, fwd_bwd_s_per_seq=fb,
                ratio=fb / fwd, compile_s=fwd_compile + fb_compile)


HEADER = (f"{'coupling':8s} {'lattice':>9s} {'T':>4s} {'fwd ms/step':>11s} {'fwd s/seq':>9s} "
          f"{'f+b ms/step':>11s} {'f+b s/seq':>9s} {'f+b/fwd':>7s} {'compile s':>9s}")


def format_row(row: dict) -> str:
    """One line of the results table."""
    return (f"{row['label']:8s} {row['lattice']:>9s} {row['steps']:4d} "
            f"{row['fwd_ms_per_step']:11.2f} {row['fwd_s_per_seq']:9.3f} "
            f"{row['fwd_bwd_ms_per_step']:11.2f} {row['fwd_bwd_s_per_seq']:9.3f} "
            f"{row['ratio']:7.1f} {row['compile_s']:9.1f}")


def ratio_verdict(rows: list[dict]) -> str | None:
    """The PASS/FAIL line for the 6x requirement, if the 72x72x16 custom-VJP row was run."""
    target = "x".join(map(str, RATIO_LATTICE))
    for row in rows:
        if row["label"] == "custom" and row["lattice"] == target:
            verdict = "PASS" if row["ratio"] <= REQUIRED_RATIO else "FAIL"
            return (f"{verdict}: {target} forward+backward / forward = {row['ratio']:.1f} "
                    f"(required <= {REQUIRED_RATIO:g}; timings are noisy)")
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lattices", type=parse_lattices, default=DEFAULT_LATTICES,
                        help=f"comma-separated HxWxC ({DEFAULT_LATTICES})")
    parser.add_argument("--kernel", type=int, default=3, help="kernel size k (3)")
    parser.add_argument("--padding", choices=dyn.PADDINGS, default="circular")
    parser.add_argument("--tied", action="store_true", help="one kernel for z and v (untied)")
    parser.add_argument("--batch", type=int, default=16, help="sequences per call (16)")
    parser.add_argument("--steps", type=int, default=100, help="time steps per sequence (100)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls, best kept (3)")
    parser.add_argument("--naive-steps", type=int, default=10,
                        help="steps for the naive-coupling row (10; 0 skips it)")
    parser.add_argument("--naive-lattice", type=parse_lattice, default="72x72x16")
    parser.add_argument("--quick", action="store_true",
                        help="fast variant: 20 steps, 1 repeat, 3 naive steps")
    parser.add_argument("--json", default=None, help="also write the results to this path")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats, args.naive_steps = 20, 1, min(args.naive_steps, 3)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = jax.devices()[0]
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, device {device} "
          f"({device.device_kind}), {os.cpu_count()} CPUs")
    print(f"kernel {args.kernel}x{args.kernel}, {args.padding} padding, "
          f"{'tied' if args.tied else 'untied'} kernels, batch {args.batch}, "
          f"best of {args.repeats} after a warm-up; s/seq = one call (batch x T steps)")
    print(HEADER)
    rows = []
    for lattice in args.lattices:
        rows.append(measure("custom", lattice, dyn.LocalCoupling(args.padding), args))
        print(format_row(rows[-1]), flush=True)
    if args.naive_steps > 0:
        naive_args = argparse.Namespace(**{**vars(args), "steps": args.naive_steps,
                                           "repeats": 1})
        rows.append(measure("naive", args.naive_lattice, naive_coupling(args.padding),
                            naive_args))
        print(format_row(rows[-1]), flush=True)
        print("naive = lax.conv on a wrap-padded input with autodiff's conv transpose "
              "(the XLA:CPU trap of jax-ml/jax#12868); custom = dynamics.lattice_conv")
    verdict = ratio_verdict(rows)
    if verdict:
        print(verdict)
    if args.json:
        meta = dict(jax=jax.__version__, backend=jax.default_backend(), device=str(device),
                    kernel=args.kernel, padding=args.padding, tied=args.tied,
                    repeats=args.repeats)
        with open(args.json, "w") as f:
            json.dump(dict(meta=meta, results=rows, verdict=verdict), f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
