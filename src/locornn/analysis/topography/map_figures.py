"""Figures of orientation maps: hue = preferred orientation, non-selective neurons washed out.

Angles are radians of the grating's wave vector measured from the image column axis towards the
row axis (:mod:`locornn.analysis.topography.stimuli`); orientation is 180-periodic. Maps are drawn
with row 0 at the top (matplotlib's default, like ``figure1.png``), and the legend's bars show the
*stripes* of each preferred grating in that same frame (stripes are perpendicular to the wave
vector: ``theta = 0`` is vertical stripes).

* :func:`orientation_map`, :func:`orientation_histogram`: one run's map and histogram.
* :func:`protocol_figure`: the maps of every selectivity protocol and the preferred-phase map.
* :func:`side_by_side`: several runs' maps in one row.
* :func:`sweep_figure`: the authors' wavelength/kernel layout of a sweep.
"""

from __future__ import annotations

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ... import plots  # noqa: E402
from .domains import domain_statistics, orientation_labels  # noqa: E402
from .selectivity import _as_map  # noqa: E402
from .stimuli import orientation_angles  # noqa: E402

__all__ = ["orientation_histogram", "orientation_map", "protocol_figure", "side_by_side",
           "sweep_figure"]

CMAP = "hsv"  # cyclic: orientation 0 and 180 degrees get the same hue


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def _colours(orientations: int) -> np.ndarray:
    """``(orientations, 3)`` RGB: orientation ``k`` gets hue ``k / orientations`` of ``CMAP``."""
    return plt.get_cmap(CMAP)(np.arange(orientations) / orientations)[:, :3]


def _draw_map(ax, pref_angle, selective, orientations: int, title: str) -> None:
    """One ``(H, W)`` map: hue = preferred orientation, non-selective neurons washed out and
    marked with a black x."""
    h, w = pref_angle.shape
    rgb = _colours(orientations)[orientation_labels(pref_angle, orientations)]
    rgb = np.where(selective[..., None], rgb, 0.5 * rgb + 0.5)
    ax.imshow(rgb, interpolation="nearest")
    rows, cols = np.nonzero(~selective)
    if rows.size:
        bbox = ax.get_window_extent().transformed(ax.figure.dpi_scale_trans.inverted())
        cell_points = 72.0 * min(bbox.width / w, bbox.height / h)
        ax.scatter(cols, rows, marker="x", c="k", s=(0.6 * cell_points) ** 2,
                   linewidths=max(0.3, min(1.2, cell_points / 12)))
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def _draw_legend(ax, orientations: int) -> None:
    """Oriented bars (the stripes of each orientation's grating, as they appear in the map
    frame) in their colours, labelled with the wave-vector angle."""
    colours = _colours(orientations)
    for k, theta in enumerate(orientation_angles(orientations)):
        dx, dy = -np.sin(theta), np.cos(theta)  # stripe direction in (column, row)
        ax.plot([-0.35 * dx, 0.35 * dx], [k - 0.35 * dy, k + 0.35 * dy], color=colours[k],
                linewidth=4, solid_capstyle="round")
        ax.text(0.7, k, f"{np.rad2deg(theta):g}\N{DEGREE SIGN}", va="center", fontsize=7)
    ax.set_xlim(-0.6, 2.2)
    ax.set_ylim(orientations - 0.5, -0.5)  # row axis downwards, like the map
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("preferred\ngrating", fontsize=8)


