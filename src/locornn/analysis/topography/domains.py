"""Orientation domains measured the way one reads them off a map of 8 colours (NumPy/SciPy).

A map is an ``(H, W)`` or ``(H, W, C)`` array of integer labels (the preferred orientation as
one of ``orientations`` grating orientations, :func:`orientation_labels`) with an optional mask
of selective sites; channels are separate maps (neighbours and domains never cross channels).
Boundaries are open (no wrap-around), as for a picture of the map.

* :func:`neighbour_agreement`: the fraction of 4-neighbour pairs of selective sites with the
  same label. Independent labels give the sum of the squared label frequencies
  (:func:`chance_agreement`), ``1 / 8 = 0.125`` for 8 equally frequent labels.
* :func:`domain_areas`: the areas (in sites) of the connected (4-neighbour) regions of selective
  sites with one label; :func:`area_weighted_mean_area` ``= sum a^2 / sum a`` is the mean area
  of the domain a randomly chosen selective site belongs to (one huge domain dominates it, as it
  dominates the look of a map, while specks barely count).
* :func:`domain_statistics`: both, with the fraction selective, as a JSON-ready dict.
* :func:`read_figure_maps` / :func:`figure_statistics`: the same numbers from a picture of
  maps, e.g. the authors' ``OC_Size_v_WL_v_Ksize.png`` (``locornn analyze figure-domains PNG``).
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np
from scipy import ndimage

__all__ = [
    "AUTHORS_NUMBERS",
    "AUTHORS_PANELS",
    "area_weighted_mean_area",
    "chance_agreement",
    "domain_areas",
    "domain_statistics",
    "figure_statistics",
    "neighbour_agreement",
    "orientation_labels",
    "read_figure_maps",
    "add_command",
]

# The panels of the authors' OC_Size_v_WL_v_Ksize.png in reading order, as ``(row, value)``
# (the keys of locornn.analysis.topography.map_figures.sweep_figure): training wavelength 5, 10, 16,
# 24 px (3x3 kernels), then kernel size 3, 5, 7, 9 (24 px waves; the first of these is the same map
# as the wavelength-24 panel).
AUTHORS_PANELS = (("wavelength", 5), ("wavelength", 10), ("wavelength", 16), ("wavelength", 24),
                  ("kernel", 3), ("kernel", 5), ("kernel", 7), ("kernel", 9))

# (neighbour agreement, area-weighted domain area in sites) of those panels, as
# ``figure_statistics("OC_Size_v_WL_v_Ksize.png")`` measures them (the picture is the authors',
# MIT licence, kept outside the repository; tests/test_domains.py checks these against it when
# it is at ../shared/reference/). The target numbers for Figure 2's sweep.
AUTHORS_NUMBERS = {
    ("wavelength", 5): (0.739, 187), ("wavelength", 10): (0.787, 87),
    ("wavelength", 16): (0.829, 132), ("wavelength", 24): (0.839, 191),
    ("kernel", 3): (0.839, 191), ("kernel", 5): (0.858, 170),
    ("kernel", 7): (0.883, 300), ("kernel", 9): (0.903, 339),
}


def orientation_labels(pref_angle, orientations: int = 8) -> np.ndarray:
    """Index of the nearest of the ``orientations`` grating orientations ``k * 180 /
    orientations`` degrees (orientation is 180-periodic, so 179 degrees is label 0)."""
    step = np.pi / orientations
    return np.rint(np.asarray(pref_angle, dtype=np.float64) / step).astype(int) % orientations


def _label_map(labels, selective):
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = labels[..., None]
    if labels.ndim != 3 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an integer (H, W) or (H, W, C) map, got "
                         f"{labels.dtype} {labels.shape}")
    if selective is None:
        mask = np.ones(labels.shape, dtype=bool)
    else:
        mask = np.asarray(selective, dtype=bool)
        if mask.ndim == 2:
            mask = mask[..., None]
        if mask.shape != labels.shape:
            raise ValueError(f"selective mask {mask.shape} != label map {labels.shape}")
    return labels, mask


def neighbour_agreement(labels, selective=None) -> float:
    """Fraction of 4-neighbour pairs (each unordered pair once, within a channel, both sites
    selective) whose two labels are equal; NaN without such a pair."""
    labels, mask = _label_map(labels, selective)
    same = pairs = 0
    for axis in (0, 1):
        a, b = np.swapaxes(labels, 0, axis), np.swapaxes(mask, 0, axis)
        both = b[1:] & b[:-1]
        pairs += int(both.sum())
        same += int(((a[1:] == a[:-1]) & both).sum())
    return same / pairs if pairs else float("nan")


def chance_agreement(labels, selective=None) -> float:
    """``sum_k p_k^2`` with ``p_k`` the frequency of label ``k`` among the selective sites: the
    agreement expected when the same labels are placed at random; NaN without selective
    sites."""
    labels, mask = _label_map(labels, selective)
    values = labels[mask]
    if values.size == 0:
        return float("nan")
    p = np.unique(values, return_counts=True)[1] / values.size
    return float((p**2).sum())


def domain_areas(labels, selective=None) -> np.ndarray:
    """Areas (sites) of the domains: connected regions of selective sites with one label, sites
    connected through their 4 neighbours, within a channel. Sorted, largest first."""
    labels, mask = _label_map(labels, selective)
    areas = []
    for c in range(labels.shape[2]):
        for value in np.unique(labels[..., c][mask[..., c]]):
            components, n = ndimage.label((labels[..., c] == value) & mask[..., c])
            areas.append(np.bincount(components.ravel(), minlength=n + 1)[1:])
    if not areas:
        return np.zeros(0, dtype=int)
    return np.sort(np.concatenate(areas))[::-1]


def area_weighted_mean_area(areas) -> float:
    """``sum a^2 / sum a``: the mean area of the domain that holds a randomly chosen site; NaN
    for no domain."""
    a = np.asarray(areas, dtype=np.float64)
    return float((a**2).sum() / a.sum()) if a.sum() > 0 else float("nan")


def domain_statistics(labels, selective=None) -> dict:
    """Neighbour agreement, its chance level, the area-weighted domain area and the fraction
    selective of one label map, JSON-ready (NaN where undefined).

    Returns:
      ``{"neighbour_agreement", "chance_agreement", "domain_area" (area-weighted mean, sites),
      "num_domains", "largest_domain", "fraction_selective"}``.
    """
    labels, mask = _label_map(labels, selective)
    areas = domain_areas(labels, mask)
    return {"neighbour_agreement": neighbour_agreement(labels, mask),
            "chance_agreement": chance_agreement(labels, mask),
            "domain_area": area_weighted_mean_area(areas),
            "num_domains": int(areas.size),
            "largest_domain": int(areas[0]) if areas.size else 0,
            "fraction_selective": float(mask.mean())}


# ----------------------------------------------------------------------------------------------
# Maps read from a picture
# ----------------------------------------------------------------------------------------------


def _read_rgb(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float64)


def _panel_boxes(rgb: np.ndarray, min_side: int):
    """Bounding boxes ``(top, left, bottom, right)`` of the large, square, coloured regions (the
    maps; text, ticks and frames are grey or small), in reading order."""
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]  # elementwise: a reduction over
    # the 3-long colour axis is several times slower on a picture of millions of pixels
    saturated = (np.maximum(np.maximum(red, green), blue)
                 - np.minimum(np.minimum(red, green), blue)) > 50.0
    components, _ = ndimage.label(saturated)
    boxes = []
    for rows, cols in ndimage.find_objects(components):
        h, w = rows.stop - rows.start, cols.stop - cols.start
        if min(h, w) >= min_side and abs(h - w) <= 0.05 * max(h, w):
            boxes.append((rows.start, cols.start, rows.stop, cols.stop))
    boxes.sort(key=lambda b: b[0])
    rows_of_panels, current = [], []
    for box in boxes:  # panels whose tops are within half a panel of each other share a row
        if current and box[0] - current[0][0] > 0.5 * (current[0][2] - current[0][0]):
            rows_of_panels.append(current)
            current = []
        current.append(box)
    if current:
        rows_of_panels.append(current)
    return [b for row in rows_of_panels for b in sorted(row, key=lambda b: b[1])]


def read_figure_maps(path, grid: int = 72, orientations: int = 8, *,
                     marker_distance: float = 60.0, min_side: int = 100):
    """Label maps read off a picture of orientation maps drawn with ``orientations`` flat colours.

    Each map panel (a large square of saturated colour) is sampled at the centres of a
    ``grid x grid`` lattice of sites; the palette is the ``orientations`` most frequent colours
    of all panels together (so a label is the same colour in every panel); a site takes the
    label of the nearest palette colour, and a site whose centre is farther than
    ``marker_distance`` (RGB, 0-255) from every palette colour (the black x of a non-selective
    site) is not selective.

    Returns:
      list of ``(labels (grid, grid) int, selective (grid, grid) bool)``, one per panel, rows of
      panels top to bottom, each left to right.

    Raises:
      ValueError: no panel found.
    """
    rgb = _read_rgb(path)
    boxes = _panel_boxes(rgb, min_side)
    if not boxes:
        raise ValueError(f"no map panel (square of colour at least {min_side} px) in {path}")
    return label_panels(rgb, boxes, grid, orientations, marker_distance)


def panel_sites(rgb: np.ndarray, box, grid: int) -> np.ndarray:
    """``(grid, grid, 3)``: a panel's colour at the centres of a ``grid x grid`` lattice."""
    top, left, bottom, right = box
    rows = np.floor(top + (np.arange(grid) + 0.5) * (bottom - top) / grid).astype(int)
    cols = np.floor(left + (np.arange(grid) + 0.5) * (right - left) / grid).astype(int)
    return rgb[rows][:, cols]


