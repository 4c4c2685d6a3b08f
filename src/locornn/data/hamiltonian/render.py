"""Rendering of the Hamiltonian Dynamics Suite frames (pure JAX, one trajectory at a time).

Particles (physics systems) are soft disks on a background of RGB (0.321, 0.349, 0.368).
With the canvas ``[lo, hi]^2`` mapped to the unit square, a particle at ``c`` (unit
coordinates) with radius ``r`` (physical radius / canvas size) covers pixel centre ``u`` with::

    mask(u) = 1 / (1 + exp(80 (|u - c| - r)))

The pixel centres are ``linspace(0, 1, 32)`` on both axes; x runs along the columns and y
along the rows, with row 0 at the MINIMUM y (so a frame shown with ``imshow`` is upside down
with respect to physical y, exactly as in the suite). Particles are composited front to back,
the first particle on top::

    image = sum_k [prod_{j<k} (1 - mask_j)] mask_k colour_k + [prod_k (1 - mask_k)] background

Colours are HSV with S = V = 1 and hue = colour_index / num_colors (one colour: red; two:
red and cyan).

Games are rendered as the joint policy ``x1 x2^T`` (n x n), each cell tiled into a
``ceil(32 / n)`` square block, cropped to 32 x 32 and repeated over 3 channels.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

Array = jax.Array

RESOLUTION = 32
BACKGROUND = (0.321, 0.349, 0.368)
TEMPERATURE = 80.0


def hsv_to_rgb(h: Array, s: Array | float = 1.0, v: Array | float = 1.0) -> Array:
    """HSV in [0, 1] -> RGB in [0, 1]; h of any shape -> (..., 3).

    Standard sextant formula: with ``i = floor(6h) mod 6``, ``f = 6h - floor(6h)``,
    ``p = v(1-s)``, ``q = v(1-fs)``, ``t = v(1-(1-f)s)``, RGB is
    (v,t,p), (q,v,p), (p,v,t), (p,q,v), (t,p,v), (v,p,q) for i = 0..5.
    """
    h = jnp.asarray(h)
    s = jnp.broadcast_to(jnp.asarray(s, h.dtype), h.shape)
    v = jnp.broadcast_to(jnp.asarray(v, h.dtype), h.shape)
    i_float = jnp.floor(h * 6)
    f = h * 6 - i_float
    i = i_float.astype(jnp.int32) % 6
    p = v * (1 - s)
    q = v * (1 - f * s)
    t = v * (1 - (1 - f) * s)
    table = jnp.stack(
        [
            jnp.stack([v, t, p], -1),
            jnp.stack([q, v, p], -1),
            jnp.stack([p, v, t], -1),
            jnp.stack([p, q, v], -1),
            jnp.stack([t, p, v], -1),
            jnp.stack([v, p, q], -1),
        ],
        axis=0,
    )  # (6, ..., 3)
    onehot = jax.nn.one_hot(i, 6, dtype=h.dtype)  # (..., 6)
    return jnp.einsum("...k,k...c->...c", onehot, table)


def pixel_centres(resolution: int = RESOLUTION) -> tuple[Array, Array]:
    """Unit-square coordinates of the pixel centres: (xs, ys), each (res, res).

    ``xs[i, j] = j / (res - 1)`` (x along columns), ``ys[i, j] = i / (res - 1)`` (y along rows,
    row 0 at y = 0, i.e. the canvas minimum).
    """
    grid = jnp.linspace(0.0, 1.0, resolution, dtype=jnp.float32)
    xs, ys = jnp.meshgrid(grid, grid)
    return xs, ys


def render_particles(
    positions: Array,
    radii: Array,
    hues: Array,
    bounds: tuple[float, float],
    *,
    resolution: int = RESOLUTION,
    background: tuple[float, float, float] = BACKGROUND,
    temperature: float = TEMPERATURE,
) -> Array:
    """Soft disks on a background.

    Args:
      positions: (T, n, 2) particle centres (x, y) in canvas coordinates.
      radii: (n,) physical radii (the suite uses ``sqrt(m / pi)``).
      hues: (n,) hue in [0, 1) of each particle (``color_index / num_colors``).
      bounds: (lo, hi) of the square canvas ``[lo, hi]^2``.

    Returns:
      (T, resolution, resolution, 3) float32 images in [0, 1].
    """
    lo, hi = bounds
    size = hi - lo
    unit = (positions - lo) / size  # (T, n, 2)
    r = radii / size  # (n,)
    xs, ys = pixel_centres(resolution)
    dx = unit[..., 0, None, None] - xs  # (T, n, H, W)
    dy = unit[..., 1, None, None] - ys
    dist = jnp.sqrt(dx**2 + dy**2)
    masks = jax.nn.sigmoid(-temperature * (dist - r[None, :, None, None]))  # (T, n, H, W)
    colours = hsv_to_rgb(hues.astype(jnp.float32))  # (n, 3)

    n = positions.shape[1]
    image = jnp.zeros(masks.shape[:1] + masks.shape[2:] + (3,), jnp.float32)
    cover = jnp.ones(masks.shape[:1] + masks.shape[2:] + (1,), jnp.float32)
    for k in range(n):  # front (k = 0) to back
        m = masks[:, k, :, :, None]
        image = image + cover * m * colours[k]
        cover = cover * (1 - m)
    return image + cover * jnp.asarray(background, jnp.float32)


def render_joint_policy(x1: Array, x2: Array, *, resolution: int = RESOLUTION) -> Array:
    """Game frames: (T, n) x (T, n) -> (T, res, res, 3), the tiled outer product ``x1 x2^T``."""
    n1, n2 = x1.shape[-1], x2.shape[-1]
    joint = x1[:, :, None] * x2[:, None, :]  # (T, n1, n2)
    b1, b2 = math.ceil(resolution / n1), math.ceil(resolution / n2)
    tiled = jnp.repeat(jnp.repeat(joint, b1, axis=1), b2, axis=2)[:, :resolution, :resolution]
    return jnp.repeat(tiled[..., None], 3, axis=-1)


def to_uint8(images: Array) -> Array:
    """[0, 1] floats -> uint8 the way the suite stores them: ``floor(255 x)`` (truncation)."""
    return jnp.clip(jnp.floor(images * 255.0), 0, 255).astype(jnp.uint8)
