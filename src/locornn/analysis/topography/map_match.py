r"""Do the orientation map and the phase map share their domains? ``locornn analyze map-match``.

The authors' ``OrientationSelectivity_vs_Phase.png`` sets a trained lattice's orientation map
beside a map of phase and reads the two as sharing their domain structure. This module puts a
number on "sharing": the mutual information between a site's preferred orientation (one of 8
labels) and its phase (binned into 8 equal arcs of the circle),

.. math:: I(O; \Phi) = \sum_{o, \phi} p(o, \phi) \log_2 \frac{p(o, \phi)}{p(o)\, p(\phi)},

over the selective sites, against its value when the phase map is shifted around the torus by a
random offset (``shifts`` draws): a shift keeps each map's own smoothness, so two smooth maps
with unrelated domains score like their shifted copies, and only domains that coincide score
above them. :func:`map_match` reports ``I``, the shifted maps' mean and standard deviation, the
z-score, and the **excess** ``(I - mean) / H(O)``: the share of the orientation map's entropy
that the phase map explains beyond chance (0: unrelated, 1: the phase determines the
orientation). ``phase_map_match`` in Figure 2's sweep table is that excess.

The phase map of a run is its preferred grating phase at the preferred orientation
(``preferred_phase`` of ``orientation_maps.npz``, :mod:`locornn.analysis.topography.orientation`): a
per-site property of the lattice, as the orientation map is. A picture (the authors') is read
as two panels: the left one's 8 flat colours as labels (as
:func:`locornn.analysis.topography.domains.read_figure_maps`), the right one's hue as phase.
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

__all__ = ["add_command", "map_match", "maps_from_picture", "mutual_information",
           "phase_bins", "run_match"]


def phase_bins(phase, bins: int = 8) -> np.ndarray:
    """Phases (radians, any range) -> integer arcs ``0 .. bins - 1`` of the circle."""
    wrapped = np.mod(np.asarray(phase, np.float64), 2 * np.pi)
    return np.minimum((wrapped / (2 * np.pi) * bins).astype(np.int64), bins - 1)


def mutual_information(a, b) -> float:
    """``I(a; b)`` in bits of two equally long integer label arrays (plug-in estimate)."""
    a, b = np.asarray(a, np.int64).ravel(), np.asarray(b, np.int64).ravel()
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"need two non-empty label arrays of one size, got {a.size} and {b.size}")
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    joint /= joint.sum()
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nonzero = joint > 0
    return float((joint[nonzero] * np.log2(joint[nonzero] / outer[nonzero])).sum())


def _entropy(labels) -> float:
    _, counts = np.unique(np.asarray(labels).ravel(), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def map_match(labels, selective, phase, *, bins: int = 8, shifts: int = 200,
              seed: int = 0) -> dict:
    """How much an orientation map and a phase map share their domains (module docstring).

    Args:
      labels: ``(H, W)`` integer preferred orientations.
      selective: ``(H, W)`` bool, the sites that count (None: all).
      phase: ``(H, W)`` phases in radians.
      bins: arcs the phase is binned into.
      shifts: random torus shifts of the phase map for the null distribution.
      seed: their draw.

    Returns:
      ``{"mutual_information", "null_mean", "null_std", "zscore", "excess",
      "orientation_entropy", "sites", "bins", "shifts"}`` (bits; NaN where fewer than two
      selective sites or the orientation map has one label).
    """
    labels = np.asarray(labels)
    phase = np.asarray(phase, np.float64)
    if labels.ndim != 2 or phase.shape != labels.shape:
        raise ValueError(f"need (H, W) orientation labels and phases of one shape, got "
                         f"{labels.shape} and {phase.shape}")
    mask = np.ones(labels.shape, bool) if selective is None else np.asarray(selective, bool)
    if mask.shape != labels.shape:
        raise ValueError(f"selective mask {mask.shape} does not match the map {labels.shape}")
    if bins < 2 or shifts < 1:
        raise ValueError(f"need bins >= 2 and shifts >= 1, got {bins} and {shifts}")
    binned = phase_bins(phase, bins)
    entropy = _entropy(labels[mask]) if mask.any() else 0.0
    out = {"sites": int(mask.sum()), "bins": bins, "shifts": shifts,
           "orientation_entropy": entropy}
    nan = float("nan")
    if mask.sum() < 2 or entropy == 0:
        return {**out, "mutual_information": nan, "null_mean": nan, "null_std": nan,
                "zscore": nan, "excess": nan}
    observed = mutual_information(labels[mask], binned[mask])
    rng = np.random.default_rng(seed)
    height, width = labels.shape
    null = []
    for _ in range(shifts):
        # a shift of at least one site in some direction (the identity is not a shuffle)
        dr, dc = rng.integers(0, height), rng.integers(1 if height == 1 else 0, width)
        if dr == 0 and dc == 0:
            dc = 1 % width
        null.append(mutual_information(labels[mask], np.roll(binned, (dr, dc), (0, 1))[mask]))
    null = np.asarray(null)
    spread = float(null.std())
    return {**out, "mutual_information": observed, "null_mean": float(null.mean()),
            "null_std": spread,
            "zscore": float((observed - null.mean()) / spread) if spread > 0 else nan,
            "excess": float((observed - null.mean()) / entropy)}


def maps_from_picture(path, grid: int = 72, orientations: int = 8, *,
                      marker_distance: float = 60.0, min_side: int = 100):
    """``(labels, selective, phase)`` read off a picture of an orientation map (left panel, flat
    colours) beside a phase map (right panel, hue), each sampled at ``grid x grid`` sites."""
    from matplotlib.colors import rgb_to_hsv

    from locornn.analysis.topography import domains

    rgb = domains._read_rgb(path)
    boxes = domains._panel_boxes(rgb, min_side)
    if len(boxes) != 2:
        raise ValueError(f"expected two map panels (orientation, phase) in {path}, found "
                         f"{len(boxes)}")
    (labels, selective), = domains.label_panels(rgb, boxes[:1], grid, orientations,
                                                marker_distance)
    phase = 2 * np.pi * rgb_to_hsv(domains.panel_sites(rgb, boxes[1], grid) / 255.0)[..., 0]
    return labels, selective, phase


def run_match(run_dir, *, untrained: bool = False, protocol: str | None = None,
              shifts: int = 200, seed: int = 0) -> dict:
    """:func:`map_match` of a run's orientation map (``protocol``'s, default the analysed one)
    and its preferred-phase map, channel 0; writes ``map_match.json`` (``_untrained``)."""
    from locornn.analysis.topography import orientation

    run_dir = pathlib.Path(run_dir)
    paths = orientation.output_paths(run_dir, untrained)
    if not paths["maps"].is_file():
        raise FileNotFoundError(f"no {paths['maps'].name} in {run_dir}: run `locornn analyze "
                                f"orientation {run_dir}{' --untrained' if untrained else ''}` "
                                f"first")
    with np.load(paths["maps"]) as f:
        key = "" if protocol is None else f"_{protocol}"
        if f"selective{key}" not in f:
            raise ValueError(f"protocol {protocol!r} was not measured in {paths['maps']}")
        labels, selective = f[f"preferred{key}"][..., 0], f[f"selective{key}"][..., 0]
        phase = f["preferred_phase"][..., 0]
    report = {"run_dir": str(run_dir), "state": "untrained" if untrained else "trained",
              "protocol": protocol or "analysed",
              **map_match(labels, selective, phase, shifts=shifts, seed=seed)}
    out = run_dir / f"map_match{'_untrained' if untrained else ''}.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    return {**report, "file": str(out)}


def _command(args) -> int:
    try:
        if args.picture:
            labels, selective, phase = maps_from_picture(args.target, grid=args.grid)
            report = map_match(labels, selective, phase, shifts=args.shifts)
        else:
            report = run_match(args.target, untrained=args.untrained, protocol=args.protocol,
                               shifts=args.shifts)
    except (FileNotFoundError, ValueError) as error:
        print(f"locornn: {error}", file=sys.stderr)
        return 2
    print(f"orientation vs phase map over {report['sites']} sites: I = "
          f"{report['mutual_information']:.3f} bits (shifted maps {report['null_mean']:.3f} +- "
          f"{report['null_std']:.3f}, z = {report['zscore']:.1f}); excess "
          f"{report['excess']:.3f} of the orientation map's {report['orientation_entropy']:.2f} "
          f"bits")
    if "file" in report:
        print(f"wrote {report['file']}")
    return 0


def add_command(subparsers) -> None:
    """Register ``map-match`` under ``locornn analyze``."""
    from locornn.configs.domains import at_least, flag, path_flag

    p = subparsers.add_parser(
        "map-match", help="how much a run's orientation map and phase map share their domains",
        description="Mutual information between preferred orientation and preferred phase "
                    "over the selective sites, against torus-shifted phase maps; reads "
                    "RUN_DIR/orientation_maps.npz (run `locornn analyze orientation` first) and "
                    "writes map_match.json, or with --picture reads a PNG of an orientation map "
                    "beside a phase map (the authors' OrientationSelectivity_vs_Phase.png).")
    p.add_argument("target", type=path_flag("any"),
                   help="a run directory, or with --picture a PNG")
    p.add_argument("--picture", action="store_true", help="TARGET is a picture of two maps")
    p.add_argument("--untrained", action="store_true", help="the run's untrained maps")
    p.add_argument("--protocol", default=None, choices=("phases", "trials", "amplitude"),
                   help="whose orientation map (phases, trials, amplitude; default: the one "
                        "the orientation analysis drew)")
    p.add_argument("--grid", type=flag(at_least(1)), default=72,
                   help="sites per side of a picture (72)")
    p.add_argument("--shifts", type=flag(at_least(1)), default=200, help="shifted phase maps (200)")
    p.set_defaults(func=_command)
