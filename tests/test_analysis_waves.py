"""Wave metrics on synthetic lattices whose answers are known
(locornn.analysis.waves.statistics)."""

import json

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from locornn.analysis.waves import phase as wave_phase
from locornn.analysis.waves import statistics as waves

T, H, W, C = 128, 24, 24, 2


def _grid():
    t = np.arange(T)[:, None, None, None]
    y = np.arange(H)[None, :, None, None]
    x = np.arange(W)[None, None, :, None]
    return t, y, x


def plane_wave(theta_deg, wavelength=12.0, period=16.0):
    """cos(k . r - w t): moves along (cos theta, sin theta) at wavelength / period per step."""
    t, y, x = _grid()
    th = np.deg2rad(theta_deg)
    k, w = 2 * np.pi / wavelength, 2 * np.pi / period
    z = np.cos(k * (x * np.cos(th) + y * np.sin(th)) - w * t)
    return np.broadcast_to(z, (T, H, W, C)).copy()


def standing_wave(wavelength=10.0, period=16.0):
    t, y, x = _grid()
    z = np.cos(2 * np.pi * x / wavelength) * np.cos(2 * np.pi * t / period)
    return np.broadcast_to(z, (T, H, W, C)).copy()


def random_phase_oscillators(seed=0, period=16.0):
    t, _, _ = _grid()
    phi0 = np.random.default_rng(seed).uniform(0, 2 * np.pi, (1, H, W, C))
    return np.cos(2 * np.pi * t / period + phi0)


def _angle_diff_deg(a, b):
    return abs(np.rad2deg(np.angle(np.exp(1j * (a - b)))))


# ---------------------------------------------------------------------------------------------
# Frequency and phase
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("period, dt", [(16.0, 1.0), (13.7, 1.0), (9.3, 0.25)])
def test_dominant_frequency_finds_the_oscillation_between_bins(period, dt):
    t = np.arange(200)[:, None]
    z = np.cos(2 * np.pi * t / period + np.arange(5)[None]) + 0.3  # offset must not matter
    f = wave_phase.dominant_frequency(z, dt)
    assert f == pytest.approx(1.0 / (period * dt), rel=0.01)


def test_dominant_frequency_of_constant_signal_is_zero():
    assert wave_phase.dominant_frequency(np.ones((50, 3))) == 0.0


@pytest.mark.parametrize("period", [20.0, 13.7])
def test_instantaneous_phase_of_a_sinusoid_follows_omega_t(period):
    t = np.arange(160)
    phi0 = np.array([0.0, 1.0, -2.5])
    z = 2.0 * np.cos(2 * np.pi * t[:, None] / period + phi0[None]) + 5.0
    phase, f0 = wave_phase.instantaneous_phase(z)
    assert phase.shape == z.shape
    assert f0 == pytest.approx(1.0 / period, rel=5e-3)
    err = np.abs(wave_phase.wrap_angle(phase - (2 * np.pi * t[:, None] / period + phi0[None])))
    assert err[16:-16].max() < 0.1  # the filter and Hilbert transients stay near the edges
    assert err[40:-40].max() < 0.03


def test_instantaneous_phase_rejects_constant_signal():
    with pytest.raises(ValueError, match="constant"):
        wave_phase.instantaneous_phase(np.zeros((40, 2, 2, 1)))


# ---------------------------------------------------------------------------------------------
# Synchrony
# ---------------------------------------------------------------------------------------------


def test_kuramoto_order_parameter_known_values():
    phase = np.array(
        [[0.0, 0.0, 0.0, 0.0], [0.0, np.pi, 0.0, np.pi], [0.0, 0.0, np.pi / 2, np.pi / 2]]
    )
    r = waves.kuramoto_order_parameter(phase.reshape(3, 2, 2, 1))
    np.testing.assert_allclose(r, [1.0, 0.0, np.sqrt(0.5)], atol=1e-12)


def test_local_order_parameter_checkerboard():
    # phases 0 / pi in a checkerboard: a radius-1 disk holds the site and 4 opposite neighbours
    yy, xx = np.mgrid[:6, :6]
    phase = (np.pi * ((yy + xx) % 2))[None, :, :, None]
    r = waves.local_order_parameter(phase, radius=1.0, circular=True)
    np.testing.assert_allclose(r, 3.0 / 5.0)
    r_open = waves.local_order_parameter(phase, radius=1.0, circular=False)
    assert r_open[0, 0, 0] == pytest.approx(1.0 / 3.0)  # corner: itself + 2 neighbours
    assert r_open[0, 0, 3] == pytest.approx(2.0 / 4.0)  # edge: itself + 3 neighbours
    assert r_open[0, 3, 3] == pytest.approx(3.0 / 5.0)
    np.testing.assert_allclose(waves.local_order_parameter(phase, radius=0.5), 1.0)


