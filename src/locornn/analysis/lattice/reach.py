r"""How far one site's input travels through a lattice within a sequence: the lattice's reach.
``locornn analyze reach RUN``.

Neighbouring sites can come to read the image alike (an orientation domain) only if the loss
ties them together, and in a LocoRNN the only thing that ties them is the lattice: the drive
``d_i`` of site ``i`` at step ``s`` changes ``z_j`` at step ``t`` only through the coupling
kernels, and backpropagation through time carries the loss at ``j`` back to ``i``'s encoder
weights along the same path. Within a training sequence of ``T`` frames the lag is at most
``T - 1`` steps, so how far an impulse spreads in ``T`` steps bounds the distance over which
the loss can make sites agree. This module measures that distance.

**Impulse response.** At the operating point of a static uniform frame (grey, 0.5: the blank
of the orientation analysis, :mod:`locornn.analysis.topography.protocols`), the linear response of
the positions to a unit impulse in one site's drive at the first step,

.. math:: r_{t}(j) = \frac{\partial z_t(j)}{\partial d_0(i)}, \qquad t = 0 \dots T - 1,

computed exactly by forward-mode autodiff (``jax.jvp``) through
:func:`locornn.dynamics.rollout` with the run's own kernels, bias and constants
(:func:`impulse_responses`). The channels of ``j`` are summed over in the energy below; the
impulse enters channel 0 of ``i``.

**Reach.** The root-mean-square distance of the response energy from the poked site, over the
first ``T`` steps, averaged over ``S`` poked sites:

.. math:: R(T) = \Big(\frac{\sum_i \sum_{t < T} \sum_j |j - i|^2\, r_t(j)^2}
                            {\sum_i \sum_{t < T} \sum_j r_t(j)^2}\Big)^{1/2}

with ``|j - i|`` the distance on the torus (circular padding) or in the plane (zero padding)
(:func:`reach_curve`). An uncoupled lattice (``K_z = K_v = 0``) has ``R = 0`` at every ``T``;
a coupled one spreads by at most ``(k - 1) / 2`` sites a step for a ``k x k`` kernel, so
``R(T) <= (k - 1)(T - 1) / 2``, and usually far less because each hop is scaled by ``dt^2``
and the tanh's slope. Beside it: the share of the energy that stays on the poked site
(``centre_share``, 1 for an uncoupled lattice). To set ``R`` beside a domain area ``A`` (sites),
use the radius of a disc of that area, ``sqrt(A / pi)``.

**Static spread.** What a time-averaged readout sees (the orientation analysis averages ``z``
over a static grating's presentation after a transient): the response to a unit input held on
one site's drive at every step, averaged over the readout's window
``transient <= t < length`` (``analysis.transient``, ``analysis.length``),

.. math:: m(j) = \frac{1}{L - t_0} \sum_{t_0 \le t < L} \sum_{s \le t}
                 \frac{\partial z_t(j)}{\partial d_s(i)},
          \qquad S = \Big(\frac{\sum_i \sum_j |j - i|^2\, m(j)^2}
                                 {\sum_i \sum_j m(j)^2}\Big)^{1/2}

(:func:`static_responses`, :func:`static_spread`): the smoothing length of the map that the
readout measures. An uncoupled lattice has ``S = 0``; a lattice that carries the held input to
its neighbours within the presentation has ``S`` of the order of its reach over it.

``reach.json`` (``reach_untrained.json``) holds ``R`` at the training sequence length
(``data.sequence_length``) and at the orientation analysis' presentation length
(``analysis.length``), the whole curve and the centre share; ``reach.png`` draws the mean
footprint (energy share by offset from the poked site, log scale) and ``R(T)``.
"""

from __future__ import annotations

import functools
import json
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["add_command", "impulse_responses", "reach_curve", "reach_report", "static_responses",
           "static_spread"]


def impulse_responses(params, drives, initial, sites, coupling=None):
    """Linear response of ``z`` to a unit impulse in one site's drive at step 0.

    Args:
      params: :class:`locornn.dynamics.OscillatorParams` of a local lattice.
      drives: the operating point's drive sequence, ``(T, H, W, C)`` (one sequence).
      initial: :class:`locornn.dynamics.State` before step 0, each ``(H, W, C)``.
      sites: ``(S, 2)`` integer ``(row, column)`` of the poked sites.
      coupling: the lattice's :class:`locornn.dynamics.LocalCoupling` (its padding is used;
        default circular).

    Returns:
      ``(S, T, H, W, C)``: ``dz_t / dd_0(site)`` for each poked site (its channel 0).
    """
    return _linear_responses(params, drives, initial, sites, coupling, static=False)


