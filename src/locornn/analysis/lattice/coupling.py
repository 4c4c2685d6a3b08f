r"""Are a trained lattice's sites coupled, and is its encoder laid out on the lattice?
``locornn analyze coupling RUN``.

A LocoRNN can fit its sequences as a bank of independent oscillators: each site reads its own
encoder unit through the centre tap of the drive kernel ``K_x``, restores itself through the
centre tap of ``K_z``, and ignores its neighbours. Such a lattice carries no traveling waves
and has no reason to give neighbouring sites similar responses, so it cannot have orientation
domains. Two numbers tell it apart from a coupled lattice, read off the parameters alone:

* **kernel spread** (:func:`kernel_spread`) of each coupling kernel ``K`` of shape
  ``(k, k, C_in, C_out)``: the share of its absolute weight off the centre tap,

  .. math:: s(K) = 1 - \frac{\sum_{c, c'} |K_{00 c c'}|}{\sum_{p, q, c, c'} |K_{pq c c'}|},

  0 for sites that talk only to themselves, 1 for sites driven only by their neighbours. A
  kernel drawn i.i.d. (LeCun) has ``1 - 1/k^2`` on average (0.89 for 3x3); the constant
  ``1/sites`` initialisation exactly that.
* **encoder topography** (:func:`encoder_topography`) of a dense encoder (one weight vector
  per lattice unit, e.g. ``MLPEncoder``'s or ``GaussianEncoder``'s mean): the mean Pearson
  correlation between the weight vectors of 4-neighbouring sites (same channel), after the
  encoder's LayerNorm (its per-unit scale, and the mean over units taken out, which the
  normalisation removes from every image). Independent weights give 0 (within
  ``~ 1/sqrt(inputs)``); a map in which neighbouring sites read the image alike gives a
  positive value, a checkerboard (neighbours reading it in opposite ways) a negative one.
* **drive topography**: the same of the linear map from the image to each site's drive
  ``K_x * f(x)`` (:func:`drive_weights`), what a site's oscillator is actually driven by: the
  drive kernel mixes neighbouring units, so it can smooth an encoder's layout or undo it.

Both are NaN for the retinotopic encoder, whose sites read different patches by construction,
and for the forecasting models, whose encoder feeds the GRU that infers the initial state
rather than the lattice.
The report (``coupling.json``, or ``coupling_untrained.json`` for the initial parameters of the
run's seed) holds the spreads of the position (``K_z``), velocity (``K_v``) and drive (``K_x``)
kernels and both topographies, with the kernels themselves; ``coupling.png`` draws the three
kernels (channel 0 to channel 0) so their shape can be seen.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys

import numpy as np

__all__ = ["KERNELS", "add_command", "coupling_report", "drive_weights", "encoder_topography",
           "kernel_spread", "neighbour_correlation", "site_weights"]

# report key -> the parameter path of the kernel (locornn.models.cell / oscillator)
KERNELS = {"position": ("core", "position_kernel"), "velocity": ("core", "velocity_kernel"),
           "drive": ("drive", "kernel")}


def kernel_spread(kernel) -> float:
    """Share of ``|K|`` off the centre tap of a ``(k, k, C_in, C_out)`` kernel (module
    docstring); NaN for an all-zero kernel."""
    kernel = np.abs(np.asarray(kernel, np.float64))
    if kernel.ndim != 4 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 == 0:
        raise ValueError(f"expected an odd square kernel (k, k, C_in, C_out), got shape "
                         f"{kernel.shape}")
    total = kernel.sum()
    if total == 0:
        return float("nan")
    centre = kernel.shape[0] // 2
    return float(1.0 - kernel[centre, centre].sum() / total)


def site_weights(weights, lattice: int, channels: int = 1, *, centre: bool = True,
                 scale=None) -> np.ndarray:
    """Each lattice unit's weights over the inputs, ``(inputs, H, W, C)``, as its drive sees them.

    Args:
      weights: ``(inputs, units)`` of a dense layer whose first ``lattice**2 * channels``
        output units are the lattice's, in ``(H, W, C)`` order (the encoders' reshape).
      lattice: the lattice side ``H = W``.
      channels: ``C``.
      centre: subtract the mean over the lattice's units from every input's weights: a
        LayerNorm over the units (``model.drive_layernorm``) removes that common part from
        every image, so it reaches no site.
      scale: the LayerNorm's learned per-unit scale, ``(units,)`` (or None).
    """
    weights = np.asarray(weights, np.float64)
    sites = lattice * lattice * channels
    if weights.ndim != 2 or weights.shape[1] < sites:
        raise ValueError(f"expected dense weights (inputs, >= {sites}) for a {lattice}x{lattice}"
                         f"x{channels} lattice, got shape {weights.shape}")
    units = weights[:, :sites]
    if centre:
        units = units - units.mean(1, keepdims=True)
    if scale is not None:
        units = units * np.asarray(scale, np.float64).ravel()[:sites]
    return units.reshape(len(units), lattice, lattice, channels)


def neighbour_correlation(field, circular: bool = True) -> float:
    """Mean Pearson correlation between the weight vectors of 4-neighbouring sites (same
    channel) of a field ``(inputs, H, W, C)``; a site's vector is its weights over the inputs."""
    vectors = np.moveaxis(np.asarray(field, np.float64), 0, -1)  # (H, W, C, inputs)
    vectors = vectors - vectors.mean(-1, keepdims=True)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    vectors = vectors / np.where(norms > 0, norms, 1.0)
    side = vectors.shape[0]
    correlations = []
    for axis in (0, 1):
        if circular:
            correlations.append((vectors * np.roll(vectors, 1, axis)).sum(-1).ravel())
        else:
            first = np.take(vectors, range(1, side), axis)
            second = np.take(vectors, range(side - 1), axis)
            correlations.append((first * second).sum(-1).ravel())
    return float(np.mean(np.concatenate(correlations)))


