"""The phase of a lattice trajectory: dominant frequency, band-pass and Hilbert phase.

A trajectory of the hidden state is an array ``z`` of shape ``(T, H, W, C)``: time, lattice rows,
lattice columns, channels. Conventions (shared with :mod:`locornn.analysis.waves.statistics`,
:mod:`locornn.analysis.topography.stimuli` and :mod:`locornn.analysis.topography.selectivity`):

* Lattice coordinates: ``x`` is the column index (axis ``W``), ``y`` is the row index (axis ``H``),
  both increasing with the array index. Angles are measured from the ``+x`` axis towards the
  ``+y`` axis, i.e. counter-clockwise when the lattice is drawn with row 0 at the bottom
  (``imshow(..., origin="lower")``) and clockwise with matplotlib's default ``origin="upper"``.
* Time: ``dt`` is the duration of one step in the caller's unit of time. Frequencies are in
  cycles per unit time, angular frequencies ``omega = 2 pi f`` in radians per unit time, speeds in
  lattice units per unit time. With the default ``dt = 1`` the unit of time is one step.
* Phase: the Hilbert phase ``phi`` of a band-passed signal increases in time
  (``d phi / dt = +omega > 0``), so a wave ``cos(k . x - omega t)`` has ``phi = omega t - k . x``
  and propagates along ``-grad phi``.

:func:`instantaneous_phase` band-passes around the :func:`dominant_frequency` (zero phase) and
takes the Hilbert phase; :func:`reference_phase` does the same with the reference code's causal
filter (:func:`reference_bandpass`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "dominant_frequency",
    "instantaneous_phase",
    "reference_bandpass",
    "reference_phase",
    "wrap_angle",
]

# The reference code's wave videos: Butterworth order 5, pass band 0.2-0.4 of Nyquist, causal.
REFERENCE_BAND = (0.2, 0.4)
REFERENCE_ORDER = 5


def _signal():
    """``scipy.signal``, imported on first use: it takes ~0.6 s, and every ``locornn train``
    imports this module (through :mod:`locornn.tasks`) whether or not it measures a phase."""
    from scipy import signal

    return signal


def wrap_angle(a: np.ndarray) -> np.ndarray:
    """Wrap angles to ``(-pi, pi]``: ``angle(exp(i a))``. Same shape as ``a``."""
    return np.angle(np.exp(1j * np.asarray(a)))


def _check_trajectory(z) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 4:
        raise ValueError(f"expected a trajectory of shape (T, H, W, C), got shape {z.shape}")
    return z


# ----------------------------------------------------------------------------------------------
# Dominant frequency and instantaneous phase
# ----------------------------------------------------------------------------------------------


def dominant_frequency(z, dt: float = 1.0) -> float:
    """Dominant temporal frequency of a trajectory, in cycles per unit time.

    Args:
      z: ``(T, ...)`` activity; time is axis 0, all other axes are neurons.
      dt: duration of one time step.

    Returns:
      ``f0 = (k* + delta) / (T dt)`` where ``k*`` maximises the neuron-averaged Hann-windowed
      power spectrum ``P[k] = mean_j |rfft(w * (z_j - mean_t z_j))[k]|^2`` over ``k >= 1`` (the
      DC bin is excluded) and ``delta`` in ``[-1/2, 1/2]`` is the vertex of the parabola through
      ``log P`` at ``k*-1, k*, k*+1`` (sub-bin refinement; exact for a Gaussian peak, and the
      Hann main lobe is close to one). Returns ``0.0`` when ``z`` is constant in time.
    """
    z = np.asarray(z, dtype=np.float64)
    t = z.shape[0]
    if t < 3:
        raise ValueError(f"need at least 3 time steps, got {t}")
    x = z.reshape(t, -1)
    x = x - x.mean(axis=0, keepdims=True)
    w = np.hanning(t)[:, None]
    power = np.mean(np.abs(np.fft.rfft(w * x, axis=0)) ** 2, axis=1)  # (T//2+1,)
    if not np.any(power[1:] > 0):
        return 0.0
    k = int(np.argmax(power[1:])) + 1
    delta = 0.0
    if k + 1 < power.shape[0] and np.all(power[k - 1 : k + 2] > 0):
        a, b, c = np.log(power[k - 1 : k + 2])
        denom = a - 2.0 * b + c
        if denom < 0:  # a proper maximum
            delta = float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
    return float((k + delta) / (t * dt))


def _bandpass_sos(f0: float, dt: float, bandwidth: float, order: int):
    """Butterworth SOS for the band ``f0 (1 -+ bandwidth/2)``; ``None`` when no filter applies."""
    nyquist = 0.5 / dt
    lo = f0 * (1.0 - 0.5 * bandwidth)
    hi = f0 * (1.0 + 0.5 * bandwidth)
    lo_ok = lo > 0.0
    hi_ok = hi < 0.99 * nyquist
    fs = 1.0 / dt
    if lo_ok and hi_ok:
        return _signal().butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
    if lo_ok:  # upper edge at or above Nyquist: high-pass only
        return _signal().butter(order, lo, btype="highpass", fs=fs, output="sos")
    if hi_ok:  # lower edge at or below 0: low-pass only
        return _signal().butter(order, hi, btype="lowpass", fs=fs, output="sos")
    return None


def instantaneous_phase(
    z,
    dt: float = 1.0,
    bandwidth: float = 1.0,
    order: int = 2,
    frequency: float | None = None,
) -> tuple[np.ndarray, float]:
    """Instantaneous phase of every neuron: band-pass in time, then the Hilbert transform.

    Args:
      z: ``(T, H, W, C)`` trajectory (any ``(T, ...)`` works; time is axis 0).
      dt: duration of one time step.
      bandwidth: relative width of the pass band: ``[f0 (1 - bandwidth/2), f0 (1 + bandwidth/2)]``
        (the default 1.0 keeps ``0.5 f0 .. 1.5 f0``; narrower bands ring longer, so their edge
        transients reach further into the sequence). Edges at or below 0 or within 1% of the
        Nyquist frequency ``1/(2 dt)`` are dropped (low-pass / high-pass / no filter).
      order: order of the Butterworth filter (applied forwards and backwards with ``sosfiltfilt``:
        zero phase shift, effective order ``2 * order``).
      frequency: centre frequency ``f0`` (cycles per unit time); default:
        :func:`dominant_frequency`.

    Returns:
      ``(phase, f0)``: ``phase`` has the shape of ``z``, values in ``(-pi, pi]``:
      ``phi_j(t) = angle(hilbert(bandpass(z_j - mean_t z_j))(t))``; ``f0`` is the centre frequency.
      The analytic signal has only positive frequencies, so ``phi`` increases in time.

    Raises:
      ValueError: when ``z`` is constant in time (no phase is defined).
    """
    z = np.asarray(z, dtype=np.float64)
    t = z.shape[0]
    f0 = dominant_frequency(z, dt) if frequency is None else float(frequency)
    if f0 <= 0.0:
        raise ValueError("the trajectory is constant in time: no phase is defined")
    x = (z - z.mean(axis=0, keepdims=True)).reshape(t, -1)
    sos = _bandpass_sos(f0, dt, bandwidth, order)
    phase = np.empty(x.shape)
    # Mirror-pad by T steps at both ends (x[T-1..0], x, x[T-1..0]) for the filter AND the
    # Hilbert transform, then crop: the filter's start-up transients and the FFT's wrap-around
    # fall in the padding. Measured on sinusoids, this cuts the phase error away from the edges
    # 3-4x against sosfiltfilt's own short odd padding followed by an unpadded Hilbert.
    # Neurons are processed in chunks to bound memory (~2^22 padded samples at a time).
    chunk = max(1, (1 << 22) // (3 * t))
    for start in range(0, x.shape[1], chunk):
        xp = np.pad(x[:, start : start + chunk], ((t, t), (0, 0)), mode="symmetric")
        if sos is not None:
            xp = _signal().sosfiltfilt(sos, xp, axis=0, padlen=0)
        phase[:, start : start + chunk] = np.angle(_signal().hilbert(xp, axis=0)[t : 2 * t])
    return phase.reshape(z.shape), f0


def reference_bandpass(z, band: tuple[float, float] = REFERENCE_BAND,
                       order: int = REFERENCE_ORDER) -> np.ndarray:
    r"""Band-pass every neuron in time the way the reference code's wave videos do.

    A causal Butterworth filter (``scipy.signal.butter(order, band, "bandpass")`` with the band
    edges as fractions of the Nyquist frequency, applied once forwards with ``sosfilt``), on
    ``z - z[0]`` (the first frame, not the mean over time, which would depend on the future).
    Causal: the output at ``t`` depends on steps ``<= t`` only, at the price of a phase lag and
    a start-up transient of a few periods (the first steps are unreliable).

    Args:
      z: ``(T, ...)`` trajectory, time on axis 0.
      band: ``(low, high)`` pass band in units of the Nyquist frequency ``1 / (2 dt)``.
      order: filter order.

    Returns:
      the filtered trajectory, same shape, float64.
    """
    z = np.asarray(z, dtype=np.float64)
    low, high = band
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"band must satisfy 0 < low < high < 1 (fractions of Nyquist), got {band}")
    sos = _signal().butter(order, [low, high], btype="bandpass", output="sos")
    return _signal().sosfilt(sos, z - z[:1], axis=0)


def reference_phase(z, band: tuple[float, float] = REFERENCE_BAND,
                    order: int = REFERENCE_ORDER) -> tuple[np.ndarray, np.ndarray]:
    r"""``(filtered, phase)``: :func:`reference_bandpass`, then the Hilbert phase of each neuron.

    ``phi_j(t) = angle(hilbert(bandpass(z_j))(t))`` in ``(-pi, pi]`` (increasing in time, as in
    :func:`instantaneous_phase`), same shape as ``z``.
    """
    filtered = reference_bandpass(z, band, order)
    return filtered, np.angle(_signal().hilbert(filtered, axis=0))
