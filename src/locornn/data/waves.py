r"""Built-in sequence data: drifting plane waves, travelling fronts that start and die
("retinal" waves), and i.i.d. noise.

Both are generated in JAX from a seed, so a data set is a pure function of its config: the
train and test splits come from ``fold_in(seed, 0)`` and ``fold_in(seed, 1)`` and never overlap.

A plane-wave sequence is

.. math::  x_t(r) = \tfrac12 + \tfrac12 \sin(\mathbf k \cdot \mathbf r - \omega t + \varphi),
           \quad \mathbf k = \frac{2\pi}{\lambda}(\cos\theta, \sin\theta),\quad
           \omega = |\mathbf k|\, s

with pixel coordinates ``r = (column, row)``, orientation ``theta ~ U[0, 2 pi)`` (the direction
of travel), wavelength ``lambda ~ U[wavelength_min, wavelength_max]`` pixels, drift speed
``s ~ U[speed_min, speed_max]`` pixels per frame and phase ``phi ~ U[0, 2 pi)``, all drawn per
sequence. With a period range, the temporal period ``P ~ U[period_min, period_max]`` frames is
drawn instead of the speed and ``s = lambda / P`` (so ``omega = 2 pi / P``): the speed range
alone gives periods ``lambda / s`` from 2.5 to 48 frames. Frames are ``(T, size, size, 1)``
floats in [0, 1].

A retinal-wave sequence (:func:`retinal_waves`) is a sum of ``events`` bursts, each a straight
front that appears at a random place and time, travels in a random direction and fades out, as
the waves recorded in the developing retina start at random sites, propagate over a patch and
die:

.. math::  x_t(r) = \min\Big(1, \sum_e w_e(t)\, \exp\Big(-\frac{(u_e - s_e (t - t_e))^2}
           {2\sigma^2} - \frac{v_e^2}{2\rho^2}\Big)\Big),\quad
           w_e(t) = \sin^2\Big(\pi \frac{t - t_e}{D}\Big) \text{ for } 0 \le t - t_e \le D

with ``u_e, v_e`` the pixel's coordinates along and across the front's direction of travel
``theta_e ~ U[0, 2 pi)`` from its origin (uniform in the image), speed
``s_e ~ U[speed_min, speed_max]`` pixels per frame, onset ``t_e ~ U[-D/2, T - D/2]``, lifetime
``D`` (``lifetime``), front width ``sigma`` (``width``) and lateral extent ``rho`` (``extent``).
Unlike a drifting grating, which is a pure temporal oscillation at every pixel, a front reaches
a pixel that was dark: nothing in that pixel's own past says when, only its neighbours' do.

``on_demand`` variants (:func:`plane_waves_on_demand`, :func:`noise_on_demand`) return an
:class:`OnDemand` split that renders only the sequences it is indexed with: a host of a
multi-host job builds only its rows of each batch and never holds a whole split (a ``reference``
waves split is ~4 GB). The plane waves are the same frames either way (only the per-sequence
parameters, four numbers each, are drawn for the whole split); on-demand noise draws sequence
``i`` from ``fold_in(key, i)``, so it is a different (equally i.i.d.) draw than :func:`noise`'s
one call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class WaveParams(NamedTuple):
    """Per-sequence parameters of a plane wave (each of shape ``(num,)``)."""

    orientation: jax.Array  # radians, direction of travel
    wavelength: jax.Array  # pixels
    speed: jax.Array  # pixels per frame
    phase: jax.Array  # radians


def sample_wave_params(key, num: int, wavelength=(5.0, 24.0), speed=(0.5, 2.0),
                       period=None) -> WaveParams:
    """Draw ``num`` independent plane-wave parameter sets; with ``period = (low, high)`` frames
    the temporal period is drawn instead of the speed (module docstring)."""
    k_theta, k_lambda, k_speed, k_phase = jax.random.split(key, 4)
    uniform = jax.random.uniform
    wavelengths = uniform(k_lambda, (num,), minval=wavelength[0], maxval=wavelength[1])
    if period:
        speeds = wavelengths / uniform(k_speed, (num,), minval=period[0], maxval=period[1])
    else:
        speeds = uniform(k_speed, (num,), minval=speed[0], maxval=speed[1])
    return WaveParams(
        orientation=uniform(k_theta, (num,), minval=0.0, maxval=2 * jnp.pi),
        wavelength=wavelengths, speed=speeds,
        phase=uniform(k_phase, (num,), minval=0.0, maxval=2 * jnp.pi),
    )


@functools.partial(jax.jit, static_argnums=(1, 2))
def render_plane_waves(params: WaveParams, length: int, size: int) -> jax.Array:
    """Render plane waves. Returns ``(num, length, size, size, 1)`` float32 in [0, 1]."""
    rows, cols = jnp.meshgrid(jnp.arange(size), jnp.arange(size), indexing="ij")
    t = jnp.arange(length)

    def one(p: WaveParams):
        k = 2 * jnp.pi / p.wavelength
        along = cols * jnp.cos(p.orientation) + rows * jnp.sin(p.orientation)  # k.r / |k|
        phase = k * along[None] - k * p.speed * t[:, None, None] + p.phase
        return 0.5 + 0.5 * jnp.sin(phase)[..., None]

    return jax.vmap(one)(params).astype(jnp.float32)


def plane_waves(key, num: int, length: int, size: int = 32, wavelength=(5.0, 24.0),
                speed=(0.5, 2.0), period=None) -> jax.Array:
    """``num`` random drifting plane-wave sequences, ``(num, length, size, size, 1)``."""
    return render_plane_waves(sample_wave_params(key, num, wavelength, speed, period), length,
                              size)


class FrontParams(NamedTuple):
    """Per-sequence parameters of retinal-wave fronts (each ``(num, events)``)."""

    origin_row: jax.Array  # pixels
    origin_col: jax.Array
    direction: jax.Array  # radians, direction of travel
    speed: jax.Array  # pixels per frame
    onset: jax.Array  # frame at which the front appears


def sample_front_params(key, num: int, events: int, length: int, size: int,
                        speed=(0.5, 2.0), lifetime: float = 12.0) -> FrontParams:
    """Draw ``events`` fronts for each of ``num`` sequences (module docstring)."""
    keys = jax.random.split(key, 5)
    uniform = functools.partial(jax.random.uniform, shape=(num, events))
    return FrontParams(
        origin_row=uniform(keys[0], minval=0.0, maxval=size),
        origin_col=uniform(keys[1], minval=0.0, maxval=size),
        direction=uniform(keys[2], minval=0.0, maxval=2 * jnp.pi),
        speed=uniform(keys[3], minval=speed[0], maxval=speed[1]),
        onset=uniform(keys[4], minval=-lifetime / 2, maxval=length - lifetime / 2))


@functools.partial(jax.jit, static_argnums=(1, 2))
def render_fronts(params: FrontParams, length: int, size: int, width: float = 1.5,
                  extent: float = 6.0, lifetime: float = 12.0) -> jax.Array:
    """Render retinal-wave fronts. Returns ``(num, length, size, size, 1)`` float32 in [0, 1]."""
    rows, cols = jnp.meshgrid(jnp.arange(size, dtype=jnp.float32),
                              jnp.arange(size, dtype=jnp.float32), indexing="ij")
    t = jnp.arange(length, dtype=jnp.float32)[:, None, None]

    def front(origin_row, origin_col, direction, speed, onset):  # -> (length, size, size)
        dr, dc = rows - origin_row, cols - origin_col
        along = dc * jnp.cos(direction) + dr * jnp.sin(direction)
        across = -dc * jnp.sin(direction) + dr * jnp.cos(direction)
        age = t - onset
        alive = (age >= 0) & (age <= lifetime)
        envelope = jnp.where(alive, jnp.sin(jnp.pi * age / lifetime) ** 2, 0.0)
        profile = jnp.exp(-(along - speed * age) ** 2 / (2 * width ** 2)
                          - across ** 2 / (2 * extent ** 2))
        return envelope * profile

    def sequence(p: FrontParams):
        return jnp.minimum(1.0, jax.vmap(front)(*p).sum(axis=0))[..., None]

    return jax.vmap(sequence)(params).astype(jnp.float32)


def retinal_waves(key, num: int, length: int, size: int = 32, speed=(0.5, 2.0),
                  events: int = 4, width: float = 1.5, extent: float = 6.0,
                  lifetime: float = 12.0) -> jax.Array:
    """``num`` sequences of travelling fronts, ``(num, length, size, size, 1)`` in [0, 1]."""
    params = sample_front_params(key, num, events, length, size, speed, lifetime)
    return render_fronts(params, length, size, width, extent, lifetime)


def retinal_waves_on_demand(key, num: int, length: int, size: int = 32, speed=(0.5, 2.0),
                            events: int = 4, width: float = 1.5, extent: float = 6.0,
                            lifetime: float = 12.0) -> OnDemand:
    """:func:`retinal_waves`' sequences, each rendered only when indexed."""
    params = sample_front_params(key, num, events, length, size, speed, lifetime)
    return OnDemand(lambda rows: render_fronts(jax.tree.map(lambda p: p[rows], params), length,
                                               size, width, extent, lifetime),
                    num, (length, size, size, 1))


