"""Oscillator rollout speed, side by side with the reference's PyTorch cell.

For each case (lattice, batch, steps), times ``jit(sum(rollout))`` (forward) and
``jit(grad(sum(rollout)))`` with respect to the parameters and the drives (forward+backward),
with ``block_until_ready``, after one warm-up call that compiles (its time is reported
separately), best of ``--repeats``. One call processes a batch of ``--batch`` sequences of
``--steps`` steps; "s/seq" is that call.

The last row times the same step with the *naive* coupling -- ``lax.conv_general_dilated`` on a
wrap-padded input, differentiated by JAX's own conv transpose rule -- which on XLA:CPU inside
``lax.scan`` is the slow path of jax-ml/jax#12868 that ``dynamics.lattice_conv``'s custom VJP
avoids. It runs fewer steps (``--naive-steps``) and one timed call because it is that slow.

The PyTorch columns time ``torch_reference.reference_rollout`` -- the cell written as the
reference code writes it (per-step circular pad + ``conv2d``, Python loop over time) -- on the
same inputs and loss; "speed-up" is PyTorch's forward+backward time over locornn's. PyTorch is
optional (``pip install -e '.[bench]'``); without it only locornn's columns are printed.
The rotating-MNIST row also times the reference's encoder and decoder matrix products for the
same batch (Linear 784 -> 2 x 1296 and 1296 -> 784 on all 128 x 18 frames, forward+backward),
the rest of a train step's cost.

    python benchmarks/bench_dynamics.py                  # ~5 minutes on 2 cores
    python benchmarks/bench_dynamics.py --quick          # seconds: fewer steps and repeats
    python benchmarks/bench_dynamics.py --lattices 72x72x16 --steps 50 --json out.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
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
# Named rows at the experiments' own batch and length: (name, lattice, batch, steps)
EXPERIMENT_CASES = (("rotmnist", (36, 36, 1), 128, 18),     # reference rotating MNIST
                    ("orient", (72, 72, 1), 128, 50))       # waves/orientation paper preset
TARGET_SPEEDUP = 3.0        # forward+backward vs the PyTorch cell, every row
TARGET_72X16_MS = 12.0      # 72x72x16 forward+backward per step, 2 cores
TARGET_ROTMNIST_MS = 40.0   # rotating MNIST forward+backward per sequence
REQUIRED_RATIO = 6.0  # the target: 72x72x16 forward+backward within 6x of forward
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
    """Random parameters (reference initial dt, gamma, alpha) and a drive sequence.

    The same numbers as ``torch_reference``'s inputs (same generator, same draws, NCHW there).
    """
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


def measure_torch(row: dict, lattice, args) -> None:
    """Add the PyTorch reference cell's times (same sizes, loss and draws) to ``row``.

    Measured in a child process (see ``torch_reference.main``), so that PyTorch's threads are
    gone before the next JAX row is timed.
    """
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_reference.py")
    numbers = [*lattice, args.steps, args.batch, args.kernel, args.repeats]
    out = subprocess.run([sys.executable, script, *map(str, numbers)], check=True,
                         capture_output=True, text=True).stdout
    ref = json.loads(out.strip().splitlines()[-1])
    row.update(torch_fwd_ms_per_step=1e3 * ref["fwd_s"] / args.steps,
               torch_fwd_bwd_ms_per_step=1e3 * ref["fwd_bwd_s"] / args.steps,
               speedup=ref["fwd_bwd_s"] / row["fwd_bwd_s_per_seq"], torch=ref["version"])


def matmul_cost(batch: int, steps: int, repeats: int) -> float:
    """Seconds of the rotating-MNIST encoder+decoder products, forward+backward, one batch."""
    rng = np.random.default_rng(0)
    frames = jnp.asarray(rng.random((batch * steps, 784)), jnp.float32)
    weights = (jnp.asarray(0.01 * rng.standard_normal((784, 2 * 1296)), jnp.float32),
               jnp.asarray(0.01 * rng.standard_normal((1296, 784)), jnp.float32))

    def loss(weights, frames):
        encoder, decoder = weights
        mean = (frames @ encoder)[:, :1296]
        return jnp.sum(jax.nn.sigmoid(mean @ decoder))

    return best_time(jax.jit(jax.grad(loss)), weights, frames, repeats=repeats)[1]


HEADER = (f"{'case':8s} {'lattice':>9s} {'B':>4s} {'T':>4s} {'fwd ms/step':>11s} "
          f"{'f+b ms/step':>11s} {'f+b s/seq':>9s} {'f+b/fwd':>7s} {'compile s':>9s} "
          f"{'torch fwd':>9s} {'torch f+b':>9s} {'speed-up':>8s}")


def format_row(row: dict) -> str:
    """One line of the results table (PyTorch columns blank when it was not run)."""
    torch_part = (f" {row['torch_fwd_ms_per_step']:9.2f} {row['torch_fwd_bwd_ms_per_step']:9.2f} "
                  f"{row['speedup']:7.1f}x" if "speedup" in row else "")
    return (f"{row['label']:8s} {row['lattice']:>9s} {row['batch']:4d} {row['steps']:4d} "
            f"{row['fwd_ms_per_step']:11.2f} {row['fwd_bwd_ms_per_step']:11.2f} "
            f"{row['fwd_bwd_s_per_seq']:9.3f} {row['ratio']:7.1f} {row['compile_s']:9.1f}"
            + torch_part)


def ratio_verdict(rows: list[dict]) -> str | None:
    """The PASS/FAIL line for the 6x requirement, if the 72x72x16 custom-VJP row was run."""
    target = "x".join(map(str, RATIO_LATTICE))
    for row in rows:
        if row["label"] == "custom" and row["lattice"] == target:
            verdict = "PASS" if row["ratio"] <= REQUIRED_RATIO else "FAIL"
            return (f"{verdict}: {target} forward+backward / forward = {row['ratio']:.1f} "
                    f"(required <= {REQUIRED_RATIO:g}; timings are noisy)")
    return None


def target_verdicts(rows: list[dict]) -> list[str]:
    """PASS/FAIL lines for the performance targets that the rows measured (timings are noisy)."""
    def line(ok: bool, text: str) -> str:
        return f"{'PASS' if ok else 'FAIL'}: {text}"

    lines = []
    compared = [row for row in rows if "speedup" in row]
    if compared:
        slowest = min(compared, key=lambda row: row["speedup"])
        lines.append(line(slowest["speedup"] >= TARGET_SPEEDUP,
                          f"forward+backward >= {TARGET_SPEEDUP:g}x the PyTorch cell at every "
                          f"size (lowest {slowest['speedup']:.1f}x, {slowest['label']} "
                          f"{slowest['lattice']} B={slowest['batch']})"))
    for row in rows:
        if row["label"] == "custom" and row["lattice"] == "72x72x16" and row["batch"] == 16:
            lines.append(line(row["fwd_bwd_ms_per_step"] <= TARGET_72X16_MS,
                              f"72x72x16 forward+backward {row['fwd_bwd_ms_per_step']:.1f} "
                              f"ms/step (target <= {TARGET_72X16_MS:g})"))
        if row["label"] == "rotmnist":
            lines.append(line(1e3 * row["fwd_bwd_s_per_seq"] <= TARGET_ROTMNIST_MS,
                              f"rotating MNIST recurrence {1e3 * row['fwd_bwd_s_per_seq']:.0f} "
                              f"ms/sequence forward+backward (target <= "
                              f"{TARGET_ROTMNIST_MS:g}; encoder+decoder matmuls "
                              f"{1e3 * row['matmul_s']:.0f} ms)"))
    return lines


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
    parser.add_argument("--no-experiments", action="store_true",
                        help="skip the rotating-MNIST and orientation rows")
    parser.add_argument("--no-torch", action="store_true",
                        help="skip the PyTorch reference columns even when torch is installed")
    parser.add_argument("--quick", action="store_true",
                        help="fast variant: 20 steps, 1 repeat, 3 naive steps")
    parser.add_argument("--json", default=None, help="also write the results to this path")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats, args.naive_steps = 20, 1, min(args.naive_steps, 3)
    return args


def torch_available(args) -> bool:
    if args.no_torch:
        return False
    if importlib.util.find_spec("torch") is None:
        print("PyTorch is not installed: only locornn's columns. For the side-by-side table: "
              "pip install -e '.[bench]' (CPU-only wheels: add --extra-index-url "
              "https://download.pytorch.org/whl/cpu)")
        return False
    return True


def cases(args) -> list[tuple[str, tuple[int, int, int], int, int]]:
    """(label, lattice, batch, steps) of every row to time."""
    rows = [("custom", lattice, args.batch, args.steps) for lattice in args.lattices]
    if not args.no_experiments:
        rows += [(name, lattice, batch, min(steps, args.steps) if args.quick else steps)
                 for name, lattice, batch, steps in EXPERIMENT_CASES]
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = jax.devices()[0]
    with_torch = torch_available(args)
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, device {device} "
          f"({device.device_kind}), {os.cpu_count()} CPUs")
    print(f"kernel {args.kernel}x{args.kernel}, {args.padding} padding, "
          f"{'tied' if args.tied else 'untied'} kernels, best of {args.repeats} after a "
          f"warm-up; ms/step = one call / T; s/seq = one call (a batch of B sequences)")
    print(HEADER)
    rows = []
    for label, lattice, batch, steps in cases(args):
        case_args = argparse.Namespace(**{**vars(args), "batch": batch, "steps": steps})
        row = measure(label, lattice, dyn.LocalCoupling(args.padding), case_args)
        if with_torch and args.padding == "circular" and not args.tied:
            measure_torch(row, lattice, case_args)
        if label == "rotmnist":
            row["matmul_s"] = matmul_cost(batch, steps, args.repeats)
        rows.append(row)
        print(format_row(row), flush=True)
    if args.naive_steps > 0:
        naive_args = argparse.Namespace(**{**vars(args), "steps": args.naive_steps,
                                           "repeats": 1})
        rows.append(measure("naive", args.naive_lattice, naive_coupling(args.padding),
                            naive_args))
        print(format_row(rows[-1]), flush=True)
        print("naive = lax.conv on a wrap-padded input with autodiff's conv transpose "
              "(the XLA:CPU trap of jax-ml/jax#12868); custom = dynamics.lattice_conv; "
              "rotmnist/orient = the experiments' batch and length")
    for row in rows:
        if "matmul_s" in row:
            print(f"rotating MNIST encoder+decoder matmuls (B={row['batch']} x T={row['steps']} "
                  f"frames, forward+backward): {1e3 * row['matmul_s']:.0f} ms per batch")
    verdicts = [v for v in [ratio_verdict(rows), *target_verdicts(rows)] if v]
    for verdict in verdicts:
        print(verdict)
    if args.json:
        meta = dict(jax=jax.__version__, backend=jax.default_backend(), device=str(device),
                    kernel=args.kernel, padding=args.padding, tied=args.tied,
                    repeats=args.repeats, cpus=os.cpu_count())
        with open(args.json, "w") as f:
            json.dump(dict(meta=meta, results=rows, verdicts=verdicts), f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