def _draw_phase(ax, phase, title: str = "preferred grating phase") -> None:
    """A phase map: hue = phase (cyclic), as the authors draw theirs."""
    ax.imshow(np.mod(phase, 2 * np.pi), cmap=CMAP, vmin=0.0, vmax=2 * np.pi,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def _map_figure(panels: list[tuple[str, np.ndarray, np.ndarray]], out_path, orientations: int,
                suptitle: str = "", phase_map=None) -> None:
    n = len(panels)
    extra = 0 if phase_map is None else 1
    fig, axes = plt.subplots(1, n + extra + 1, figsize=(3.2 * (n + extra) + 1.1, 3.6),
                             gridspec_kw={"width_ratios": [1.0] * (n + extra) + [0.32]},
                             squeeze=False)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.1, top=0.8, wspace=0.08)
    for ax, (title, pref, sel) in zip(axes[0, :n], panels, strict=True):
        _draw_map(ax, pref, sel, orientations, title)
    if phase_map is not None:
        _draw_phase(axes[0, n], phase_map)
    _draw_legend(axes[0, n + extra], orientations)
    fig.text(0.5, 0.02, "x: not selective (max d below threshold)", ha="center", fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.savefig(out_path, dpi=150)
    plt.close(fig)


def orientation_map(pref_angle_map, selective, out_path, title: str = "", *,
                    orientations: int = 8, phase_map=None) -> None:
    """Orientation map: hue = preferred orientation (cyclic ``hsv``, one hue per grating
    orientation, 180 / ``orientations`` degrees apart), non-selective neurons washed out and
    marked with a black x, and a legend of oriented bars.

    Args:
      pref_angle_map: ``(H, W)`` or ``(H, W, C)`` preferred orientation in radians (one panel
        per channel).
      selective: same shape, bool.
      out_path: PNG path.
      phase_map: optional ``(H, W)`` or ``(H, W, C)`` preferred grating phase (radians), drawn
        (channel 0) beside the orientation map, as the authors pair them.
    """
    pref = _as_map(pref_angle_map, "pref_angle_map")
    sel = _as_map(selective, "selective").astype(bool)
    if pref.shape != sel.shape:
        raise ValueError(f"map shape {pref.shape} != selective shape {sel.shape}")
    c = pref.shape[-1]
    panels = [(f"channel {i}" if c > 1 else "", pref[..., i], sel[..., i]) for i in range(c)]
    phase = None if phase_map is None else _as_map(phase_map, "phase_map")[..., 0]
    _map_figure(panels, out_path, orientations, title, phase)


def _numbers(stats: dict) -> str:
    def f(key, spec):
        value = stats.get(key)
        return "n/a" if value is None or not np.isfinite(value) else format(value, spec)
    return (f"agreement {f('neighbour_agreement', '.2f')}, area {f('domain_area', '.0f')}\n"
            f"selective {f('fraction_selective', '.2f')}")


def protocol_figure(result: dict, out_path, *, orientations: int = 8, title: str = "") -> None:
    """Every protocol's orientation map (channel 0) with its neighbour agreement, domain area
    and fraction selective, then the preferred-phase map: ``result`` from
    :func:`analyze_orientation`."""
    summaries = result["summary"]["protocols"]
    panels = []
    for name, maps in result["protocols"].items():
        mark = " (the map)" if name == result["summary"]["protocol"] else ""
        panels.append((f"{name}{mark}\n{_numbers(summaries[name])}",
                       result["angles"][maps["preferred"][..., 0]],
                       maps["selective"][..., 0]))
    _map_figure(panels, out_path, orientations, title,
                _as_map(result["preferred_phase"], "preferred_phase")[..., 0])


def side_by_side(maps: dict, out_path, *, orientations: int = 8, title: str = "") -> None:
    """Several orientation maps in one figure (Figure 2: trained on waves / on noise /
    untrained), one shared legend.

    Args:
      maps: ``{panel title: (pref_angle_map, selective)}``; ``(H, W, C)`` maps show channel 0.
    """
    panels = []
    for name, (pref, sel) in maps.items():
        pref, sel = _as_map(pref, "pref_angle_map"), _as_map(sel, "selective")
        panels.append((name, pref[..., 0], sel[..., 0].astype(bool)))
    _map_figure(panels, out_path, orientations, title)


SWEEP_ROWS = {"wavelength": (r"$\lambda^{\mathrm{train}}$", "{:g}"),
              "kernel": (r"size$(\mathbf{w}_z)$", "{0:g}\N{MULTIPLICATION SIGN}{0:g}")}


def sweep_figure(maps: dict, out_path, *, orientations: int = 8, title: str = "",
                 reference: dict | None = None) -> dict:
    """The authors' layout of Figure 2's sweep: a row of maps for the training wavelength
    (5, 10, 16, 24 px) and a row for the coupling kernel size (3, 5, 7, 9), each panel titled
    with its value and its :func:`~locornn.analysis.topography.domains.domain_statistics` (neighbour
    agreement, area-weighted domain area, fraction selective).

    Args:
      maps: ``{(row, value): (pref_angle, selective)}`` with ``row`` ``"wavelength"`` or
        ``"kernel"``; ``(H, W)`` or ``(H, W, C)`` maps (channel 0 is drawn and measured). Each
        row lists its values in increasing order; a row without maps is left out.
      reference: optional ``{(row, value): (neighbour agreement, domain area)}`` printed under
        each panel's numbers (e.g. the authors').

    Returns:
      ``{(row, value): domain statistics}`` of every panel drawn.
    """
    unknown = {row for row, _ in maps} - set(SWEEP_ROWS)
    if unknown:
        raise ValueError(f"sweep rows must be among {tuple(SWEEP_ROWS)}, got {sorted(unknown)}")
    rows = [row for row in SWEEP_ROWS if any(r == row for r, _ in maps)]
    if not rows:
        raise ValueError("no maps to draw")
    columns = max(sum(r == row for r, _ in maps) for row in rows)
    fig, axes = plt.subplots(len(rows), columns + 1, squeeze=False,
                             figsize=(3.0 * columns + 1.4, 3.6 * len(rows)),
                             gridspec_kw={"width_ratios": [1.0] * columns + [0.32]})
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.04, top=0.88 if title else 0.93,
                        wspace=0.1, hspace=0.45)
    stats = {}
    for i, row in enumerate(rows):
        label, fmt = SWEEP_ROWS[row]
        values = sorted(v for r, v in maps if r == row)
        for j in range(columns):
            ax = axes[i, j]
            if j >= len(values):
                ax.axis("off")
                continue
            pref, sel = maps[(row, values[j])]
            pref = _as_map(pref, "pref_angle")[..., 0]
            sel = _as_map(sel, "selective")[..., 0].astype(bool)
            numbers = domain_statistics(orientation_labels(pref, orientations), sel)
            stats[(row, values[j])] = numbers
            text = f"{fmt.format(values[j])}\n{_numbers(numbers)}"
            if reference and (row, values[j]) in reference:
                agreement, area = reference[(row, values[j])]
                text += f"\nauthors: {agreement:.2f}, {area:.0f}"
            _draw_map(ax, pref, sel, orientations, text)
        axes[i, 0].text(-0.12, 0.5, label, transform=axes[i, 0].transAxes, rotation=90,
                        ha="right", va="center", fontsize=12)
        if i == 0:
            _draw_legend(axes[i, columns], orientations)
        else:
            axes[i, columns].axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(out_path, dpi=150)
    plt.close(fig)
    return stats


