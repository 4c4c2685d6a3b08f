"""Static oriented sinusoidal gratings for the orientation-selectivity experiment.

Angle convention (the same as :mod:`locornn.analysis.waves.statistics`): pixel ``(row, col)`` has
coordinates ``x = col - (size - 1) / 2`` and ``y = row - (size - 1) / 2`` (origin at the image
centre, ``y`` growing with the row index). A grating of orientation ``theta`` has wave vector
``k = (2 pi / wavelength) (cos theta, sin theta)``: ``theta`` is the direction of the wave vector
(perpendicular to the stripes), measured from the ``+x`` axis (columns) towards the ``+y`` axis
(rows). Drawn with ``imshow(..., origin="lower")`` (row 0 at the bottom) angles grow
counter-clockwise; with matplotlib's default ``origin="upper"`` they grow clockwise. So
``theta = 0`` gives vertical stripes (the value varies along columns only), ``theta = 90 deg``
horizontal stripes (each row is constant), and at ``theta = 45 deg`` the value is constant along
lines ``x + y = const`` (``image[r, c] == image[r + 1, c - 1]``). Orientation is 180-periodic:
``theta`` and ``theta + 180 deg`` give the same set of gratings (with mirrored phases).
"""

from __future__ import annotations

import numpy as np

__all__ = ["gratings", "orientation_angles"]


def orientation_angles(n: int, degrees: bool = False) -> np.ndarray:
    """The ``n`` grating orientations ``theta_k = k * 180 deg / n``, ``k = 0 .. n-1``.

    Args:
      n: number of orientations (8 gives 0, 22.5, ..., 157.5 degrees).
      degrees: return degrees instead of radians.

    Returns:
      ``(n,)`` float64 array, radians by default.
    """
    if n < 1:
        raise ValueError(f"need at least one orientation, got {n}")
    a = np.arange(n) * (np.pi / n)
    return np.rad2deg(a) if degrees else a


def gratings(
    size: int,
    orientations: int = 8,
    phases: int = 4,
    wavelength: float = 8.0,
    contrast: float = 1.0,
    dtype=np.float32,
) -> np.ndarray:
    """Static sinusoidal gratings at every orientation and spatial phase.

    ``G[o, p, row, col] = 0.5 + 0.5 * contrast * cos(k (x cos theta_o + y sin theta_o) + psi_p)``
    with ``k = 2 pi / wavelength``, ``theta_o = o * pi / orientations``
    (:func:`orientation_angles`), ``psi_p = p * 2 pi / phases`` and ``(x, y)`` the centred pixel
    coordinates of the module docstring. Mean 0.5, values in ``[0.5 - contrast/2, 0.5 +
    contrast/2]``, a subset of ``[0, 1]``.

    Args:
      size: image side in pixels (square images).
      orientations: number of orientations, evenly spaced over 180 degrees.
      phases: number of spatial phases, evenly spaced over 360 degrees.
      wavelength: period in pixels (> 2 to stay below the Nyquist limit).
      contrast: Michelson contrast in ``[0, 1]``.
      dtype: output dtype.

    Returns:
      ``(orientations, phases, size, size)`` array.
    """
    if not 0.0 <= contrast <= 1.0:
        raise ValueError(f"contrast must be in [0, 1], got {contrast}")
    if wavelength <= 2.0:
        raise ValueError(f"wavelength must exceed 2 pixels (Nyquist), got {wavelength}")
    if phases < 1:
        raise ValueError(f"need at least one phase, got {phases}")
    theta = orientation_angles(orientations)[:, None, None, None]
    psi = (np.arange(phases) * (2 * np.pi / phases))[None, :, None, None]
    c = np.arange(size) - (size - 1) / 2.0
    x = c[None, None, None, :]
    y = c[None, None, :, None]
    k = 2 * np.pi / wavelength
    g = 0.5 + 0.5 * contrast * np.cos(k * (x * np.cos(theta) + y * np.sin(theta)) + psi)
    return g.astype(dtype)
