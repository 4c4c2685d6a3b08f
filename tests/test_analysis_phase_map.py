"""Phase maps measured as the authors' videos are: wavelength, neighbour phase difference and
plane-wave fraction, each checked on fields whose answer is known."""

import argparse
import math

import numpy as np
import pytest
from matplotlib.colors import hsv_to_rgb
from PIL import Image

from locornn.analysis.waves import phase_map as pm

N = 36
Y, X = np.mgrid[:N, :N]


def plane_wave(kx: float, ky: float, frames: int = 4, omega: float = 0.7) -> np.ndarray:
    """``(frames, N, N)`` phase of ``exp(i (k . x - omega t))``, wrapped to (-pi, pi]."""
    phase = np.stack([kx * X + ky * Y - omega * t for t in range(frames)])
    return np.angle(np.exp(1j * phase))


@pytest.mark.parametrize("wavelength", [4, 6, 9, 12])
def test_a_plane_wave_along_an_axis_has_its_wavelength_and_pi_over_lambda(wavelength):
    metrics = pm.phase_map_metrics(plane_wave(2 * np.pi / wavelength, 0.0))
    assert metrics["mean_wavelength"] == pytest.approx(wavelength)
    assert metrics["peak_wavelength"] == pytest.approx(wavelength)
    # 2 pi / lambda along x, 0 along y: the mean over both axes is pi / lambda
    assert metrics["neighbour_phase_difference"] == pytest.approx(np.pi / wavelength)
    assert metrics["plane_wave_fraction"] == 1.0
    assert metrics["plane_wave_fit"] == pytest.approx(1.0)


def test_an_oblique_plane_wave_has_wavelength_two_pi_over_its_wave_number():
    kx, ky = 2 * np.pi * 2 / N, 2 * np.pi * 5 / N  # fits the torus: 2 and 5 cycles
    metrics = pm.phase_map_metrics(plane_wave(kx, ky))
    assert metrics["mean_wavelength"] == pytest.approx(2 * np.pi / math.hypot(kx, ky))
    assert metrics["neighbour_phase_difference"] == pytest.approx((kx + ky) / 2)
    assert metrics["plane_wave_fraction"] == 1.0


def test_a_checkerboard_is_anti_phase_at_wavelength_root_two_and_no_plane_wave():
    checkerboard = np.pi * ((X + Y) % 2)
    metrics = pm.phase_map_metrics(checkerboard)
    assert metrics["mean_wavelength"] == pytest.approx(math.sqrt(2))
    assert metrics["neighbour_phase_difference"] == pytest.approx(np.pi)
    # a perfect fit of wave number (pi, pi), but no site leads or lags its neighbours
    assert metrics["plane_wave_fit"] == pytest.approx(1.0)
    assert metrics["plane_wave_fraction"] == 0.0


def test_random_phases_are_half_pi_apart_with_no_plane_wave():
    phases = np.random.default_rng(0).uniform(-np.pi, np.pi, (18, N, N))
    metrics = pm.phase_map_metrics(phases)
    assert metrics["neighbour_phase_difference"] == pytest.approx(np.pi / 2, abs=0.03)
    # a flat spectrum: one over the mean |f| of the 36x36 frequency grid, ~2.6 sites
    _, freq = pm.phase_spectrum(phases[:1])
    assert metrics["mean_wavelength"] == pytest.approx(1 / freq[freq > 0].mean(), rel=0.03)
    assert metrics["plane_wave_fraction"] < 0.01
    assert metrics["plane_wave_fit"] < 0.1  # ~1 / 25 for a 5x5 patch


def test_synchronous_phase_has_no_wavelength_and_no_wave():
    metrics = pm.phase_map_metrics(np.full((3, N, N), 0.4))
    assert math.isnan(metrics["mean_wavelength"]) and math.isnan(metrics["peak_wavelength"])
    assert metrics["neighbour_phase_difference"] == 0.0
    assert metrics["plane_wave_fraction"] == 0.0


def test_metrics_ignore_a_global_phase_offset_and_the_sense_of_rotation():
    """A video's colour map may start anywhere and run either way round the hue circle."""
    phases = plane_wave(2 * np.pi / 6, 2 * np.pi / 9) + 0.3 * np.random.default_rng(1).normal(
        size=(4, N, N))
    base = pm.phase_map_metrics(phases)
    for other in (phases + 1.234, -phases):
        assert pm.phase_map_metrics(other) == pytest.approx(base)


