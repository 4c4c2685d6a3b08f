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

import functools

import jax
import jax.numpy as jnp
import numpy as np


def next_frame_pairs(prediction: jax.Array, frames: jax.Array,
                     wrap: bool = False) -> tuple[jax.Array, jax.Array]:
    """``(predicted, target)`` frames: ``prediction[:, t]`` forecasts ``frames[:, t+1]``.

    Without ``wrap`` the last prediction has no target and is dropped (``T - 1`` pairs); with
    ``wrap`` it is scored against ``frames[:, 0]`` (``T`` pairs: the sequence is one period of a
    cycle, as the reference's rotating MNIST, whose target is frame ``(t + 1) mod T``).
    """
    if prediction.shape != frames.shape:
        raise ValueError(f"prediction {prediction.shape} and frames {frames.shape} differ")
    if wrap:
        return prediction, jnp.roll(frames, -1, axis=1)
    return prediction[:, :-1], frames[:, 1:]


def bernoulli_nll(probabilities: jax.Array, target: jax.Array, eps: float = 1e-6) -> jax.Array:
    """``-(x log p + (1 - x) log(1 - p))`` per pixel, ``p`` clipped to ``[eps, 1 - eps]``."""
    p = jnp.clip(probabilities, eps, 1.0 - eps)
    return -(target * jnp.log(p) + (1.0 - target) * jnp.log1p(-p))


def reduce_frames(per_frame: jax.Array, time_reduction: str = "sum") -> jax.Array:
    """``(B, T)`` per-frame losses -> a scalar: sum (or mean) over time, mean over the batch."""
    if time_reduction not in ("sum", "mean"):
        raise ValueError(f"time_reduction must be 'sum' or 'mean', got {time_reduction!r}")
    over_time = per_frame.sum(axis=1) if time_reduction == "sum" else per_frame.mean(axis=1)
    return jnp.mean(over_time)


def forward_prediction_loss(prediction: jax.Array, frames: jax.Array, *, likelihood: str = "mse",
                            wrap: bool = False, time_reduction: str = "sum",
                            bce_eps: float = 1e-6) -> jax.Array:
    """Next-frame loss: per frame the sum over pixels, then over time, mean over the batch.

    Args:
      prediction: ``(B, T, h, w, c)``; ``prediction[:, t]`` forecasts ``frames[:, t+1]``.
      frames: ``(B, T, h, w, c)``.
      likelihood: ``"mse"`` (squared error) or ``"bce"`` (Bernoulli negative log-likelihood of
        pixels in [0, 1], ``prediction`` being probabilities).
      wrap: see :func:`next_frame_pairs`.
      time_reduction: ``"sum"`` (default) or ``"mean"`` over frames (the reference's MNIST).
      bce_eps: ``"bce"``: probabilities clipped to ``[bce_eps, 1 - bce_eps]``.
    """
    predicted, target = next_frame_pairs(prediction, frames, wrap)
    return reduce_frames(frame_loss(predicted, target, likelihood, bce_eps), time_reduction)


def frame_loss(predicted: jax.Array, target: jax.Array, likelihood: str = "mse",
               bce_eps: float = 1e-6) -> jax.Array:
    """``(..., h, w, c)`` frames -> ``(...)``: each frame's loss summed over its pixels."""
    if likelihood == "bce":
        per_pixel = bernoulli_nll(predicted, target, bce_eps)
    elif likelihood == "mse":
        per_pixel = (predicted - target) ** 2
    else:
        raise ValueError(f"likelihood must be 'mse' or 'bce', got {likelihood!r}")
    # The sum over pixels as a product with ones: XLA:CPU fused the BCE's logs into a reduction
    # that ran ~10x slower (47 ms vs ~4 ms at 128 x 18 x 28 x 28, in a train step).
    flat = per_pixel.reshape(*per_pixel.shape[:-3], -1)
    return flat @ jnp.ones(flat.shape[-1], flat.dtype)


