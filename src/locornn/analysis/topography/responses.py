"""Time-averaged responses of a model to static stimuli (gratings, digits): the measurement
behind every orientation map.

Each stimulus is shown as a *constant* input sequence of ``length`` frames; a neuron's response is
its position ``z`` averaged over the steps ``t >= transient``. One jitted call per batch of
stimuli (the recurrence is a ``lax.scan``).

* :func:`grating_responses` / :func:`class_responses`: responses to gratings / labelled images.
* :func:`protocol_responses`: the responses every selectivity protocol of
  :mod:`locornn.analysis.topography.protocols` needs (with the blank and the noisy trials).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import protocols as protocols_
from .stimuli import gratings

__all__ = ["class_responses", "grating_responses", "protocol_responses"]


# ----------------------------------------------------------------------------------------------
# Responses
# ----------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("model", "length", "transient"))
def _states(model, params, images, length: int, transient: int):
    """``(B, h, w, c)`` static images -> ``(B, length - transient, num_neurons)``: ``z_t`` for
    ``t >= transient``."""
    frames = jnp.broadcast_to(images[:, None], (images.shape[0], length, *images.shape[1:]))
    z = model.apply({"params": params}, frames)["z"]
    return z[:, transient:].reshape(images.shape[0], length - transient, -1)


@functools.partial(jax.jit, static_argnames=("model", "length", "transient"))
def _mean_z(model, params, images, length: int, transient: int):
    """``(B, h, w, c)`` static images -> ``(B, num_neurons)``: ``mean_{t >= transient} z_t``.

    Only ``z`` is returned, so XLA drops the decoder.
    """
    return _states(model, params, images, length, transient).mean(axis=1)


def _check_window(length: int, transient: int) -> tuple[int, int]:
    length, transient = int(length), int(transient)
    if not 0 <= transient < length:
        raise ValueError(f"need 0 <= transient < length, got transient={transient}, "
                         f"length={length}")
    return length, transient


def _static_responses(model, params, images, length: int, transient: int,
                      batch: int) -> np.ndarray:
    """Time-averaged responses to static images, in batches of ``batch`` (last one padded, so
    there is a single compilation)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"expected images (N, h, w, c), got shape {images.shape}")
    image_shape = getattr(model, "image_shape", None)
    if image_shape is not None and tuple(images.shape[1:]) != tuple(image_shape):
        raise ValueError(f"stimuli have shape {images.shape[1:]}, the model reads "
                         f"{tuple(image_shape)}")
    (length, transient), batch = _check_window(length, transient), int(batch)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    n = len(images)
    batch = min(batch, n)
    out = []
    for start in range(0, n, batch):
        chunk = images[start:start + batch]
        real = len(chunk)
        if real < batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - real, axis=0)])
        out.append(np.asarray(_mean_z(model, params, jnp.asarray(chunk), length, transient))[:real])
    return np.concatenate(out).astype(np.float64)


def _model_image_size(model, image_size):
    image_shape = getattr(model, "image_shape", None)
    if image_size is None:
        if image_shape is None:
            raise ValueError("image_size is needed for a model without image_shape")
        image_size = image_shape[0]
    image_size = int(image_size)
    if image_shape is not None and tuple(image_shape[:2]) != (image_size, image_size):
        raise ValueError(f"image_size {image_size} does not match the model's image shape "
                         f"{tuple(image_shape)} (square images only)")
    channels = 1 if image_shape is None else int(image_shape[2])
    return image_size, channels


def grating_responses(model, params, image_size: int | None = None, *, wavelength: float,
                      orientations: int = 8, phases: int = 4, length: int = 30,
                      transient: int = 10, contrast: float = 1.0,
                      batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Time-averaged responses of every neuron to static oriented gratings.

    Stimulus ``s = o * phases + p`` is the grating of orientation ``o * 180 / orientations``
    degrees and phase ``p * 360 / phases`` degrees
    (:func:`~locornn.analysis.topography.stimuli.gratings`, values in ``[0, 1]``, copied to every
    input channel), shown as a constant sequence of ``length`` frames. The response is
    ``mean_{transient <= t < length} z[t]``.

    Args:
      model: an :class:`~locornn.models.OscillatorRNN` (anything with ``apply`` returning
        ``{"z": (B, T, ...)}`` and ``image_shape``).
      params: its parameters (``state.params``).
      image_size: side of the square frames; default (``None``) the model's ``image_shape``.
      wavelength: grating period in pixels (> 2).
      orientations, phases, contrast: see :func:`~locornn.analysis.topography.stimuli.gratings`.
      length: frames per stimulus sequence; transient: leading steps left out of the average.
      batch: stimuli per jitted call.

    Returns:
      ``(responses, labels)``: ``(orientations * phases, num_neurons)`` float64 (neurons in C
      order of ``z``'s state shape) and ``(orientations * phases,)`` int orientation index.
    """
    size, channels = _model_image_size(model, image_size)
    g = gratings(size, orientations, phases, wavelength, contrast)  # (O, P, s, s)
    images = np.repeat(g.reshape(orientations * phases, size, size, 1), channels, axis=-1)
    labels = np.repeat(np.arange(orientations), phases)
    return _static_responses(model, params, images, length, transient, batch), labels


def class_responses(model, params, images, labels, length: int = 30, transient: int = 10, *,
                    batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Time-averaged responses to static images of labelled classes (e.g. digits).

    Each image ``(h, w, c)`` is shown as a constant sequence of ``length`` frames; the response
    is ``z`` averaged over ``t >= transient``.

    Returns:
      ``(responses, labels)``: ``(N, num_neurons)`` float64 and ``(N,)`` int labels.
    """
    labels = np.asarray(labels)
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"need one integer label per image, got labels {labels.shape} "
                         f"{labels.dtype} for {len(images)} images")
    return _static_responses(model, params, images, length, transient, batch), labels


def protocol_responses(model, params, image_size: int | None = None, *, wavelength: float,
                       orientations: int = 8, phases: int = 4, length: int = 30,
                       transient: int = 10, contrast: float = 1.0, trials: int = 16,
                       noise: float = 0.5, seed: int = 0,
                       batch: int = 32) -> protocols_.GratingResponses:
    """The responses every selectivity protocol needs
    (:func:`locornn.analysis.topography.protocols.measure_responses`): time-averaged ``z`` and
    ``|z - z_blank|`` for each grating, and time-averaged ``z`` for ``trials`` noisy
    presentations of each (pixel noise of standard deviation ``noise``, from ``seed``). Each
    image is shown as a constant sequence of ``length`` frames, averaged over ``t >=
    transient``; ``batch`` images per jitted call (the last call padded, so there is one
    compilation)."""
    size, channels = _model_image_size(model, image_size)
    (length, transient), batch = _check_window(length, transient), int(batch)
    stimuli = protocols_.grating_stimuli(size, wavelength=wavelength, orientations=orientations,
                                         phases=phases, contrast=contrast, trials=trials,
                                         noise=noise, seed=seed)

    def respond(images):  # (n <= batch, h, w) -> (n, T, N)
        n = len(images)
        chunk = np.repeat(np.asarray(images, np.float32)[..., None], channels, axis=-1)
        if n < batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - n, axis=0)])
        return np.asarray(_states(model, params, jnp.asarray(chunk), length, transient))[:n]

    return protocols_.measure_responses(respond, stimuli, batch=batch)