def static_responses(params, drives, initial, sites, coupling=None):
    """Linear response of ``z`` to a unit input held on one site's drive at every step.

    Same arguments and shape as :func:`impulse_responses`: ``(S, T, H, W, C)``,
    ``sum_{s <= t} dz_t / dd_s(site)``.
    """
    return _linear_responses(params, drives, initial, sites, coupling, static=True)


def _linear_responses(params, drives, initial, sites, coupling, static: bool):
    from locornn import dynamics

    padding = "circular" if coupling is None else coupling.padding
    drives = jnp.asarray(drives, jnp.float32)
    initial = dynamics.State(*(jnp.asarray(x, jnp.float32) for x in initial))
    sites = np.asarray(sites, np.int64).reshape(-1, 2)
    height, width = drives.shape[1:3]
    if sites.size and ((sites < 0).any() or (sites[:, 0] >= height).any()
                       or (sites[:, 1] >= width).any()):
        raise ValueError(f"sites must lie on the {height}x{width} lattice, got {sites.tolist()}")
    return np.asarray(_responses(params, drives, initial, jnp.asarray(sites), padding, static),
                      np.float64)


@functools.partial(jax.jit, static_argnames=("padding", "static"))
def _responses(params, drives, initial, sites, padding, static=False):
    """:func:`impulse_responses` compiled once per shape (the parameters are arguments, so a
    trained and an untrained lattice share the program)."""
    from locornn import dynamics

    # forward mode needs the convolution without its custom (reverse-only) gradient
    coupling = dynamics.LocalCoupling(padding, custom_gradient=False)
    drives, initial = drives[:, None], dynamics.State(*(x[None] for x in initial))

    def run(d):
        return dynamics.rollout(params, d, initial, coupling, hoist_gradients=False)[:, 0]

    def one(site):
        steps = slice(None) if static else 0  # held at every step, or a kick at step 0
        tangent = jnp.zeros_like(drives).at[steps, 0, site[0], site[1], 0].set(1.0)
        return jax.jvp(run, (drives,), (tangent,))[1]

    return jax.vmap(one)(sites)


def _squared_distances(site, shape, circular: bool) -> np.ndarray:
    rows, cols = np.arange(shape[0])[:, None] - site[0], np.arange(shape[1])[None, :] - site[1]
    if circular:  # the shorter way round the torus
        rows = np.minimum(np.abs(rows), shape[0] - np.abs(rows))
        cols = np.minimum(np.abs(cols), shape[1] - np.abs(cols))
    return (rows ** 2 + cols ** 2).astype(np.float64)