def label_panels(rgb: np.ndarray, boxes, grid: int, orientations: int,
                 marker_distance: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(labels, selective)`` of flat-colour map panels (:func:`read_figure_maps`): the palette
    is the ``orientations`` most frequent colours of these panels together. ``rgb``: 8-bit
    colour values (0 to 255), as :func:`_read_rgb` reads a picture."""
    pixels = np.concatenate([rgb[top:bottom, left:right].reshape(-1, 3)
                             for top, left, bottom, right in boxes]).astype(np.int64)
    # each 8-bit colour as one integer r g b (base 256): counted in one 1-D pass, in the order
    # of np.unique(pixels, axis=0) (lexicographic), seconds faster on the authors' pictures
    codes, counts = np.unique((pixels[:, 0] * 256 + pixels[:, 1]) * 256 + pixels[:, 2],
                              return_counts=True)
    colours = np.stack([codes // 65536, codes // 256 % 256, codes % 256], axis=-1).astype(float)
    palette = colours[np.argsort(counts)[::-1][:orientations]]
    maps = []
    for box in boxes:
        s = panel_sites(rgb, box, grid)
        distance = np.sqrt(((s[:, :, None, :] - palette) ** 2).sum(-1))  # (grid, grid, K)
        maps.append((distance.argmin(-1), distance.min(-1) <= marker_distance))
    return maps


def figure_statistics(path, panels=AUTHORS_PANELS, grid: int = 72,
                      orientations: int = 8) -> dict:
    """:func:`domain_statistics` of every panel of a picture (:func:`read_figure_maps`), keyed by
    ``panels`` in reading order (default: the ``(row, value)`` of the authors'
    ``OC_Size_v_WL_v_Ksize.png``; ``("panel", i)`` for panels beyond them). ``{key:
    (s["neighbour_agreement"], s["domain_area"])}`` is the ``reference`` of
    :func:`locornn.analysis.topography.map_figures.sweep_figure`."""
    maps = read_figure_maps(path, grid, orientations)
    keys = list(panels) + [("panel", i) for i in range(len(panels), len(maps))]
    return {key: domain_statistics(labels, selective)
            for key, (labels, selective) in zip(keys, maps, strict=False)}


def _command(args) -> int:
    try:
        stats = figure_statistics(args.png, grid=args.grid)
    except (FileNotFoundError, ValueError) as error:
        print(f"locornn: {error}", file=sys.stderr)
        return 2
    print(f"{pathlib.Path(args.png).name}: {len(stats)} panels sampled at {args.grid}x"
          f"{args.grid} sites")
    print("| panel | neighbour agreement | chance | domain area (sites) | fraction selective |")
    print("|---|---:|---:|---:|---:|")
    for (row, value), s in stats.items():
        print(f"| {row} {value} | {s['neighbour_agreement']:.3f} | {s['chance_agreement']:.3f} | "
              f"{s['domain_area']:.0f} | {s['fraction_selective']:.3f} |")
    return 0


def add_command(subparsers) -> None:
    """Register ``figure-domains`` under ``locornn analyze``."""
    from locornn.configs.domains import at_least, flag, path_flag

    p = subparsers.add_parser(
        "figure-domains", help="domain statistics of a picture of orientation maps",
        description="Sample every map panel of a PNG (e.g. the authors' "
                    "OC_Size_v_WL_v_Ksize.png) at its lattice sites, read the 8 colours as "
                    "preferred orientations and print neighbour agreement, domain area and "
                    "fraction selective per panel.")
    p.add_argument("png", type=path_flag("file"), help="the picture")
    p.add_argument("--grid", type=flag(at_least(1)), default=72,
                   help="sites per side of each map (72)")
    p.set_defaults(func=_command)
