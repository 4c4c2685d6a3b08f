r"""Bounded state and gradients, measured: ``locornn analyze stability``.

The paper claims LocoRNN "inherits the provably bounded hidden state and gradient magnitudes of
the coRNN" (Rusch & Mishra 2021). This module measures both on random input, for four
recurrent models of matched size ``N = L * L`` units:

* **LocoRNN**: :func:`locornn.dynamics.step` with :class:`~locornn.dynamics.LocalCoupling` on a
  ``(B, L, L, 1)`` lattice, 3x3 kernels ``K_z, K_v ~ N(0, 1/3^2)`` (LeCun normal: fan-in 9),
  ``dt = 0.125`` (the reference's ``sigmoid(-1.95)``), ``gamma = 1``, ``alpha = 0.5``;
* **coRNN**: the same step with :class:`~locornn.dynamics.DenseCoupling`, ``(N, N)`` kernels
  ``~ N(0, 1/N)``;
* **LSTM**: :class:`flax.linen.OptimizedLSTMCell` with ``N`` hidden units, Flax's default init;
* **vanilla RNN**: ``h' = tanh(W h + x + b)``, ``W ~ N(0, 1/N)``, ``b = 0``: the model the
  paper contrasts with.

Every model reads the same i.i.d. standard-normal drive ``x_t ~ N(0, I)`` of shape ``(B, N)``
(the oscillators as their drive ``d_t``, reshaped to the lattice for LocoRNN; the LSTM as its
input) from a zero initial state, unrolled with ``lax.scan`` under ``jit``. Two measurements:

1. **state**: ``m_t = max_{b, i} |h_t[b, i]|`` for ``t = 1 .. T`` (``h = z``, the position, for
   the oscillators; the LSTM's output ``h``).
2. **gradient**: for horizons ``T_k`` on a log grid, ``g(T_k) = || dL/dh_0 ||_2`` with
   ``L = sum_{b, i} h_{T_k}[b, i]``, the gradient w.r.t. the whole initial hidden state
   (``(z_0, v_0)`` for the oscillators, ``(c_0, h_0)`` for the LSTM), taken at ``h_0 = 0`` with
   :func:`jax.grad` through the scan (backpropagation through time). A bounded ``g`` is what
   lets BPTT run over long sequences; ``g -> 0`` exponentially is the vanishing gradient,
   ``g -> inf`` the exploding one.

   All horizons share one compiled program per model: the scan always runs ``T_max`` steps and
   a step ``t >= T`` leaves the state unchanged (``h_{t+1} = h_t``), so ``h_{T_max} = h_T`` and
   the gradient is that of the ``T``-step rollout.

With ``--run RUN_DIR`` (repeatable) the oscillator core of a trained LocoRNN/coRNN run (its
learned kernels, bias, ``dt``, ``gamma``, ``alpha`` and coupling, at the run's own state shape)
is measured too, as ``"<kind> (trained)"``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import pathlib
import sys
import time
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
from jax import lax
from tqdm import tqdm

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from locornn import dynamics, plots  # noqa: E402

__all__ = [
    "HORIZONS",
    "RecurrentModel",
    "add_command",
    "default_models",
    "format_table",
    "gradient_norm",
    "max_state_trace",
    "measure",
    "stability_report",
    "trained_model",
]

Array = jax.Array
# Horizons T of ||dL/dh_0||: a log grid up to 10^4 (those <= --steps are used).
HORIZONS = (10, 30, 100, 300, 1000, 3000, 10000)


@dataclasses.dataclass(frozen=True, eq=False)  # hashed by identity: a static jit argument
class RecurrentModel:
    """One recurrent model, as pure functions of a carry.

    Attributes:
      name: label in the table, the plot and the JSON.
      params: its parameter pytree.
      step: ``(params, carry, x) -> carry``, ``x`` of shape ``(B, N)`` (the drive at one step).
      initial: ``(batch) -> carry`` at zero (a pytree of ``(B, ...)`` arrays).
      hidden: ``carry -> h``, the hidden state that is measured (``(B, ...)``).
    """

    name: str
    params: object
    step: Callable
    initial: Callable
    hidden: Callable


# ----------------------------------------------------------------------------------------------
# The four models
# ----------------------------------------------------------------------------------------------


def oscillator_model(name: str, params: dynamics.OscillatorParams, coupling,
                     state_shape: tuple[int, ...]) -> RecurrentModel:
    r"""LocoRNN or coRNN: carry ``(z, v)``, each ``(B, *state_shape)``; measured ``h = z``.

    .. math::
        v_{t+1} = v_t + \Delta t\,(\tanh(K_z * z_t + K_v * v_t + x_{t+1} + b)
                  - \gamma z_t - \alpha v_t), \qquad z_{t+1} = z_t + \Delta t\, v_{t+1}

    (:func:`locornn.dynamics.step`; the drive ``x`` of shape ``(B, N)`` is reshaped to
    ``(B, *state_shape)``, ``N = prod(state_shape)``.)
    """

    def step(p, carry, x):
        return tuple(dynamics.step(p, dynamics.State(*carry), x.reshape(carry[0].shape),
                                   coupling))

    def initial(batch):
        zeros = jnp.zeros((batch, *state_shape), jnp.float32)
        return (zeros, zeros)

    return RecurrentModel(name, params, step, initial, lambda carry: carry[0])


def lstm_model(key: Array, units: int) -> RecurrentModel:
    """LSTM (:class:`flax.linen.OptimizedLSTMCell`, default init), carry ``(c, h)`` each
    ``(B, units)``, input ``(B, units)``; measured ``h``."""
    cell = nn.OptimizedLSTMCell(units)
    params = cell.init(key, cell.initialize_carry(key, (1, units)), jnp.zeros((1, units)))

    def step(p, carry, x):
        carry, _ = cell.apply(p, carry, x)
        return carry

    def initial(batch):
        zeros = jnp.zeros((batch, units), jnp.float32)
        return (zeros, zeros)

    return RecurrentModel("LSTM", params, step, initial, lambda carry: carry[1])


def vanilla_model(key: Array, units: int) -> RecurrentModel:
    r"""Vanilla RNN :math:`h_{t+1} = \tanh(W h_t + x_{t+1} + b)`, ``W ~ N(0, 1/N)`` ``(N, N)``
    (``h @ W``), ``b = 0``; carry ``h`` of shape ``(B, N)``."""
    params = {"W": jax.random.normal(key, (units, units)) / math.sqrt(units),
              "b": jnp.zeros((units,))}

    def step(p, h, x):
        return jnp.tanh(h @ p["W"] + x + p["b"])

    return RecurrentModel("vanilla RNN", params, step,
                          lambda batch: jnp.zeros((batch, units), jnp.float32), lambda h: h)


def default_models(lattice: int = 16, seed: int = 0) -> list[RecurrentModel]:
    """LocoRNN, coRNN, LSTM and vanilla RNN of ``N = lattice**2`` units at their random init
    (see the module docstring); the same ``seed`` gives the same parameters."""
    if lattice < 1:
        raise ValueError(f"--lattice must be >= 1, got {lattice}")
    n = lattice * lattice
    keys = jax.random.split(jax.random.PRNGKey(seed), 6)
    local = dynamics.OscillatorParams(
        position_kernel=jax.random.normal(keys[0], (3, 3, 1, 1)) / 3.0,
        velocity_kernel=jax.random.normal(keys[1], (3, 3, 1, 1)) / 3.0,
        bias=jnp.zeros((1,)), dt=0.125, gamma=1.0, alpha=0.5)
    dense = dynamics.OscillatorParams(
        position_kernel=jax.random.normal(keys[2], (n, n)) / math.sqrt(n),
        velocity_kernel=jax.random.normal(keys[3], (n, n)) / math.sqrt(n),
        bias=jnp.zeros((n,)), dt=0.125, gamma=1.0, alpha=0.5)
    return [
        oscillator_model("LocoRNN", local, dynamics.LocalCoupling(), (lattice, lattice, 1)),
        oscillator_model("coRNN", dense, dynamics.DenseCoupling(), (n,)),
        lstm_model(keys[4], n),
        vanilla_model(keys[5], n),
    ]


def trained_model(run_dir) -> RecurrentModel:
    """The oscillator core of a trained LocoRNN/coRNN run (latest checkpoint), at the run's own
    state shape and coupling, named ``"<kind> (trained)"``.

    Raises:
      FileNotFoundError: not a run directory, or no checkpoint.
      ValueError: the run's model is not an oscillator (LocoRNN/coRNN).
    """
    from locornn.checkpoints import load_run, read_config
    from locornn.models.forecasting import oscillator_parameters

    run_dir = pathlib.Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json); pass a "
                                f"directory written by `locornn train`")
    try:
        kind = json.loads((run_dir / "config.json").read_text()).get("model", {}).get("kind")
    except (ValueError, AttributeError):  # not a JSON object: read_config says so in one line
        kind = read_config(run_dir).model.kind
    if kind not in ("locornn", "cornn"):
        raise ValueError(f"{run_dir} is a {kind!r} run; --run needs a locornn or cornn run")
    config, _, state = load_run(run_dir)
    params, coupling = oscillator_parameters(state.params, config.model)
    shape = ((config.model.lattice, config.model.lattice, config.model.channels)
             if kind == "locornn" else (config.model.hidden_units,))
    return oscillator_model(f"{'LocoRNN' if kind == 'locornn' else 'coRNN'} (trained)",
                            params, coupling, shape)


# ----------------------------------------------------------------------------------------------
# The measurements
# ----------------------------------------------------------------------------------------------


def random_drive(seed: int, steps: int, batch: int, units: int) -> Array:
    """The shared input: ``x_t ~ N(0, I)``, time-major ``(steps, batch, units)``."""
    return jax.random.normal(jax.random.PRNGKey(seed + 1), (steps, batch, units))


@functools.partial(jax.jit, static_argnums=0)
def _max_trace(model: RecurrentModel, params, drives: Array) -> Array:
    def body(carry, x):
        carry = model.step(params, carry, x)
        return carry, jnp.max(jnp.abs(model.hidden(carry)))

    _, trace = lax.scan(body, model.initial(drives.shape[1]), drives)
    return trace


def max_state_trace(model: RecurrentModel, drives: Array) -> np.ndarray:
    """``m_t = max_{b,i} |h_t|`` for ``t = 1 .. T``.

    Args:
      drives: ``(T, B, N)``.

    Returns:
      numpy ``(T,)``; ``m[t-1]`` is the maximum after step ``t``.
    """
    return np.asarray(_max_trace(model, model.params, drives))


@functools.partial(jax.jit, static_argnums=0)
def _gradient_norm(model: RecurrentModel, params, drives: Array, horizon: Array) -> Array:
    def loss(initial):
        def body(carry, inputs):
            t, x = inputs
            new = model.step(params, carry, x)
            # Steps t >= T leave the carry unchanged: the final carry is h_T (see module doc).
            carry = jax.tree.map(lambda a, b: jnp.where(t < horizon, a, b), new, carry)
            return carry, None

        final, _ = lax.scan(body, initial, (jnp.arange(drives.shape[0]), drives))
        return jnp.sum(model.hidden(final))

    grad = jax.grad(loss)(model.initial(drives.shape[1]))
    return jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree.leaves(grad)))


def gradient_norm(model: RecurrentModel, drives: Array, horizon: int) -> float:
    r"""``|| dL/dh_0 ||_2`` with ``L = sum h_T`` for ``T = horizon`` (at ``h_0 = 0``).

    Args:
      drives: ``(T_max, B, N)`` with ``T_max >= horizon`` (one compiled program for every
        ``horizon``: steps past it are masked out).
      horizon: ``T``, ``1 <= T <= T_max``.
    """
    if not 1 <= horizon <= drives.shape[0]:
        raise ValueError(f"horizon must be in [1, {drives.shape[0]}], got {horizon}")
    return float(_gradient_norm(model, model.params, drives, jnp.asarray(horizon)))


def measure(models: list[RecurrentModel], drives: Array, horizons, progress: bool = True
            ) -> dict[str, dict]:
    """Both measurements for every model.

    Returns:
      ``{name: {"max_state": (T,) numpy, "gradient_norm": {T_k: float}}}``.
    """
    results = {}
    for model in tqdm(models, desc="models", disable=not progress):
        trace = max_state_trace(model, drives)
        grads = {int(h): gradient_norm(model, drives, int(h))
                 for h in tqdm(horizons, desc=model.name, leave=False, disable=not progress)}
        results[model.name] = {"max_state": trace, "gradient_norm": grads}
    return results


# ----------------------------------------------------------------------------------------------
# Report: plot, table, JSON
# ----------------------------------------------------------------------------------------------


def _log_indices(steps: int, count: int = 400) -> np.ndarray:
    return np.unique(np.geomspace(1, steps, count).astype(int)) - 1


def plot(results: dict, out) -> None:
    """Two log-log panels: ``max|h_t|`` against ``t`` and ``||dL/dh_0||`` against ``T``."""
    fig, (ax_state, ax_grad) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, r in results.items():
        idx = _log_indices(len(r["max_state"]))
        ax_state.plot(idx + 1, np.maximum(r["max_state"][idx], 1e-30), label=name)
        horizons = sorted(r["gradient_norm"])
        values = [max(r["gradient_norm"][h], 1e-30) for h in horizons]  # 0 drawn at the floor
        ax_grad.plot(horizons, values, "o-", label=name, markersize=4)
    ax_state.set(xscale="log", yscale="log", xlabel="step t",
                 ylabel="max |h_t| over batch and units (oscillators: z)",
                 title="hidden state")
    ax_grad.set(xscale="log", yscale="log", xlabel="horizon T",
                ylabel="||dL/dh_0||,  L = sum h_T", title="gradient w.r.t. the initial state")
    for ax in (ax_state, ax_grad):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    plots.save(fig, out)


def summary(results: dict) -> dict:
    """JSON-ready: ``{name: {"max_state_final", "max_state_overall", "gradient_norm"}}``."""
    def number(x):
        x = float(x)
        return x if math.isfinite(x) else str(x)

    return {name: {"max_state_final": number(r["max_state"][-1]),
                   "max_state_overall": number(np.max(r["max_state"])),
                   "gradient_norm": {str(h): number(g) for h, g in r["gradient_norm"].items()}}
            for name, r in results.items()}


def format_table(table: dict, steps: int) -> str:
    """One line per model: ``max|h|`` at ``T = steps`` (and overall), ``||dL/dh0||`` per T."""
    horizons = sorted({int(h) for row in table.values() for h in row["gradient_norm"]})
    width = max(len(name) for name in table)
    head = (f"  {'model':<{width}}  {f'max|h| T={steps}':>14}  {'max|h| all t':>12}  "
            + "  ".join(f"{f'g(T={h})':>10}" for h in horizons))
    lines = [head]
    for name, row in table.items():
        cells = "  ".join(f"{float(row['gradient_norm'][str(h)]):>10.3g}" for h in horizons)
        lines.append(f"  {name:<{width}}  {float(row['max_state_final']):>14.4g}  "
                     f"{float(row['max_state_overall']):>12.4g}  {cells}")
    return "\n".join(lines)


def stability_report(*, steps: int = 10000, lattice: int = 16, batch: int = 4, seed: int = 0,
                     out="results/stability.png", json_path=None, run_dirs=(),
                     progress: bool = True) -> dict:
    """Measure, plot and tabulate (see the module docstring).

    Returns:
      ``{"steps", "lattice", "units", "batch", "seed", "horizons", "seconds", "models":
      summary(...)}``; the same dict is written to ``json_path`` if given.
    """
    for flag, value, low in (("--steps", steps, 1), ("--lattice", lattice, 1),
                             ("--batch", batch, 1)):
        if value < low:
            raise ValueError(f"{flag} must be >= {low}, got {value}")
    start = time.perf_counter()
    models = default_models(lattice, seed)
    models += [trained_model(run_dir) for run_dir in run_dirs]
    horizons = [h for h in HORIZONS if h <= steps] or [steps]
    drives = random_drive(seed, steps, batch, lattice * lattice)
    results = {}
    for model in models:  # a trained core has its own state size: its own drive
        units = math.prod(model.hidden(model.initial(1)).shape[1:])
        x = drives if units == lattice * lattice else random_drive(seed, steps, batch, units)
        results.update(measure([model], x, horizons, progress))
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(results, out)
    report = {"steps": steps, "lattice": lattice, "units": lattice * lattice, "batch": batch,
              "seed": seed, "horizons": horizons, "runs": [str(run) for run in run_dirs],
              "seconds": round(time.perf_counter() - start, 2),
              "models": summary(results), "plot": str(out)}
    if json_path is not None:
        json_path = pathlib.Path(json_path)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    return report


# ----------------------------------------------------------------------------------------------
# Command line: ``locornn analyze stability``
# ----------------------------------------------------------------------------------------------


def _command(args) -> int:
    try:
        report = stability_report(steps=args.steps, lattice=args.lattice, batch=args.batch,
                                  seed=args.seed, out=args.out, json_path=args.json,
                                  run_dirs=args.run, progress=not args.quiet)
    except (FileNotFoundError, ValueError) as error:
        print(f"locornn: {error}", file=sys.stderr)
        return 2
    print(f"bounded state and gradients ({report['units']} units, batch {report['batch']}, "
          f"i.i.d. N(0, 1) drive, seed {report['seed']}; g(T) = ||dL/dh0||, L = sum h_T; "
          f"{report['seconds']} s):")
    print(format_table(report["models"], report["steps"]))
    print(f"wrote {report['plot']}")
    if args.json:
        print(f"wrote {args.json}")
    return 0


def add_command(subparsers) -> None:
    """Register ``stability`` under ``locornn analyze``."""
    from locornn.configs import field_flag
    from locornn.configs.domains import at_least, flag, path_flag

    p = subparsers.add_parser(
        "stability", help="max|h| and ||dL/dh0|| over 10^4 steps: LocoRNN, coRNN, LSTM, RNN",
        description="Roll out LocoRNN, coRNN, an LSTM and a vanilla tanh RNN of matched size "
                    "on random input; plot max|h_t| against t and ||dL/dh_0|| (L = sum h_T) "
                    "against T on log-log axes.")
    p.add_argument("--steps", type=flag(at_least(1)), default=10000,
                   help="rollout length (default 10000)")
    p.add_argument("--lattice", type=field_flag("model.lattice"), default=16,
                   help="lattice side L; every model has L*L units (default 16)")
    p.add_argument("--batch", type=flag(at_least(1)), default=4, help="sequences (default 4)")
    p.add_argument("--seed", type=field_flag("seed"), default=0,
                   help="parameters and drive (default 0)")
    p.add_argument("--out", default="results/stability.png", type=path_flag(folder=None),
                   help="plot path")
    p.add_argument("--json", default=None, type=path_flag(folder=False),
                   help="also write the table as JSON here")
    p.add_argument("--run", action="append", default=[], metavar="RUN_DIR", type=path_flag(),
                   help="also measure the trained core of a locornn/cornn run (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_command)