def reach_curve(responses, sites, circular: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``R(T)`` and the centre share for ``T = 1 .. T_max`` (module docstring).

    Args:
      responses: ``(S, T_max, H, W, C)`` from :func:`impulse_responses`.
      sites: ``(S, 2)`` the poked sites.
      circular: distances on the torus (circular padding) or in the plane.

    Returns:
      ``(reach, centre_share)``, each ``(T_max,)``; entry ``T - 1`` covers steps ``0 .. T - 1``.
      NaN where no energy has arrived yet (a response that is exactly zero).
    """
    responses = np.asarray(responses, np.float64)
    sites = np.asarray(sites, np.int64).reshape(-1, 2)
    if responses.ndim != 5 or len(responses) != len(sites):
        raise ValueError(f"expected responses (S, T, H, W, C) for {len(sites)} sites, got shape "
                         f"{responses.shape}")
    energy = (responses ** 2).sum(-1)  # (S, T, H, W)
    moment = np.zeros(energy.shape[1])
    total = np.zeros(energy.shape[1])
    centre = np.zeros(energy.shape[1])
    for site, e in zip(sites, energy, strict=True):
        d2 = _squared_distances(site, e.shape[1:], circular)
        moment += (e * d2).sum((1, 2))
        total += e.sum((1, 2))
        centre += e[:, site[0], site[1]]
    moment, total, centre = np.cumsum(moment), np.cumsum(total), np.cumsum(centre)
    with np.errstate(invalid="ignore", divide="ignore"):
        positive = total > 0
        reach = np.where(positive, np.sqrt(moment / np.where(positive, total, 1.0)), np.nan)
        share = np.where(positive, centre / np.where(positive, total, 1.0), np.nan)
    return reach, share


def static_spread(responses, sites, transient: int, circular: bool = True) -> tuple[float, float]:
    """``(S, centre share)`` of held-input responses averaged over steps ``transient ..`` (the
    module docstring's static spread; NaN when the averaged response is exactly zero).

    Args:
      responses: ``(S, T, H, W, C)`` from :func:`static_responses`.
      sites: ``(S, 2)`` the poked sites.
      transient: the first step of the readout's window (``0 <= transient < T``).
      circular: distances on the torus or in the plane.
    """
    responses = np.asarray(responses, np.float64)
    if responses.ndim != 5 or not 0 <= transient < responses.shape[1]:
        raise ValueError(f"expected responses (S, T, H, W, C) and 0 <= transient < T, got shape "
                         f"{responses.shape} and transient {transient}")
    # the window's mean is a one-step response, whose reach is the static spread
    spread, share = reach_curve(responses[:, transient:].mean(axis=1, keepdims=True), sites,
                                circular)
    return float(spread[0]), float(share[0])


def _footprint(responses, sites, steps: int) -> np.ndarray:
    """Mean energy share by offset from the poked site over the first ``steps`` steps,
    ``(H, W)`` with the poked site at the centre (rolled: exact on a torus)."""
    energy = (np.asarray(responses, np.float64)[:, :steps] ** 2).sum((1, -1))  # (S, H, W)
    shape = energy.shape[1:]
    centred = [np.roll(e, (shape[0] // 2 - s[0], shape[1] // 2 - s[1]), (0, 1))
               for e, s in zip(energy, sites, strict=True)]
    mean = np.mean(centred, axis=0)
    return mean / mean.sum() if mean.sum() > 0 else mean


def _operating_point(module, frames):
    """Inside ``model.apply``: the core's parameters, the drives ``(T, B, ...)`` and the initial
    state of a sequence, as the model's own forward pass builds them."""
    encoded = module.encode(frames)[0]
    drives = module._drives(encoded)
    return module.core(), drives, module._initial(encoded[:, 0], drives[0])


def reach_report(run_dir, *, untrained: bool = False, sites: int = 16, seed: int = 0,
                 grey: float = 0.5) -> dict:
    """The reach of a LocoRNN run's lattice; writes ``reach.json`` and ``reach.png``
    (``_untrained``: the initial parameters of the run's seed).

    Args:
      run_dir: a LocoRNN run directory.
      untrained: measure the initial parameters instead of the latest checkpoint.
      sites: how many sites to poke (drawn without replacement from ``seed``).
      seed: the draw of the poked sites.
      grey: the uniform frame that sets the operating point.

    Returns:
      ``{"run_dir", "state", "step", "lattice", "kernel_size", "padding", "dt", "gamma", "alpha",
      "sequence_length", "analysis_length", "reach_training", "reach_analysis",
      "centre_share_training", "centre_share_analysis", "static_spread",
      "static_centre_share", "analysis_transient", "reach_curve", "sites", "files"}``; the
      static spread is over the orientation analysis' window (``analysis.transient`` to
      ``analysis.length``).
    """
    from locornn.analysis.waves.report import _load
    from locornn.checkpoints import read_config

    run_dir = pathlib.Path(run_dir)
    if (run_dir / "config.json").is_file():  # refused before a data set is built
        written = read_config(run_dir)
        if written.model.kind != "locornn":
            raise ValueError(f"{run_dir} is a {written.model.kind!r} run: only a LocoRNN has a "
                             f"lattice whose reach this measures")
        if written.data.name == "hamiltonian":
            raise ValueError(f"{run_dir} is a forecasting run: its lattice runs free after the "
                             f"context, with no drive to poke; the reach is measured for the "
                             f"image-sequence models, whose every frame drives every site")
    if sites < 1:
        raise ValueError(f"sites must be >= 1, got {sites}")
    config, task, params, step = _load(run_dir, untrained)
    model = task.model
    lattice = config.model.lattice
    training, analysis = int(config.data.sequence_length), int(config.analysis.length)
    length = max(training, analysis)
    frames = jnp.full((1, length, *model.image_shape), grey, jnp.float32)
    core, drives, initial = model.apply({"params": params}, frames, method=_operating_point)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(lattice * lattice, size=min(sites, lattice * lattice), replace=False)
    poked = np.stack(np.divmod(chosen, lattice), axis=1)
    one = drives[:, 0], jax.tree.map(lambda x: x[0], initial)
    responses = impulse_responses(core, *one, poked, model.coupling)
    circular = config.model.padding == "circular"
    curve, share = reach_curve(responses, poked, circular)
    held = static_responses(core, one[0][:analysis], one[1], poked, model.coupling)
    spread, spread_centre = static_spread(held, poked, int(config.analysis.transient), circular)
    suffix = "_untrained" if untrained else ""
    files = {"json": run_dir / f"reach{suffix}.json", "plot": run_dir / f"reach{suffix}.png"}
    report = {"run_dir": str(run_dir), "state": "untrained" if untrained else "trained",
              "step": step, "lattice": lattice, "kernel_size": config.model.kernel_size,
              "padding": config.model.padding, "dt": float(core.dt),
              "gamma": float(core.gamma), "alpha": float(core.alpha),
              "sequence_length": training, "analysis_length": analysis,
              "reach_training": float(curve[training - 1]),
              "reach_analysis": float(curve[analysis - 1]),
              "centre_share_training": float(share[training - 1]),
              "centre_share_analysis": float(share[analysis - 1]),
              "static_spread": spread, "static_centre_share": spread_centre,
              "analysis_transient": int(config.analysis.transient),
              "reach_curve": [float(x) for x in curve], "sites": poked.tolist(), "grey": grey}
    files["json"].write_text(json.dumps(report, indent=1) + "\n")
    _plot(_footprint(responses, poked, training), curve, training, analysis, files["plot"],
          f"{run_dir.name}: {report['state']}, step {step}")
    return {**report, "files": {key: str(path) for key, path in files.items()}}


def _plot(footprint, curve, training: int, analysis: int, out, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from locornn import plots

    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.6))
    floor = 1e-6
    shown = left.imshow(np.log10(np.maximum(footprint, floor)), cmap="magma", vmin=np.log10(floor),
                        vmax=0)
    left.set_title(f"energy share by offset, first {training} steps\n(poked site at the centre)",
                   fontsize=9)
    left.set_xticks([])
    left.set_yticks([])
    fig.colorbar(shown, ax=left, fraction=0.046, label="log10 share")
    steps = np.arange(1, len(curve) + 1)
    right.plot(steps, curve, color="k")
    for at, name, colour in ((training, "training sequence", "tab:blue"),
                             (analysis, "grating presentation", "tab:orange")):
        right.axvline(at, color=colour, ls="--", label=f"{name}: R = {curve[at - 1]:.2f}")
    right.set_xlabel("steps after the impulse")
    right.set_ylabel("reach R (sites, RMS)")
    right.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    plots.save(fig, out)


def _command(args) -> int:
    try:
        report = reach_report(args.run_dir, untrained=args.untrained, sites=args.sites,
                              seed=args.seed)
    except (FileNotFoundError, ValueError) as error:
        print(f"locornn: {error}", file=sys.stderr)
        return 2
    print(f"reach of {report['run_dir']} ({report['state']}, step {report['step']}; "
          f"{report['lattice']}x{report['lattice']} lattice, {report['kernel_size']}x"
          f"{report['kernel_size']} kernels; dt {report['dt']:.3f}, gamma {report['gamma']:.3f}, "
          f"alpha {report['alpha']:.3f}):")
    for name, steps in (("training", "sequence_length"), ("analysis", "analysis_length")):
        print(f"  over {report[steps]} steps ({name}): R = {report['reach_' + name]:.2f} sites, "
              f"{report['centre_share_' + name]:.2f} of the energy on the poked site")
    print(f"wrote {report['files']['json']} and {report['files']['plot']}")
    return 0


def add_command(subparsers) -> None:
    """Register ``reach`` under ``locornn analyze``."""
    from locornn.configs import field_flag
    from locornn.configs.domains import at_least, flag, path_flag

    p = subparsers.add_parser(
        "reach", help="how far one site's input spreads through the lattice within a sequence",
        description="Measure a LocoRNN run's reach: the RMS distance an impulse in one site's "
                    "drive spreads through the lattice within the training sequence length "
                    "(and the grating presentation's); write reach.json and reach.png.")
    p.add_argument("run_dir", type=path_flag(),
                   help="a LocoRNN run directory (config.json, checkpoints)")
    p.add_argument("--untrained", action="store_true",
                   help="the initial parameters of the run's seed (the control)")
    p.add_argument("--sites", type=flag(at_least(1)), default=16, help="sites to poke (default 16)")
    p.add_argument("--seed", type=field_flag("seed"), default=0,
                   help="draw of the poked sites (default 0)")
    p.set_defaults(func=_command)
