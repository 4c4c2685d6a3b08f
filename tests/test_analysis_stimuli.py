"""Oriented gratings: angles, wavelength, range and the written-down angle convention."""

import numpy as np
import pytest

from locornn.analysis.topography.stimuli import gratings, orientation_angles


def test_orientation_angles_are_evenly_spaced_over_180_degrees():
    np.testing.assert_allclose(orientation_angles(8, degrees=True), 22.5 * np.arange(8))
    np.testing.assert_allclose(orientation_angles(4), np.pi / 4 * np.arange(4))


def test_shape_dtype_and_range():
    g = gratings(20, orientations=8, phases=4, wavelength=6.0)
    assert g.shape == (8, 4, 20, 20) and g.dtype == np.float32
    assert g.min() >= 0.0 and g.max() <= 1.0
    assert g.min() < 0.01 and g.max() > 0.99  # full contrast reaches both ends
    half = gratings(20, wavelength=6.0, contrast=0.5)
    np.testing.assert_allclose(half - 0.5, 0.5 * (g - 0.5), atol=1e-6)


def test_phases_shift_the_grating_at_the_image_centre():
    g = gratings(21, orientations=3, phases=4, wavelength=7.0, dtype=np.float64)
    centre = g[:, :, 10, 10]  # odd size: pixel (10, 10) is the origin
    np.testing.assert_allclose(centre, np.broadcast_to([1.0, 0.5, 0.0, 0.5], (3, 4)), atol=1e-12)


def test_angle_convention_from_columns_towards_rows():
    g = gratings(16, orientations=4, phases=1, wavelength=5.0, dtype=np.float64)[:, 0]
    # 0 deg: wave vector along x (columns): the value depends on the column only
    np.testing.assert_allclose(g[0], np.broadcast_to(g[0][0], (16, 16)))
    # 90 deg: wave vector along y (rows): every row is constant
    np.testing.assert_allclose(g[2], np.broadcast_to(g[2][:, :1], (16, 16)), atol=1e-12)
    # 45 deg: constant along x + y = const, i.e. image[r, c] == image[r + 1, c - 1]
    np.testing.assert_allclose(g[1][:-1, 1:], g[1][1:, :-1], atol=1e-12)
    # 135 deg: constant along x - y = const, i.e. image[r, c] == image[r + 1, c + 1]
    np.testing.assert_allclose(g[3][:-1, :-1], g[3][1:, 1:], atol=1e-12)
    assert not np.allclose(g[1][:-1, :-1], g[1][1:, 1:])


@pytest.mark.parametrize("wavelength", [5.0, 8.0, 12.5])
def test_fft_peak_at_the_expected_angle_and_wavelength(wavelength):
    size, pad = 64, 1024
    g = gratings(size, orientations=8, phases=2, wavelength=wavelength, dtype=np.float64)
    window = np.outer(np.hanning(size), np.hanning(size))
    fy = np.fft.fftfreq(pad)[:, None]  # cycles per pixel along rows (y)
    fx = np.fft.fftfreq(pad)[None, :]  # cycles per pixel along columns (x)
    for o, theta in enumerate(orientation_angles(8)):
        spec = np.abs(np.fft.fft2((g[o, 0] - 0.5) * window, s=(pad, pad)))
        iy, ix = np.unravel_index(np.argmax(spec), spec.shape)
        angle = np.mod(np.arctan2(fy[iy, 0], fx[0, ix]), np.pi)  # orientation is 180-periodic
        err = np.angle(np.exp(2j * (angle - theta))) / 2
        assert abs(np.rad2deg(err)) < 1.0, (o, np.rad2deg(angle))
        assert 1.0 / np.hypot(fy[iy, 0], fx[0, ix]) == pytest.approx(wavelength, rel=0.02)


def test_rejects_invalid_arguments():
    with pytest.raises(ValueError):
        gratings(16, contrast=1.5)
    with pytest.raises(ValueError):
        gratings(16, wavelength=2.0)