def test_a_wave_in_one_patch_of_noise_counts_only_its_sites():
    phases = np.random.default_rng(2).uniform(-np.pi, np.pi, (1, N, N))
    phases[0, :, :N // 2] = plane_wave(2 * np.pi / 6, 0.0, frames=1)[0, :, :N // 2]
    fraction = pm.phase_map_metrics(phases)["plane_wave_fraction"]
    # the wave's half, less the two patch-widths along its border with the noise
    assert (N // 2 - 2 * 2) / N - 0.02 <= fraction <= 0.5


def test_without_circular_boundaries_edge_sites_are_left_out():
    # 4.5 periods across the lattice: where it wraps, the phase jumps by pi against the wave
    wave = plane_wave(2 * np.pi / 8, 0.0, frames=1)
    fit, _ = pm.local_plane_waves(wave, circular=False)
    assert np.isnan(fit[0, 0, 0]) and np.isnan(fit[0, -1, N // 2])
    assert pm.phase_map_metrics(wave, circular=False)["plane_wave_fraction"] == 1.0
    assert pm.phase_map_metrics(wave, circular=True)["plane_wave_fraction"] < 1.0  # the seam


def test_channels_are_separate_fields():
    a, b = plane_wave(2 * np.pi / 6, 0), plane_wave(0, 2 * np.pi / 4)
    both = np.stack([a, b], axis=-1)  # (T, H, W, C)
    assert pm.neighbour_phase_difference(both) == pytest.approx(
        (pm.neighbour_phase_difference(a) + pm.neighbour_phase_difference(b)) / 2)


def write_hue_video(phases: np.ndarray, path) -> None:
    """A GIF with one pixel a site and hue = phase, as the authors' wave videos."""
    hue = (phases + np.pi) / (2 * np.pi)
    rgb = hsv_to_rgb(np.stack([hue, np.ones_like(hue), np.ones_like(hue)], axis=-1))
    frames = [Image.fromarray((255 * f).round().astype(np.uint8)) for f in rgb]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def test_phase_is_read_back_from_a_hue_video(tmp_path):
    phases = plane_wave(2 * np.pi / 6, 2 * np.pi / 12, frames=20)
    path = tmp_path / "phase.gif"
    write_hue_video(phases, path)
    read = pm.phase_from_gif(path)
    assert read.shape == (pm.REFERENCE_FRAMES, N, N)  # the last 18 frames
    expected = pm.phase_map_metrics(phases[-pm.REFERENCE_FRAMES:])
    measured = pm.phase_map_metrics(read)
    for key in ("mean_wavelength", "neighbour_phase_difference", "plane_wave_fraction"):
        assert measured[key] == pytest.approx(expected[key], rel=0.05), key


def test_a_file_that_is_not_a_video_is_refused_in_one_line(tmp_path):
    path = tmp_path / "broken.gif"
    path.write_bytes(b"GIF89a not really")
    with pytest.raises(ValueError, match="cannot read a phase video"):
        pm.phase_from_gif(path)


def test_phase_video_command_measures_each_video_and_refuses_a_broken_one(tmp_path, capsys):
    good = tmp_path / "wave.gif"
    write_hue_video(plane_wave(2 * np.pi / 6, 0.0, frames=20), good)
    parser = argparse.ArgumentParser()
    pm.add_command(parser.add_subparsers(dest="analysis", required=True))
    args = parser.parse_args(["phase-video", str(good)])
    assert args.func(args) == 0
    row = capsys.readouterr().out.splitlines()[-1].split()
    assert row[0] == "wave.gif" and float(row[1]) == pytest.approx(6.0, rel=0.02)
    figure = tmp_path / "side_by_side.png"
    args = parser.parse_args(["phase-video", str(good), str(good), "--labels", "a", "b",
                              "--figure", str(figure)])
    assert args.func(args) == 0 and figure.read_bytes()[:4] == b"\x89PNG"
    args = parser.parse_args(["phase-video", str(good), "--labels", "a", "b"])
    assert args.func(args) == 2  # one title per video
    broken = tmp_path / "broken.gif"
    broken.write_bytes(b"not a gif")
    args = parser.parse_args(["phase-video", str(good), str(broken)])
    assert args.func(args) == 2
    assert "cannot read a phase video" in capsys.readouterr().err