def encoder_topography(weights, lattice: int, channels: int = 1, circular: bool = True,
                       *, centre: bool = True, scale=None) -> float:
    """:func:`neighbour_correlation` of a dense encoder's :func:`site_weights` (module
    docstring): 0 for independent weights, positive for neighbours that read the image alike."""
    return neighbour_correlation(site_weights(weights, lattice, channels, centre=centre,
                                              scale=scale), circular)


def drive_weights(field, drive_kernel, padding: str = "circular") -> np.ndarray:
    """The linear map from the image to each site's drive ``K_x * f(x)``: ``field`` (the
    :func:`site_weights`, ``(inputs, H, W, C_f)``) convolved over the lattice with the drive
    kernel ``(k, k, C_f, C)`` by the model's own :func:`locornn.dynamics.lattice_conv`, so the
    orientation and the padding are the model's. Returns ``(inputs, H, W, C)``."""
    from locornn import dynamics

    field = np.asarray(field, np.float32)
    return np.asarray(dynamics.lattice_conv(field, np.asarray(drive_kernel, np.float32),
                                            padding), np.float64)


def _find(params, path):
    node = params
    for key in path:
        if not hasattr(node, "keys") or key not in node:
            return None
        node = node[key]
    return np.asarray(node)


def coupling_report(run_dir, *, untrained: bool = False) -> dict:
    """The coupling of a LocoRNN run's lattice and its encoder's topography; writes
    ``coupling.json`` (``coupling_untrained.json``) and ``coupling.png`` (``_untrained``).

    Returns:
      ``{"run_dir", "state", "step", "lattice", "channels", "encoder", "spread": {"position",
      "velocity", "drive"}, "encoder_topography", "drive_topography", "kernels": {name:
      nested list (k, k, C, C')}, "files"}``; a kernel the model does not have is left out of
      ``spread`` and ``kernels``.
    """
    from locornn.analysis.waves.report import _load
    from locornn.checkpoints import read_config

    run_dir = pathlib.Path(run_dir)
    kind = read_config(run_dir).model.kind if (run_dir / "config.json").is_file() else "locornn"
    if kind != "locornn":  # before building its task: the refusal should not cost a data set
        raise ValueError(f"{run_dir} is a {kind!r} run: only a LocoRNN has a lattice whose "
                         f"coupling kernels this measures")
    config, _, params, step = _load(run_dir, untrained)
    spread, kernels = {}, {}
    for name, path in KERNELS.items():
        kernel = _find(params, path)
        if kernel is not None:
            spread[name], kernels[name] = kernel_spread(kernel), kernel
    lattice, channels = config.model.lattice, config.model.channels
    encoder = config.model.encoder
    project = _find(params, ("encoder", "project", "kernel"))
    topography = drive_topography = float("nan")
    sites = lattice * lattice * config.model.encoded_channels
    # a dense encoder onto the lattice (not the forecasting models', which feed a GRU)
    if (encoder in ("mlp", "gaussian") and project is not None and project.ndim == 2
            and project.shape[1] >= sites and config.data.name != "hamiltonian"):
        circular = config.model.padding == "circular"
        field = site_weights(project, lattice, config.model.encoded_channels,
                             centre=config.model.drive_layernorm,
                             scale=_find(params, ("encoder", "norm", "scale")))
        topography = neighbour_correlation(field, circular)
        if "drive" in kernels:
            drive_topography = neighbour_correlation(
                drive_weights(field, kernels["drive"], config.model.padding), circular)
    suffix = "_untrained" if untrained else ""
    files = {"json": run_dir / f"coupling{suffix}.json", "plot": run_dir / f"coupling{suffix}.png"}
    report = {"run_dir": str(run_dir), "state": "untrained" if untrained else "trained",
              "step": step, "lattice": lattice, "channels": channels, "encoder": encoder,
              "spread": spread, "encoder_topography": topography,
              "drive_topography": drive_topography,
              "kernels": {name: kernel.tolist() for name, kernel in kernels.items()}}
    files["json"].write_text(json.dumps(report, indent=1) + "\n")
    _plot(kernels, spread, (topography, drive_topography), files["plot"],
          f"{run_dir.name}: {report['state']}, step {step}")
    return {**report, "files": {key: str(path) for key, path in files.items()}}


