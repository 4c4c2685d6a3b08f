r"""Losses and evaluation metrics.

Forward-prediction loss (paper): :math:`\sum_t \lVert g(z_{t+1}) - x_{t+2} \rVert^2`. With the
model's convention (``prediction[:, t] = g(z_t)`` forecasts ``frames[:, t+1]``, ``z_t`` the state
after reading frame ``t``) that is

.. math:: L = \frac1B \sum_b \sum_{t=0}^{T-2} \sum_{\text{pixels}}
          (\text{prediction}[b, t] - \text{frames}[b, t+1])^2

summed over time and pixels and averaged over the batch. The last prediction has no target and
is not scored.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def forward_prediction_loss(prediction: jax.Array, frames: jax.Array) -> jax.Array:
    """Sum over time and pixels of the squared next-frame error, mean over the batch.

    Args:
      prediction: ``(B, T, h, w, c)``; ``prediction[:, t]`` forecasts ``frames[:, t+1]``.
      frames: ``(B, T, h, w, c)``.
    """
    if prediction.shape != frames.shape:
        raise ValueError(f"prediction {prediction.shape} and frames {frames.shape} differ")
    error = prediction[:, :-1] - frames[:, 1:]
    return jnp.mean(jnp.sum(error**2, axis=tuple(range(1, error.ndim))))


def next_frame_mse(prediction: jax.Array, frames: jax.Array) -> jax.Array:
    """Per-pixel mean squared next-frame error (the same terms as the loss, averaged)."""
    return jnp.mean((prediction[:, :-1] - frames[:, 1:]) ** 2)
