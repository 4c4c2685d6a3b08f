r"""Built-in sequence data: drifting plane waves ("simulated retinal waves") and i.i.d. noise.

Both are generated in JAX from a seed, so a data set is a pure function of its config: the
train and test splits come from ``fold_in(seed, 0)`` and ``fold_in(seed, 1)`` and never overlap.

A plane-wave sequence is

.. math::  x_t(r) = \tfrac12 + \tfrac12 \sin(\mathbf k \cdot \mathbf r - \omega t + \varphi),
           \quad \mathbf k = \frac{2\pi}{\lambda}(\cos\theta, \sin\theta),\quad
           \omega = |\mathbf k|\, s

with pixel coordinates ``r = (column, row)``, orientation ``theta ~ U[0, 2 pi)`` (the direction
of travel), wavelength ``lambda ~ U[wavelength_min, wavelength_max]`` pixels, drift speed
``s ~ U[speed_min, speed_max]`` pixels per frame and phase ``phi ~ U[0, 2 pi)``, all drawn per
sequence. Frames are ``(T, size, size, 1)`` floats in [0, 1].
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class WaveParams(NamedTuple):
    """Per-sequence parameters of a plane wave (each of shape ``(num,)``)."""

    orientation: jax.Array  # radians, direction of travel
    wavelength: jax.Array  # pixels
    speed: jax.Array  # pixels per frame
    phase: jax.Array  # radians


def sample_wave_params(key, num: int, wavelength=(5.0, 24.0), speed=(0.5, 2.0)) -> WaveParams:
    """Draw ``num`` independent plane-wave parameter sets."""
    k_theta, k_lambda, k_speed, k_phase = jax.random.split(key, 4)
    uniform = jax.random.uniform
    return WaveParams(
        orientation=uniform(k_theta, (num,), minval=0.0, maxval=2 * jnp.pi),
        wavelength=uniform(k_lambda, (num,), minval=wavelength[0], maxval=wavelength[1]),
        speed=uniform(k_speed, (num,), minval=speed[0], maxval=speed[1]),
        phase=uniform(k_phase, (num,), minval=0.0, maxval=2 * jnp.pi),
    )


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
                speed=(0.5, 2.0)) -> jax.Array:
    """``num`` random drifting plane-wave sequences, ``(num, length, size, size, 1)``."""
    return render_plane_waves(sample_wave_params(key, num, wavelength, speed), length, size)


def noise(key, num: int, length: int, size: int = 32) -> jax.Array:
    """I.i.d. uniform noise frames in [0, 1]: no spatial or temporal structure to learn."""
    return jax.random.uniform(key, (num, length, size, size, 1), dtype=jnp.float32)
