"""Cohen's d, preferred orientations and topographic-map statistics on constructed lattices."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import gaussian_filter

from locornn.analysis.topography import selectivity as sel
from locornn.analysis.topography.stimuli import orientation_angles

ANGLES = orientation_angles(8)
LABELS = np.repeat(np.arange(8), 4)  # 8 orientations x 4 phases


def smooth_orientation_map(size, sigma, seed):
    """Preferred orientations in smooth domains: angle of Gaussian-smoothed complex noise / 2."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(2, size, size))
    f = gaussian_filter(noise[0], sigma, mode="wrap") + 1j * gaussian_filter(
        noise[1], sigma, mode="wrap"
    )
    return np.mod(np.angle(f) / 2, np.pi)


def tuned_responses(pref_map, seed, noise=0.3):
    """von Mises tuning around each neuron's preferred orientation, plus noise: (32, N)."""
    rng = np.random.default_rng(seed)
    stim = ANGLES[LABELS][:, None]
    r = np.exp(2.0 * np.cos(2 * (stim - pref_map.reshape(1, -1))))
    return r + noise * rng.normal(size=r.shape)


# ---------------------------------------------------------------------------------------------
# Cohen's d
# ---------------------------------------------------------------------------------------------


def test_cohens_d_matches_a_direct_numpy_computation():
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.repeat(np.arange(5), [3, 4, 5, 6, 7]))
    r = rng.normal(size=(25, 11)) * rng.uniform(0.5, 2, 11) + rng.normal(size=11)
    d = sel.cohens_d(r, labels)
    assert d.shape == (5, 11)
    for c in range(5):
        a, b = r[labels == c], r[labels != c]
        na, nb = len(a), len(b)
        sp = np.sqrt(
            ((na - 1) * a.var(axis=0, ddof=1) + (nb - 1) * b.var(axis=0, ddof=1)) / (na + nb - 2)
        )
        np.testing.assert_allclose(d[c], (a.mean(0) - b.mean(0)) / sp, rtol=1e-12)


def test_cohens_d_known_value():
    # class 0: 1, 2, 3; class 1: 4, 5, 6 -> means 2 and 5, pooled variance (2 + 2) / 4 = 1
    r = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])[:, None]
    d = sel.cohens_d(r, np.array([0, 0, 0, 1, 1, 1]))
    np.testing.assert_allclose(d[:, 0], [-3.0, 3.0])


def test_cohens_d_zero_variance_guard():
    labels = np.array([0, 0, 1, 1, 2, 2])
    constant = np.full(6, 4.0)
    step = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0])  # zero variance within both groups of class 0
    d = sel.cohens_d(np.stack([constant, step], 1), labels, eps=1e-6)
    assert np.all(d[:, 0] == 0.0)
    assert d[0, 1] == pytest.approx(1.0 / 1e-6)  # large but finite
    assert np.all(np.isfinite(d))


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.1, 100.0), shift=st.floats(-100.0, 100.0), seed=st.integers(0, 1000))
def test_cohens_d_is_invariant_to_positive_affine_maps(scale, shift, seed):
    r = np.random.default_rng(seed).normal(size=(12, 3))
    labels = np.repeat(np.arange(3), 4)
    np.testing.assert_allclose(
        sel.cohens_d(scale * r + shift, labels), sel.cohens_d(r, labels), rtol=1e-6, atol=1e-9
    )


def test_cohens_d_rejects_empty_classes():
    with pytest.raises(ValueError):
        sel.cohens_d(np.zeros((4, 2)), np.array([0, 0, 2, 2]))


def test_preferred_and_threshold():
    d = np.array([[0.1, 2.0, 0.64], [0.7, -1.0, 0.2]])
    pref, selective = sel.preferred(d, threshold=0.65)
    np.testing.assert_array_equal(pref, [1, 0, 0])
    np.testing.assert_array_equal(selective, [True, True, False])


def test_time_averaged_responses_flatten_in_c_order():
    z = np.arange(2 * 3 * 2 * 2 * 1, dtype=float).reshape(2, 3, 2, 2, 1)
    r = sel.time_averaged_responses(z, burn_in=1)
    np.testing.assert_allclose(r, z[:, 1:].mean(1).reshape(2, 4))


# ---------------------------------------------------------------------------------------------
# Topography
# ---------------------------------------------------------------------------------------------


def test_neighbour_correlation_known_values():
    uniform = np.full((5, 6), 0.3)
    assert sel.neighbour_orientation_correlation(uniform) == pytest.approx(1.0)
    # theta and theta + pi are the same orientation
    flipped = uniform + np.pi * (np.arange(6) % 2)
    assert sel.neighbour_orientation_correlation(flipped) == pytest.approx(1.0)
    # columns alternate 0 / 90 deg: 5*5 horizontal pairs at cos(pi) = -1, 4*6 vertical at +1
    stripes = np.broadcast_to((np.pi / 2) * (np.arange(6) % 2), (5, 6))
    assert sel.neighbour_orientation_correlation(stripes) == pytest.approx((24 - 25) / 49)
    # only pairs of selective neurons count: keep the two top-left columns -> 5 horizontal
    # pairs (-1) and 2*4 vertical (+1)
    mask = np.zeros((5, 6), dtype=bool)
    mask[:, :2] = True
    assert sel.neighbour_orientation_correlation(stripes, mask) == pytest.approx(3 / 13)


def test_smooth_map_has_high_topography_zscore_and_shuffled_map_does_not():
    pref = smooth_orientation_map(32, 2.0, seed=1)
    assert sel.topography_zscore(pref, num_shuffles=100, seed=0) > 5
    for seed in range(5):
        shuffled = np.random.default_rng(seed).permutation(pref.ravel()).reshape(pref.shape)
        assert abs(sel.topography_zscore(shuffled, num_shuffles=100, seed=0)) < 3