def orientation_histogram(pref_angle, selective, out_path, *, orientations: int = 8,
                          title: str = "") -> None:
    """Bar chart: number of selective neurons preferring each orientation.

    Args:
      pref_angle: preferred orientations in radians (any shape); selective: same shape, bool.
    """
    pref_angle = np.asarray(pref_angle)
    selective = np.asarray(selective, dtype=bool)
    if pref_angle.shape != selective.shape:
        raise ValueError(f"shape {pref_angle.shape} != selective shape {selective.shape}")
    index = orientation_labels(pref_angle, orientations)[selective]
    counts = np.bincount(index, minlength=orientations)
    degrees = orientation_angles(orientations, degrees=True)
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.bar(degrees, counts, width=0.8 * 180 / orientations, color=_colours(orientations),
           edgecolor="k", linewidth=0.5)
    ax.set_xticks(degrees)
    ax.set_xticklabels([f"{x:g}" for x in degrees], fontsize=7)
    ax.set_xlabel("preferred orientation (degrees, wave-vector angle)")
    ax.set_ylabel("selective neurons")
    frac = selective.mean() if selective.size else float("nan")
    ax.set_title(title or f"{selective.sum()} of {selective.size} neurons selective "
                          f"({100 * frac:.0f}%)", fontsize=9)
    plots.save(fig, out_path, dpi=150)