def noise(key, num: int, length: int, size: int = 32) -> jax.Array:
    """I.i.d. uniform noise frames in [0, 1]: no spatial or temporal structure to learn."""
    return jax.random.uniform(key, (num, length, size, size, 1), dtype=jnp.float32)


class OnDemand:
    """A split ``(num, T, H, W, C)`` made row by row when indexed, in place of a NumPy array.

    Supports what the training and evaluation code does with a split: ``shape``, ``dtype``,
    ``len``, indexing along the first axis by an int, a slice or an integer array (then any
    further axes), and ``np.asarray`` (renders everything). ``make_rows(rows)`` maps an integer
    array ``(n,)`` to the ``(n, T, H, W, C)`` sequences with those indices.
    """

    def __init__(self, make_rows: Callable[[np.ndarray], jax.Array], num: int,
                 item_shape: tuple[int, ...]):
        self._make_rows = make_rows
        self.shape = (num, *item_shape)
        self.dtype = np.dtype(np.float32)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index):
        first, rest = (index[0], index[1:]) if isinstance(index, tuple) else (index, ())
        rows = np.arange(self.shape[0])[first]
        out = np.asarray(self._make_rows(np.atleast_1d(rows)))
        return out[0][rest] if np.ndim(rows) == 0 else out[(slice(None), *rest)]

    def __array__(self, dtype=None, copy=None):
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)

    def __repr__(self) -> str:
        return f"OnDemand(shape={self.shape})"


def plane_waves_on_demand(key, num: int, length: int, size: int = 32, wavelength=(5.0, 24.0),
                          speed=(0.5, 2.0), period=None) -> OnDemand:
    """:func:`plane_waves`' sequences, each rendered only when indexed."""
    params = sample_wave_params(key, num, wavelength, speed, period)
    return OnDemand(lambda rows: render_plane_waves(jax.tree.map(lambda p: p[rows], params),
                                                    length, size),
                    num, (length, size, size, 1))


def noise_on_demand(key, num: int, length: int, size: int = 32) -> OnDemand:
    """I.i.d. uniform noise, sequence ``i`` drawn from ``fold_in(key, i)`` when indexed."""
    @jax.jit
    def draw(rows):
        return jax.vmap(lambda i: jax.random.uniform(jax.random.fold_in(key, i),
                                                     (length, size, size, 1)))(rows)

    return OnDemand(draw, num, (length, size, size, 1))