# ---------------------------------------------------------------------------------------------
# Phase gradients
# ---------------------------------------------------------------------------------------------


def test_phase_gradient_unwraps_neighbour_differences():
    x = np.arange(8)
    phase = wave_phase.wrap_angle(-0.5 * x + 0.3 * np.arange(5)[:, None])  # crosses +-pi often
    gy, gx = waves.phase_gradient(phase[None, :, :, None])
    assert gx.shape == gy.shape == (1, 4, 7, 1)
    np.testing.assert_allclose(gx, -0.5, atol=1e-12)
    np.testing.assert_allclose(gy, 0.3, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Synthetic lattices
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("theta_deg, dt", [(30.0, 1.0), (200.0, 1.0), (115.0, 0.5)])
def test_plane_wave(theta_deg, dt):
    m = waves.wave_metrics(plane_wave(theta_deg), dt=dt)
    assert m["dominant_frequency"] == pytest.approx(1.0 / (16.0 * dt), rel=0.01)
    assert m["traveling_wave_strength"] > 0.95
    assert _angle_diff_deg(m["wave_direction"], np.deg2rad(theta_deg)) < 2.0
    assert m["wave_speed"] == pytest.approx(12.0 / (16.0 * dt), rel=0.03)
    assert m["standing_wave_index"] == pytest.approx(0.5, abs=0.05)
    assert m["svd_rank2_fraction"] > 0.98
    assert m["local_synchrony"] > 0.8
    assert m["global_synchrony"] < 0.2  # two wavelengths across the lattice


def test_plane_wave_on_a_circular_lattice():
    # wavelength 12 divides W = 24: the wave is periodic on the torus
    m = waves.wave_metrics(plane_wave(0.0), circular=True)
    assert m["traveling_wave_strength"] > 0.99
    assert _angle_diff_deg(m["wave_direction"], 0.0) < 1.0
    assert m["wave_speed"] == pytest.approx(0.75, rel=0.02)


def test_standing_wave():
    m = waves.wave_metrics(standing_wave())
    assert m["standing_wave_index"] > 0.99
    assert m["traveling_wave_strength"] < 0.15


def test_standing_index_separates_standing_from_traveling():
    assert waves.standing_wave_index(standing_wave()) > 0.99
    assert waves.standing_wave_index(plane_wave(45.0)) < 0.6


def test_random_phase_oscillators():
    z = random_phase_oscillators()
    m = waves.wave_metrics(z)
    assert m["global_synchrony"] < 3.0 / np.sqrt(H * W * C)
    assert m["traveling_wave_strength"] < 0.15
    assert m["autocorrelation_length"] < 1.0
    assert m["local_synchrony"] < 0.5 < waves.wave_metrics(plane_wave(30.0))["local_synchrony"]


def test_synchronous_oscillation_has_no_wave():
    t = np.arange(T)[:, None, None, None]
    z = np.broadcast_to(np.sin(2 * np.pi * t / 16.0), (T, H, W, C))
    m = waves.wave_metrics(z)
    assert m["global_synchrony"] > 0.999
    assert m["traveling_wave_strength"] == 0.0
    assert np.isnan(m["wave_speed"]) and np.isnan(m["wave_direction"])
    assert np.isnan(m["autocorrelation_length"])  # correlated across the whole lattice


def test_constant_trajectory_gives_nan_phase_metrics():
    m = waves.wave_metrics(np.ones((20, 4, 4, 1)))
    assert m["dominant_frequency"] == 0.0
    assert np.isnan(m["global_synchrony"]) and np.isnan(m["standing_wave_index"])


def test_wave_metrics_batch_is_the_mean_and_json_serialisable():
    a, b = plane_wave(30.0), random_phase_oscillators()
    ma, mb = waves.wave_metrics(a), waves.wave_metrics(b)
    mab = waves.wave_metrics(np.stack([a, b]))
    for key in ("global_synchrony", "traveling_wave_strength", "standing_wave_index"):
        assert mab[key] == pytest.approx(0.5 * (ma[key] + mb[key]))
    assert all(type(v) is float for v in mab.values())
    json.dumps(ma, allow_nan=False)


def test_wave_metrics_rejects_bad_shapes():
    with pytest.raises(ValueError):
        waves.wave_metrics(np.zeros((10, 4, 4)))


# ---------------------------------------------------------------------------------------------
# SVD fractions and spatial autocorrelation
# ---------------------------------------------------------------------------------------------


def test_svd_variance_fractions_known_matrix():
    # orthogonal temporal and spatial patterns with variances 9 : 4 : 1
    t = np.arange(12)
    u = np.stack(
        [np.cos(2 * np.pi * t / 12), np.sin(2 * np.pi * t / 12), np.cos(4 * np.pi * t / 12)], 1
    )
    z = u @ np.diag([3.0, 2.0, 1.0]) @ np.eye(3)[:, :3]
    np.testing.assert_allclose(
        waves.svd_variance_fractions(z.reshape(12, 3, 1, 1), 3), [9 / 14, 13 / 14, 1.0], atol=1e-12
    )


def test_spatial_autocorrelation_of_a_cosine_is_a_cosine():
    x = np.arange(16)
    field = np.broadcast_to(np.cos(2 * np.pi * x / 8.0), (3, 16, 16))
    acf = waves.spatial_autocorrelation(field, circular=True)
    np.testing.assert_allclose(acf[0, :], np.cos(2 * np.pi * x / 8.0), atol=1e-12)
    np.testing.assert_allclose(acf[:, 0], 1.0, atol=1e-12)


def test_correlation_length_interpolates_the_crossing():
    assert waves.correlation_length([1.0, 0.5, 0.2]) == pytest.approx(1 + (0.5 - np.exp(-1)) / 0.3)
    assert np.isnan(waves.correlation_length([1.0, 0.9, 0.8]))


@pytest.mark.parametrize("circular", [True, False])
def test_autocorrelation_length_grows_with_smoothing(circular):
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(8, 64, 64, 1))
    lengths = []
    for sigma in (1.0, 2.0, 4.0):
        z = gaussian_filter(noise, (0, sigma, sigma, 0), mode="wrap")
        lengths.append(waves.autocorrelation_length(z, circular=circular))
    assert lengths[0] < lengths[1] < lengths[2]
    # Gaussian smoothing of width sigma: autocorrelation exp(-d^2 / (4 sigma^2)), length 2 sigma
    np.testing.assert_allclose(lengths, [2.0, 4.0, 8.0], rtol=0.15)