def _plot(kernels: dict, spread: dict, topographies: tuple, out, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from locornn import plots

    fig, axes = plt.subplots(1, max(len(kernels), 1), figsize=(3.2 * max(len(kernels), 1), 3.2),
                             squeeze=False)
    for ax, (name, kernel) in zip(axes[0], kernels.items(), strict=False):
        image = np.asarray(kernel)[:, :, 0, 0]
        bound = float(np.abs(image).max()) or 1.0
        shown = ax.imshow(image, cmap="RdBu_r", vmin=-bound, vmax=bound)
        for (i, j), value in np.ndenumerate(image):
            if image.shape[0] <= 5:
                ax.text(j, i, f"{value:+.2f}", ha="center", va="center", fontsize=7)
        ax.set_title(f"{name} kernel\nspread {spread[name]:.2f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(shown, ax=ax, fraction=0.046)
    encoder, drive = ("n/a" if math.isnan(t) else f"{t:+.3f}" for t in topographies)
    fig.suptitle(f"{title}; topography of the encoder {encoder}, of the drive {drive}",
                 fontsize=9)
    plots.save(fig, out)


def _command(args) -> int:
    try:
        report = coupling_report(args.run_dir, untrained=args.untrained)
    except (FileNotFoundError, ValueError) as error:
        print(f"locornn: {error}", file=sys.stderr)
        return 2
    print(f"coupling of {report['run_dir']} ({report['state']}, step {report['step']}; "
          f"{report['lattice']}x{report['lattice']}x{report['channels']} lattice, "
          f"{report['encoder']} encoder):")
    for name, value in report["spread"].items():
        print(f"  {name:8s} kernel: {value:.3f} of |K| off the centre tap")
    for name in ("encoder", "drive"):
        topo = report[f"{name}_topography"]
        print(f"  {name} topography: " + (
            "not defined for this encoder" if math.isnan(topo) else
            f"{topo:+.3f} (neighbouring sites' weight correlation; 0 for independent weights)"))
    print(f"wrote {report['files']['json']} and {report['files']['plot']}")
    return 0


def add_command(subparsers) -> None:
    """Register ``coupling`` under ``locornn analyze``."""
    from locornn.configs.domains import path_flag

    p = subparsers.add_parser(
        "coupling", help="how far a lattice's kernels reach past the centre tap, and whether "
                         "its encoder is laid out on the lattice",
        description="Measure a LocoRNN run's coupling (the share of each kernel's weight off "
                    "the centre tap) and its encoder's topography (correlation of neighbouring "
                    "sites' weights); write coupling.json and coupling.png into RUN_DIR.")
    p.add_argument("run_dir", type=path_flag(),
                   help="a LocoRNN run directory (config.json, checkpoints)")
    p.add_argument("--untrained", action="store_true",
                   help="the initial parameters of the run's seed (the control)")
    p.set_defaults(func=_command)