def test_topography_zscore_is_zero_for_a_single_orientation():
    assert sel.topography_zscore(np.full((6, 6), 1.0), num_shuffles=20) == 0.0


def test_domain_size_grows_with_the_smoothing_length():
    sizes = [sel.domain_size(smooth_orientation_map(48, s, seed=2)) for s in (1.0, 2.0, 4.0)]
    assert sizes[0] < sizes[1] < sizes[2]
    assert 1.0 < sizes[0] and sizes[2] < 24


def test_domain_size_ignores_non_selective_sites():
    pref = smooth_orientation_map(48, 3.0, seed=4)
    mask = np.random.default_rng(0).random(pref.shape) < 0.7
    scrambled = np.where(mask, pref, np.random.default_rng(1).uniform(0, np.pi, pref.shape))
    assert sel.domain_size(scrambled, mask) == pytest.approx(sel.domain_size(pref), rel=0.2)
    assert sel.domain_size(scrambled) < 0.7 * sel.domain_size(pref)


# ---------------------------------------------------------------------------------------------
# Pinwheels
# ---------------------------------------------------------------------------------------------


def test_single_pinwheels_have_charge_plus_and_minus_one_half():
    yy, xx = np.mgrid[:9, :9]
    phi = np.arctan2(yy - 4.5, xx - 3.5)  # centre inside plaquette (row 4, col 3)
    plus = sel.pinwheel_charges(np.mod(phi / 2, np.pi))
    minus = sel.pinwheel_charges(np.mod(-phi / 2, np.pi))
    expected = np.zeros((8, 8, 1))
    expected[4, 3, 0] = 0.5
    np.testing.assert_array_equal(plus, expected)
    np.testing.assert_array_equal(minus, -expected)
    smooth = 0.05 * xx + 0.02 * yy
    assert not np.any(sel.pinwheel_charges(smooth))


def test_pinwheel_density_counts_per_squared_domain_size():
    yy, xx = np.mgrid[:9, :9]
    pinwheel = np.mod(np.arctan2(yy - 4.5, xx - 3.5) / 2, np.pi)
    assert sel.pinwheel_density(pinwheel, length=2.0) == pytest.approx(1 / 64 * 4.0)
    mask = np.ones((9, 9), dtype=bool)
    mask[4, 3] = False  # a corner of the charged plaquette is not selective
    assert sel.pinwheel_density(pinwheel, mask, length=2.0) == 0.0


# ---------------------------------------------------------------------------------------------
# End to end: responses -> d -> summary
# ---------------------------------------------------------------------------------------------


def test_summary_of_a_smooth_tuned_lattice():
    pref = smooth_orientation_map(24, 2.0, seed=5)
    d = sel.cohens_d(tuned_responses(pref, seed=0), LABELS)
    s = sel.selectivity_summary(d, (24, 24), ANGLES, num_shuffles=100)
    json.dumps(s)
    assert s["fraction_selective"] > 0.95
    assert sum(s["preferred_histogram"]) == round(s["fraction_selective"] * 24 * 24)
    assert s["topography_zscore"] > 5 and s["neighbour_correlation"] > 0.7
    assert s["domain_size"] > 2.0 and np.isfinite(s["pinwheel_density"])
    # the preferred class recovers the constructed preference (8 classes, 22.5 deg apart)
    p, _ = sel.preferred(d)
    err = np.angle(np.exp(2j * (ANGLES[p] - pref.ravel()))) / 2
    assert np.rad2deg(np.abs(err)).mean() < 12.0


def test_summary_of_a_shuffled_lattice_has_no_topography():
    pref = smooth_orientation_map(24, 2.0, seed=5)
    pref = np.random.default_rng(7).permutation(pref.ravel()).reshape(pref.shape)
    d = sel.cohens_d(tuned_responses(pref, seed=0), LABELS)
    s = sel.selectivity_summary(d, (24, 24), ANGLES, num_shuffles=100, seed=1)
    assert s["fraction_selective"] > 0.95
    assert abs(s["topography_zscore"]) < 3
    assert s["domain_size"] < 1.0


def test_summary_of_a_non_selective_lattice():
    # every neuron responds to the grating's phase, identically for all orientations: d = 0
    rng = np.random.default_rng(0)
    phase_tuning = rng.normal(size=(4, 12 * 12 * 2))
    r = np.tile(phase_tuning, (8, 1))  # row o * 4 + p -> phase p
    d = sel.cohens_d(r, LABELS)
    np.testing.assert_allclose(d, 0.0, atol=1e-9)
    s = sel.selectivity_summary(d, (12, 12, 2), ANGLES, num_shuffles=20)
    assert s["fraction_selective"] == 0.0 and s["preferred_histogram"] == [0] * 8
    assert np.isnan(s["topography_zscore"]) and np.isnan(s["domain_size"])


def test_summary_for_categorical_classes():
    # digit-like classes in 4 x 4 blocks: same-class neighbours except across block borders
    classes = np.kron(np.arange(9).reshape(3, 3) % 10, np.ones((4, 4), dtype=int))  # (12, 12)
    labels = np.repeat(np.arange(9), 3)
    r = (labels[:, None] == classes.reshape(1, -1)).astype(float)
    r += 0.1 * np.random.default_rng(0).normal(size=r.shape)
    d = sel.cohens_d(r, labels)
    s = sel.selectivity_summary(d, (12, 12), angles=None, num_shuffles=50)
    assert s["pinwheel_density"] is None
    assert s["neighbour_correlation"] == pytest.approx((264 - 2 * 2 * 12) / 264)
    assert s["topography_zscore"] > 5
    json.dumps(s)