def next_frame_mse(prediction: jax.Array, frames: jax.Array, wrap: bool = False) -> jax.Array:
    """Per-pixel mean squared next-frame error (the same pairs as the loss, averaged)."""
    predicted, target = next_frame_pairs(prediction, frames, wrap)
    return jnp.mean((predicted - target) ** 2)


# --------------------------------------------------------------------------------------------
# Forecasting (Hamiltonian suite): aligned reconstruction/forecast loss and Valid Prediction Time
#
# The forecasting models (:mod:`locornn.models.forecasting`) use a different index convention
# from the sequence models above: ``prediction[:, j]`` is the model's picture of ``frames[:, j]``
# itself (no shift), so their loss compares aligned frames.


def forecast_loss(prediction: jax.Array, frames: jax.Array,
                  weights: jax.Array | None = None) -> jax.Array:
    """Sum over time and pixels of the squared error of *aligned* frames, mean over the batch.

    ``L = mean_b sum_j w_j sum_pixels (prediction[b, j] - frames[b, j])^2``: every predicted
    frame is scored against the frame with the same index (the forecasting models'
    convention). Pass ``frames[:, :prediction.shape[1]]`` if the model predicted fewer frames.

    Args:
      prediction: ``(B, T, h, w, c)``.
      frames: ``(B, T, h, w, c)``.
      weights: ``(T,)`` per-frame weights (:func:`frame_weights`); default all ones.
    """
    if prediction.shape != frames.shape:
        raise ValueError(f"prediction {prediction.shape} and frames {frames.shape} differ")
    per_frame = jnp.sum((prediction - frames) ** 2, axis=tuple(range(2, prediction.ndim)))
    if weights is not None:
        if weights.shape != per_frame.shape[1:]:
            raise ValueError(f"weights {weights.shape} do not match {per_frame.shape[1]} frames")
        per_frame = per_frame * weights
    return jnp.mean(jnp.sum(per_frame, axis=1))


