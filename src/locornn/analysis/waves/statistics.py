"""Wave statistics of lattice trajectories (NumPy/SciPy only: no JAX, no Flax).

A trajectory of the hidden state is an array ``z`` of shape ``(T, H, W, C)`` (or
``(B, T, H, W, C)`` for a batch, accepted by :func:`wave_metrics`); coordinates, time and phase
follow :mod:`locornn.analysis.waves.phase`.

Pipeline: the phase (:func:`~locornn.analysis.waves.phase.instantaneous_phase`), then synchrony
(:func:`kuramoto_order_parameter`, :func:`local_order_parameter`), traveling-wave statistics from
wrapped phase gradients (:func:`traveling_wave_statistics`), the SVD standing-wave index
(:func:`svd_variance_fractions`) and the spatial autocorrelation length
(:func:`autocorrelation_length`). :func:`wave_metrics` computes all of them into a dict of floats.
"""

from __future__ import annotations

import warnings

import numpy as np

from .phase import (
    _check_trajectory,
    dominant_frequency,
    instantaneous_phase,
    reference_phase,
    wrap_angle,
)

__all__ = [
    "autocorrelation_length",
    "correlation_length",
    "global_synchrony",
    "kuramoto_order_parameter",
    "local_order_parameter",
    "local_synchrony",
    "phase_gradient",
    "radial_profile",
    "spatial_autocorrelation",
    "standing_wave_index",
    "svd_variance_fractions",
    "traveling_wave_statistics",
    "wave_metrics",
]

INV_E = float(np.exp(-1.0))
BANDS = ("adaptive", "reference")


# ----------------------------------------------------------------------------------------------
# Synchrony (Kuramoto order parameter)
# ----------------------------------------------------------------------------------------------


def kuramoto_order_parameter(phase) -> np.ndarray:
    """Global Kuramoto order parameter over time.

    ``R(t) = | mean_j exp(i phi_j(t)) |`` over all neurons ``j`` (all axes but time).

    Args:
      phase: ``(T, H, W, C)`` (or ``(T, ...)``) phases.

    Returns:
      ``(T,)`` values in ``[0, 1]``: 1 for perfect synchrony, ``~ sqrt(pi/(4N))`` for ``N``
      independent uniformly random phases.
    """
    phase = np.asarray(phase)
    e = np.exp(1j * phase.reshape(phase.shape[0], -1))
    return np.abs(e.mean(axis=1))


def global_synchrony(phase) -> float:
    """Time-averaged global order parameter ``mean_t R(t)`` (:func:`kuramoto_order_parameter`)."""
    return float(np.mean(kuramoto_order_parameter(phase)))


def _disk_offsets(radius: float) -> list[tuple[int, int]]:
    r = int(np.floor(radius))
    return [
        (dy, dx)
        for dy in range(-r, r + 1)
        for dx in range(-r, r + 1)
        if dy * dy + dx * dx <= radius * radius + 1e-9
    ]


def _disk_sum(a: np.ndarray, radius: float, circular: bool) -> np.ndarray:
    """``out[..., y, x] = sum_{dy^2 + dx^2 <= r^2} a[..., y + dy, x + dx]`` on axes (-2, -1).

    Outside the lattice counts as 0 unless ``circular`` (then indices wrap around).
    """
    offsets = _disk_offsets(radius)
    h, w = a.shape[-2:]
    out = np.zeros_like(a)
    if circular:
        for dy, dx in offsets:
            out += np.roll(a, shift=(-dy, -dx), axis=(-2, -1))
        return out
    r = int(np.floor(radius))
    pad = [(0, 0)] * (a.ndim - 2) + [(r, r), (r, r)]
    p = np.pad(a, pad)
    for dy, dx in offsets:
        out += p[..., r + dy : r + dy + h, r + dx : r + dx + w]
    return out