# ---------------------------------------------------------------------------------------------
# The reference's band-pass (Butterworth order 5, 0.2-0.4 of Nyquist, causal) + Hilbert phase
# ---------------------------------------------------------------------------------------------

REFERENCE_PERIOD = 6.5  # 0.154 cycles/step = 0.31 of Nyquist: inside the reference's band


def test_reference_bandpass_is_causal_and_keeps_its_band_only():
    t = np.arange(400)
    inside = np.sin(2 * np.pi * t / REFERENCE_PERIOD)
    below = np.sin(2 * np.pi * t / 40.0)  # 0.05 of Nyquist
    out = wave_phase.reference_bandpass(np.stack([inside, below], axis=1))
    late = slice(100, None)  # past the start-up transient
    assert np.std(out[late, 0]) > 0.8 * np.std(inside[late])
    assert np.std(out[late, 1]) < 0.01 * np.std(below[late])
    changed = inside.copy()
    changed[300:] = 0.0  # causal: the future cannot change the past
    np.testing.assert_array_equal(wave_phase.reference_bandpass(changed[:, None])[:300, 0],
                                  wave_phase.reference_bandpass(inside[:, None])[:300, 0])


@pytest.mark.parametrize("theta_deg", [30.0, 200.0])
def test_reference_band_recovers_a_traveling_waves_speed_and_direction(theta_deg):
    m = waves.wave_metrics(plane_wave(theta_deg, period=REFERENCE_PERIOD), band="reference")
    assert m["traveling_wave_strength"] > 0.95
    assert _angle_diff_deg(m["wave_direction"], np.deg2rad(theta_deg)) < 3.0
    assert m["wave_speed"] == pytest.approx(12.0 / REFERENCE_PERIOD, rel=0.05)


def test_reference_band_finds_no_traveling_wave_in_a_standing_wave_or_white_noise():
    standing = waves.wave_metrics(standing_wave(period=REFERENCE_PERIOD), band="reference")
    assert standing["traveling_wave_strength"] < 0.15
    assert standing["standing_wave_index"] > 0.95
    noise = np.random.default_rng(0).standard_normal((T, H, W, C))
    white = waves.wave_metrics(noise, band="reference")
    assert white["traveling_wave_strength"] < 0.15
    assert white["local_synchrony"] < 0.5


def test_reference_phase_and_band_are_checked():
    filtered, phase = wave_phase.reference_phase(plane_wave(0.0, period=REFERENCE_PERIOD))
    assert phase.shape == filtered.shape == (T, H, W, C)
    assert np.all(np.abs(phase) <= np.pi)
    with pytest.raises(ValueError, match="0 < low < high < 1"):
        wave_phase.reference_bandpass(np.zeros((10, 2)), band=(0.4, 0.2))
    with pytest.raises(ValueError, match="band must be one of"):
        waves.wave_metrics(plane_wave(0.0), band="causal")