def gaussian_blur(frames: jax.Array, sigma: float) -> jax.Array:
    r"""Frames blurred by a normalised Gaussian of standard deviation ``sigma`` pixels.

    .. math:: (G_\sigma * x)[i, j] = \sum_{k, l} g_{ik}\, g_{jl}\, x[k, l], \qquad
              g_{ik} \propto e^{-(i - k)^2 / 2\sigma^2} [|i - k| \le r], \qquad
              r = \lfloor 3\sigma + 1/2 \rfloor

    separable, one matrix product per image axis; outside the image counts as black (zero), the
    suite's background; the kernel is truncated at ``r`` (about three standard deviations, as
    ``scipy.ndimage.gaussian_filter``) and its 1-D taps sum to one, so a uniform patch far from
    the border keeps its value.

    Args:
      frames: ``(..., h, w, c)``.
      sigma: standard deviation in pixels, > 0.
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")

    radius = int(3 * sigma + 0.5)  # scipy.ndimage.gaussian_filter's truncation, truncate=3
    total = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).sum()

    def taps(n):  # (n, n): row i holds the weights of the pixels blurred into pixel i
        offset = np.arange(n)[:, None] - np.arange(n)[None, :]
        g = np.where(np.abs(offset) <= radius, np.exp(-0.5 * (offset / sigma) ** 2), 0.0)
        return jnp.asarray(g / total, frames.dtype)  # not renormalised at the border: zeros

    h, w = frames.shape[-3], frames.shape[-2]
    rows = jnp.einsum("ik,...kjc->...ijc", taps(h), frames)
    return jnp.einsum("jl,...ilc->...ijc", taps(w), rows)


def forecast_loss_blurred(prediction: jax.Array, frames: jax.Array,
                          weights: jax.Array | None = None, *, sigma: float) -> jax.Array:
    """:func:`forecast_loss` plus the same loss on frames blurred by :func:`gaussian_blur`.

    ``L = L(prediction, frames) + L(G_sigma * prediction, G_sigma * frames)``. A diagnostic
    objective for small objects on black (the suite's bobs): once a predicted disk and its
    target no longer overlap, the pixel loss is flat in the distance between them (no gradient
    toward the target); the blurred term still falls as they approach, over a range ~sigma.
    Its minimum is the pixel loss's (prediction = frames). Off in every preset
    (``train.blur_sigma = 0``): the paper's loss is the pixel loss alone.
    """
    return (forecast_loss(prediction, frames, weights)
            + forecast_loss(gaussian_blur(prediction, sigma), gaussian_blur(frames, sigma),
                            weights))


def frame_weights(num_frames: int, *, late_weight: float = 1.0, first: int = 0,
                  scored=None) -> jax.Array:
    r"""Per-frame loss weights ``(num_frames,)`` for :func:`forecast_loss`.

    .. math:: w_j = r_j\,[\text{first} \le j < \text{scored}], \qquad
              r_j = \frac{1 + (\text{late\_weight} - 1)\, j / (T - 1)}{(1 + \text{late\_weight})/2}

    ``r`` ramps linearly from frame 0 to the last frame, which weighs ``late_weight`` times
    the first, and has mean 1 (``late_weight = 1``: all ones). Frames before ``first`` (e.g.
    frame 0, which an autoregressive model does not predict) and from ``scored`` on (a
    window-length curriculum; may be traced) get weight 0.
    """
    j = jnp.arange(num_frames, dtype=jnp.float32)
    ramp = 1.0 + (late_weight - 1.0) * j / max(num_frames - 1, 1)
    weights = ramp / ((1.0 + late_weight) / 2.0)
    keep = j >= first
    if scored is not None:
        keep = keep & (j < scored)
    return jnp.where(keep, weights, 0.0)


def forecast_mse(prediction: jax.Array, frames: jax.Array) -> jax.Array:
    """Per-pixel mean squared error of aligned frames (the terms of :func:`forecast_loss`)."""
    if prediction.shape != frames.shape:
        raise ValueError(f"prediction {prediction.shape} and frames {frames.shape} differ")
    return jnp.mean((prediction - frames) ** 2)


VPT_THRESHOLD = 0.025


def _as_image(x) -> jax.Array:
    """uint8 -> float32 in [0, 1] (``x * (1/255)``, as the data loaders); floats -> float32."""
    x = jnp.asarray(x)
    if x.dtype == jnp.uint8:
        return x.astype(jnp.float32) * jnp.float32(1.0 / 255.0)
    return x.astype(jnp.float32)


def normalised_error(pred: jax.Array, target: jax.Array) -> jax.Array:
    r"""Normalised pixel error of every frame: ``e_t = mean((gt - pred)^2) / mean(gt^2)``.

    The means run over the last three axes (H, W, C) of each frame, so this works for one
    trajectory ``(T, H, W, C) -> (T,)`` and for a batch ``(N, T, H, W, C) -> (N, T)`` alike
    (any leading axes). Images are expected in [0, 1]; uint8 inputs are converted with
    ``x / 255``. A target frame that is exactly zero everywhere (``mean(gt^2) = 0``) gives
    ``e_t = 0`` for a perfect prediction and ``inf`` otherwise.
    """
    pred, target = _as_image(pred), _as_image(target)
    if pred.shape != target.shape:
        raise ValueError(f"prediction {pred.shape} and target {target.shape} differ")
    if pred.ndim < 3:
        raise ValueError(f"expected frames (..., H, W, C), got {pred.shape}")
    axes = (-3, -2, -1)
    squared_error = jnp.mean((target - pred) ** 2, axis=axes)
    energy = jnp.mean(target**2, axis=axes)
    positive = energy > 0
    ratio = squared_error / jnp.where(positive, energy, 1.0)
    degenerate = jnp.where(squared_error > 0, jnp.inf, 0.0)
    return jnp.where(positive, ratio, degenerate)


def _vpt(pred: jax.Array, target: jax.Array, threshold, offset: int) -> jax.Array:
    if pred.ndim != 4:
        raise ValueError(f"vpt expects one trajectory (T, H, W, C), got {pred.shape}")
    if not 0 <= offset <= pred.shape[0]:
        raise ValueError(f"offset {offset} outside the trajectory of {pred.shape[0]} frames")
    errors = normalised_error(pred[offset:], target[offset:])
    # ``not (e <= threshold)`` rather than ``e > threshold``: a NaN error (a diverged rollout)
    # counts as a failure instead of as a valid prediction.
    failed = ~(errors <= threshold)
    length = errors.shape[0]
    return jnp.where(jnp.any(failed), jnp.argmax(failed), length).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("offset",))
def vpt(pred: jax.Array, target: jax.Array, threshold: float = VPT_THRESHOLD,
        offset: int = 0) -> jax.Array:
    r"""Valid Prediction Time of one trajectory (Botev et al. 2021; DESIGN.md section 4).

    The number of extrapolated steps the forecast stays valid: the first step ``t`` at which
    the normalised pixel error :func:`normalised_error` ``e_t = mean((gt - pred)^2) / mean(gt^2)``
    (means over H, W, C; images in [0, 1]) is *strictly greater* than ``threshold``; the full
    extrapolation length if it never is. So VPT = 0 when the very first extrapolated frame is
    already wrong, and VPT = ``T - offset`` when every extrapolated frame is within threshold.
    A NaN error counts as exceeding the threshold.

    Step convention. Step ``t = 0`` is frame ``offset`` of the given arrays: the first
    extrapolated frame. With the default ``offset = 0`` the caller passes only the extrapolated
    frames. "Steps counted from the end of the training window" (the paper's Table 1) means: if
    the model was trained on sequences of ``T_train`` frames (indices ``0 .. T_train - 1``,
    conditioning window included), step 0 is frame index ``T_train`` of the long test
    trajectory; with full aligned sequences (``pred[j]`` the forecast of ``target[j]``, as the
    forecasting models produce) pass ``offset=T_train``, which is the same as
    ``vpt(pred[T_train:], target[T_train:])``. Counting from the end of the conditioning
    window instead is ``offset=context_frames``.

    Args:
      pred: ``(T, H, W, C)`` predicted frames, aligned with ``target``.
      target: ``(T, H, W, C)`` ground-truth frames (float in [0, 1] or uint8).
      threshold: the error threshold (0.025 in the paper).
      offset: index of the first extrapolated frame (static).

    Returns:
      an int32 scalar in ``[0, T - offset]``.
    """
    return _vpt(pred, target, threshold, offset)


@functools.partial(jax.jit, static_argnames=("offset",))
def vpt_batch(pred: jax.Array, target: jax.Array, threshold: float = VPT_THRESHOLD,
              offset: int = 0) -> jax.Array:
    """:func:`vpt` of every trajectory: ``(N, T, H, W, C)`` pairs -> ``(N,)`` int32.

    Same conventions as :func:`vpt`. For a large test set, call it on chunks of trajectories
    and concatenate (the error is reduced frame by frame, memory is that of the inputs).
    """
    if pred.ndim != 5:
        raise ValueError(f"vpt_batch expects trajectories (N, T, H, W, C), got {pred.shape}")
    return jax.vmap(lambda p, t: _vpt(p, t, threshold, offset))(pred, target)


def median_vpt(pred: jax.Array, target: jax.Array, threshold: float = VPT_THRESHOLD,
               offset: int = 0) -> jax.Array:
    """A run's VPT: the median over trajectories of :func:`vpt_batch` (float32 scalar).

    With an even number of trajectories this is the mean of the two middle values (so it may
    end in .5).
    """
    return jnp.median(vpt_batch(pred, target, threshold, offset).astype(jnp.float32))