def local_order_parameter(phase, radius: float = 2.0, circular: bool = False) -> np.ndarray:
    """Local Kuramoto order parameter of every lattice site.

    ``R_i(t) = | mean_{j in D(i)} exp(i phi_j(t)) |`` where ``D(i)`` holds all neurons (every
    channel) at lattice sites within Euclidean distance ``radius`` of site ``i``, ``i`` included.
    Without ``circular`` the disk is clipped at the lattice border (the mean is over the sites
    that exist); with ``circular`` it wraps around.

    Args:
      phase: ``(T, H, W, C)`` phases.
      radius: disk radius in lattice units (``radius < 1`` reduces to the channels of one site).
      circular: periodic lattice boundaries.

    Returns:
      ``(T, H, W)`` values in ``[0, 1]``.
    """
    phase = np.asarray(phase)
    if phase.ndim != 4:
        raise ValueError(f"expected phases of shape (T, H, W, C), got {phase.shape}")
    c = phase.shape[-1]
    e = np.exp(1j * phase).sum(axis=-1)  # (T, H, W)
    s = _disk_sum(e, radius, circular)
    n = _disk_sum(np.full(phase.shape[1:3], float(c)), radius, circular)  # (H, W)
    return np.abs(s) / n


def local_synchrony(phase, radius: float = 2.0, circular: bool = False) -> float:
    """``mean_{t, i} R_i(t)`` of :func:`local_order_parameter`."""
    return float(np.mean(local_order_parameter(phase, radius, circular)))


# ----------------------------------------------------------------------------------------------
# Phase gradients and traveling waves
# ----------------------------------------------------------------------------------------------


def phase_gradient(phase, circular: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Spatial phase gradient from wrapped neighbour differences (radians per lattice unit).

    ``g_x(y, x) = angle(exp(i (phi(y, x+1) - phi(y, x))))`` and
    ``g_y(y, x) = angle(exp(i (phi(y+1, x) - phi(y, x))))``, both in ``(-pi, pi]``: wavelengths
    down to 2 lattice units are resolved without aliasing.

    Args:
      phase: ``(T, H, W, C)`` phases.
      circular: periodic boundaries (the last row/column is differenced with the first).

    Returns:
      ``(g_y, g_x)``, each ``(T, H, W, C)`` with ``circular``, else ``(T, H-1, W-1, C)`` (forward
      differences on the sites that have both a right and a lower neighbour).
    """
    phase = np.asarray(phase)
    if phase.ndim != 4:
        raise ValueError(f"expected phases of shape (T, H, W, C), got {phase.shape}")
    if circular:
        gx = wrap_angle(np.roll(phase, -1, axis=2) - phase)
        gy = wrap_angle(np.roll(phase, -1, axis=1) - phase)
        return gy, gx
    gx = wrap_angle(phase[:, :-1, 1:, :] - phase[:, :-1, :-1, :])
    gy = wrap_angle(phase[:, 1:, :-1, :] - phase[:, :-1, :-1, :])
    return gy, gx


def traveling_wave_statistics(
    phase,
    frequency: float,
    circular: bool = False,
    min_gradient: float = 1e-3,
) -> dict[str, float]:
    """Traveling-wave strength, mean speed and mean direction from the phase gradient field.

    With ``g = (g_x, g_y)`` from :func:`phase_gradient` the local propagation direction is the
    unit vector ``u = -g / |g|`` (the phase increases in time, so a wave moves down its phase
    gradient). Sites with ``|g| < min_gradient`` (radians per lattice unit; 1e-3 corresponds to a
    wavelength of ~6000 lattice units, i.e. locally synchronous) have no direction: ``u = 0``.

    * ``traveling_wave_strength = mean_{t, c} | mean_{sites} u |`` in ``[0, 1]``: the coherence of
      the propagation direction over the lattice in each frame and channel (the zero vectors of
      synchronous sites count in the mean). ~1 for a plane wave; ~0 for a standing wave (its
      phase is piecewise constant, jumping by pi at the nodes with no preferred sign), for
      synchrony, and for independent oscillators (``O(1/sqrt(H W))``).
    * ``wave_direction = atan2(mean u_y, mean u_x)`` in ``[0, 2 pi)`` with the mean over time,
      sites and channels (angle convention: see the module docstring); NaN if no site has a
      gradient.
    * ``wave_speed = omega / mean_{|g| >= min_gradient} |g|`` with ``omega = 2 pi frequency``:
      lattice units per unit time (the phase speed of a wave with the average gradient
      magnitude; averaging ``|g|`` rather than ``1/|g|`` keeps nearly synchronous patches from
      dominating). NaN if no site has a gradient.

    Args:
      phase: ``(T, H, W, C)`` phases (see :func:`instantaneous_phase`).
      frequency: temporal frequency ``f0`` in cycles per unit time.
      circular: periodic lattice boundaries for the gradient.
      min_gradient: gradient magnitude below which a site counts as synchronous.

    Returns:
      dict with float values ``traveling_wave_strength``, ``wave_speed``, ``wave_direction``.
    """
    gy, gx = phase_gradient(phase, circular)
    g = gx + 1j * gy  # complex encoding of the 2-vector (x, y)
    mag = np.abs(g)
    valid = mag >= min_gradient
    u = np.where(valid, -g / np.where(valid, mag, 1.0), 0.0)  # (T, H', W', C)
    strength = float(np.mean(np.abs(u.mean(axis=(1, 2)))))
    if not np.any(valid):
        return {
            "traveling_wave_strength": strength,
            "wave_speed": float("nan"),
            "wave_direction": float("nan"),
        }
    mean_u = u.mean()
    direction = float(np.mod(np.angle(mean_u), 2 * np.pi)) if abs(mean_u) > 0 else float("nan")
    omega = 2.0 * np.pi * abs(float(frequency))
    speed = float(omega / mag[valid].mean())
    return {"traveling_wave_strength": strength, "wave_speed": speed, "wave_direction": direction}


# ----------------------------------------------------------------------------------------------
# Standing waves: SVD of the (time x space) activity
# ----------------------------------------------------------------------------------------------


def svd_variance_fractions(z, k: int = 2) -> np.ndarray:
    """Cumulative fraction of variance explained by the first ``k`` SVD components.

    ``X = z.reshape(T, N) - mean_t``: the (time x neurons) matrix of the activity with each
    neuron's temporal mean removed, singular values ``s_1 >= s_2 >= ...``;
    ``fraction[m-1] = sum_{i <= m} s_i^2 / sum_i s_i^2``. (Computed from the eigenvalues of the
    smaller Gram matrix, ``X X^T`` or ``X^T X``, which are the ``s_i^2``.)

    Args:
      z: ``(T, H, W, C)`` (or ``(T, ...)``) activity.
      k: number of components.

    Returns:
      ``(k,)`` non-decreasing values in ``[0, 1]``; NaN if ``z`` is constant in time.
    """
    z = np.asarray(z, dtype=np.float64)
    x = z.reshape(z.shape[0], -1)
    x = x - x.mean(axis=0, keepdims=True)
    gram = x @ x.T if x.shape[0] <= x.shape[1] else x.T @ x
    ev = np.clip(np.linalg.eigvalsh(gram)[::-1], 0.0, None)  # s_i^2, descending
    total = ev.sum()
    out = np.full(k, np.nan)
    if total > 0:
        top = np.zeros(k)
        top[: min(k, ev.size)] = ev[:k]
        out = np.cumsum(top) / total
    return out


def standing_wave_index(z) -> float:
    """Rank-1 variance fraction of the mean-removed (time x space) activity.

    A standing wave ``A(x) B(t)`` is one spatial pattern times one temporal oscillation: rank 1,
    index 1. A traveling plane wave ``cos(k.x - w t) = cos(k.x) cos(w t) + sin(k.x) sin(w t)``
    needs two components of (nearly) equal variance: index ~0.5 (and rank-2 fraction ~1).
    Independent noise spreads its variance over many components: index ~1/min(T, N).
    Any single-frequency oscillation with spatially varying phase is rank 2 (e.g. independent
    oscillators of one frequency and random phases also give ~0.5), so the index tells standing
    from non-standing; :func:`traveling_wave_statistics` tells a traveling wave from the rest.
    See :func:`svd_variance_fractions`.
    """
    return float(svd_variance_fractions(z, 1)[0])


# ----------------------------------------------------------------------------------------------
# Spatial autocorrelation
# ----------------------------------------------------------------------------------------------


def _lag_index(n: int, size: int) -> np.ndarray:
    """Signed lag for each FFT index of an axis of length ``size`` over a field of length ``n``."""
    i = np.arange(size)
    return np.where(i <= size // 2, i, i - size) if size == n else np.where(i < n, i, i - size)


def spatial_autocorrelation(fields, mask=None, circular: bool = False) -> np.ndarray:
    """Normalised spatial autocorrelation of a stack of 2-D fields (real or complex), via FFT.

    ``A(d) = Re sum_n sum_x m_n(x) m_n(x+d) conj(f_n(x)) f_n(x+d) / sum_n sum_x m_n(x) m_n(x+d)``
    divided by ``A(0)``: the pair-count-normalised (unbiased) estimator, averaged over the stack
    ``n``, with ``m`` the mask (1 where the field is defined) and ``A(0) = 1``. The fields are used
    as given (remove any mean first). Without ``circular`` they are zero-padded to ``(2H, 2W)``,
    so no pair wraps around.

    Args:
      fields: ``(N, H, W)`` stack (e.g. frames x channels), real or complex.
      mask: optional ``(N, H, W)`` or ``(H, W)`` boolean; ``False`` sites are ignored.
      circular: periodic boundaries.

    Returns:
      ``(Hp, Wp)`` autocorrelation indexed by lag in FFT order (``(H, W)`` if ``circular``, else
      ``(2H, 2W)``; index ``i`` is lag ``i`` for small ``i`` and ``i - Hp`` for the upper half; use
      :func:`radial_profile`). Lags with no pairs are NaN; all NaN if ``A(0) = 0``.
    """
    f = np.asarray(fields)
    if f.ndim != 3:
        raise ValueError(f"expected fields of shape (N, H, W), got {f.shape}")
    m = (
        np.ones(f.shape, dtype=np.float64)
        if mask is None
        else np.broadcast_to(np.asarray(mask, dtype=np.float64), f.shape)
    )
    f = np.where(m > 0, f, 0.0)
    h, w = f.shape[1:]
    shape = (h, w) if circular else (2 * h, 2 * w)
    ff = np.fft.fft2(f, s=shape)
    fm = np.fft.fft2(m, s=shape)
    num = np.real(np.fft.ifft2((np.abs(ff) ** 2).sum(axis=0)))
    cnt = np.real(np.fft.ifft2((np.abs(fm) ** 2).sum(axis=0)))
    acf = np.full(shape, np.nan)
    has_pairs = cnt > 0.5
    acf[has_pairs] = num[has_pairs] / cnt[has_pairs]
    a0 = acf[0, 0]
    if not np.isfinite(a0) or a0 <= 0:
        return np.full(shape, np.nan)
    return acf / a0


def radial_profile(acf, field_shape: tuple[int, int], max_lag: int | None = None) -> np.ndarray:
    """Radially averaged autocorrelation at integer lags ``0 .. max_lag``.

    ``p[r] = mean of A(dy, dx) over lags with round(sqrt(dy^2 + dx^2)) = r`` (NaN lags ignored).

    Args:
      acf: output of :func:`spatial_autocorrelation`.
      field_shape: ``(H, W)`` of the fields it came from.
      max_lag: largest lag; default ``min(H, W) // 2``.

    Returns:
      ``(max_lag + 1,)`` profile, ``p[0] = 1``; NaN where a lag has no defined value.
    """
    acf = np.asarray(acf)
    h, w = field_shape
    if max_lag is None:
        max_lag = min(h, w) // 2
    dy = _lag_index(h, acf.shape[0])[:, None]
    dx = _lag_index(w, acf.shape[1])[None, :]
    r = np.rint(np.hypot(dy, dx)).astype(int)
    ok = np.isfinite(acf) & (r <= max_lag)
    sums = np.bincount(r[ok], weights=acf[ok], minlength=max_lag + 1)
    counts = np.bincount(r[ok], minlength=max_lag + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)[: max_lag + 1]


def correlation_length(profile, level: float = INV_E) -> float:
    """First lag where a radial profile drops below ``level``, linearly interpolated.

    ``L = (r - 1) + (p[r-1] - level) / (p[r-1] - p[r])`` for the first ``r`` with
    ``p[r] < level``. NaN if the profile never drops below ``level`` within its lags (the
    correlation is longer than the lattice can measure).
    """
    p = np.asarray(profile, dtype=np.float64)
    if p.size == 0 or not np.isfinite(p[0]):
        return float("nan")
    below = np.nonzero(np.isfinite(p) & (p < level))[0]
    if below.size == 0:
        return float("nan")
    r = int(below[0])
    if r == 0:
        return 0.0
    prev = p[r - 1] if np.isfinite(p[r - 1]) else 1.0
    return float((r - 1) + (prev - level) / (prev - p[r]))


def autocorrelation_length(
    z, circular: bool = False, level: float = INV_E, max_lag: int | None = None
) -> float:
    """Spatial autocorrelation length of the activity, in lattice units.

    Each neuron's temporal mean is removed (a static spatial pattern is not activity
    fluctuation; a synchronous oscillation keeps its infinite spatial correlation), then the
    autocorrelation of every frame and channel is averaged (:func:`spatial_autocorrelation`),
    radially averaged (:func:`radial_profile`) and the first lag below ``level = 1/e`` is
    returned (:func:`correlation_length`). For Gaussian-smoothed white noise of width ``sigma``
    the autocorrelation is ``exp(-d^2 / (4 sigma^2))`` and the length is ``2 sigma``; for
    independent neurons it is below 1.

    Args:
      z: ``(T, H, W, C)`` activity.
      circular: periodic lattice boundaries.
      level: threshold (default ``1/e``).
      max_lag: largest lag examined (default ``min(H, W) // 2``).

    Returns:
      float; NaN if the autocorrelation stays above ``level`` up to ``max_lag`` or ``z`` is
      constant in time.
    """
    z = _check_trajectory(z)
    t, h, w, c = z.shape
    x = z - z.mean(axis=0, keepdims=True)
    stack = np.moveaxis(x, 3, 1).reshape(t * c, h, w)
    acf = spatial_autocorrelation(stack, circular=circular)
    return correlation_length(radial_profile(acf, (h, w), max_lag), level)


# ----------------------------------------------------------------------------------------------
# Everything at once
# ----------------------------------------------------------------------------------------------

_METRIC_KEYS = (
    "dominant_frequency",
    "global_synchrony",
    "local_synchrony",
    "traveling_wave_strength",
    "wave_speed",
    "wave_direction",
    "standing_wave_index",
    "svd_rank1_fraction",
    "svd_rank2_fraction",
    "autocorrelation_length",
)


def _wave_metrics_one(z, dt, bandwidth, order, radius, circular, edge_trim, min_gradient,
                      band="adaptive"):
    out = dict.fromkeys(_METRIC_KEYS, float("nan"))
    if band == "reference":  # every metric on the reference's band-passed signal
        z, reference_phi = reference_phase(z)
    fr = svd_variance_fractions(z, 2)
    out["svd_rank1_fraction"] = float(fr[0])
    out["svd_rank2_fraction"] = float(fr[1])
    out["standing_wave_index"] = float(fr[0])
    out["autocorrelation_length"] = autocorrelation_length(z, circular=circular)
    f0 = dominant_frequency(z, dt)
    out["dominant_frequency"] = f0
    if f0 <= 0.0:  # constant trajectory: no phase
        return out
    if band == "reference":
        phase = reference_phi
    else:
        phase, _ = instantaneous_phase(z, dt, bandwidth, order, frequency=f0)
    t = phase.shape[0]
    trim = int(round(edge_trim * t))
    if t - 2 * trim >= 1:
        phase = phase[trim : t - trim]
    out["global_synchrony"] = global_synchrony(phase)
    out["local_synchrony"] = local_synchrony(phase, radius, circular)
    out.update(traveling_wave_statistics(phase, f0, circular, min_gradient))
    return out


def wave_metrics(
    z,
    dt: float = 1.0,
    bandwidth: float = 1.0,
    order: int = 2,
    radius: float = 2.0,
    circular: bool = False,
    edge_trim: float = 0.1,
    min_gradient: float = 1e-3,
    band: str = "adaptive",
) -> dict[str, float]:
    """All wave metrics of one trajectory, or their mean over a batch.

    Args:
      z: ``(T, H, W, C)`` trajectory or ``(B, T, H, W, C)`` batch.
      dt: duration of one step (sets the unit of time; see the module docstring).
      bandwidth, order: band-pass filter (see :func:`instantaneous_phase`).
      radius: disk radius of the local synchrony (see :func:`local_order_parameter`).
      circular: periodic lattice boundaries (gradients, local synchrony, autocorrelation).
      edge_trim: fraction of the steps dropped at each end before the phase metrics (synchrony,
        traveling waves), where the filter and the Hilbert transform have edge transients.
      min_gradient: see :func:`traveling_wave_statistics`.
      band: ``"adaptive"`` (default): the phase comes from a zero-phase band-pass around the
        dominant frequency (:func:`instantaneous_phase`); ``"reference"``: every metric (also the
        SVD, autocorrelation and dominant frequency) is computed on the reference code's causal
        band-passed signal (:func:`reference_bandpass`: order 5, 0.2-0.4 of Nyquist), whose
        Hilbert phase gives the phase metrics. The causal filter's start-up transient falls in
        the first ``edge_trim`` of the steps, which the phase metrics drop.

    Returns:
      dict of Python floats:
      ``dominant_frequency`` (cycles per unit time), ``global_synchrony`` (mean_t R(t)),
      ``local_synchrony`` (mean local R within ``radius``), ``traveling_wave_strength``,
      ``wave_speed`` (lattice units per unit time), ``wave_direction`` (radians in ``[0, 2 pi)``),
      ``standing_wave_index`` (= ``svd_rank1_fraction``), ``svd_rank1_fraction``,
      ``svd_rank2_fraction``, ``autocorrelation_length`` (lattice units).
      A metric that is undefined is NaN (``json.dumps`` writes it as ``NaN``): ``wave_speed`` and
      ``wave_direction`` without phase gradients, ``autocorrelation_length`` when the correlation
      outlasts half the lattice, all phase metrics for a trajectory constant in time. For a
      batch every value is the NaN-ignoring mean over the batch, except ``wave_direction``, the
      angle of the mean unit vector of the per-trajectory directions.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 4:
        z = z[None]
    if z.ndim != 5:
        raise ValueError(f"expected (T, H, W, C) or (B, T, H, W, C), got shape {z.shape}")
    if band not in BANDS:
        raise ValueError(f"band must be one of {BANDS}, got {band!r}")
    per = [
        _wave_metrics_one(zb, dt, bandwidth, order, radius, circular, edge_trim, min_gradient,
                          band)
        for zb in z
    ]
    out: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # all-NaN columns
        for key in _METRIC_KEYS:
            vals = np.array([p[key] for p in per], dtype=np.float64)
            if key == "wave_direction":
                vals = vals[np.isfinite(vals)]
                mean_u = np.exp(1j * vals).mean() if vals.size else 0.0
                out[key] = (
                    float(np.mod(np.angle(mean_u), 2 * np.pi)) if abs(mean_u) > 0 else float("nan")
                )
            else:
                out[key] = float(np.nanmean(vals))
    return out
