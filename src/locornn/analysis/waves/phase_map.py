r"""The spatial structure of a phase field: stripes, checkerboard or confetti (NumPy only).

A phase field is the Hilbert phase of the band-passed hidden state at one time step
(:func:`locornn.analysis.waves.phase.reference_phase`, as the authors' wave videos), ``phi`` of
shape ``(H, W)`` on the lattice. Three numbers tell a traveling plane wave several sites long from a
lattice-scale checkerboard (neighbours in anti-phase) and from unstructured phase:

* **wavelength** of ``u = exp(i phi)``: its power spectrum ``P(f) = |FFT2(u)|^2`` over the
  spatial frequencies ``f`` (cycles per site; ``|f| <= sqrt(2) / 2``). The *mean wavelength* is
  ``1 / (sum_f P(f) |f| / sum_f P(f))`` over ``f != 0`` (one over the power-weighted mean
  frequency), the *peak wavelength* ``1 / |f*|`` at the spectrum's maximum ``f* != 0``. A plane
  wave ``phi = k . x`` has all its power at ``f = k / 2 pi``, so both give ``2 pi / |k|``; a
  checkerboard (``phi`` alternating 0, pi) has it at ``(1/2, 1/2)``: ``sqrt(2) = 1.41``;
  anti-phase stripes give 2; random phases spread power evenly: ~2.6 on a 36x36 lattice.
  Synchronous phase (``f = 0``) is excluded: it is measured by the synchrony metrics.
* **neighbour phase difference**: the mean of ``|wrap(phi(x + e) - phi(x))|`` over the two
  lattice directions ``e`` and all sites, in ``[0, pi]``: a plane wave of wavelength ``lambda``
  along one axis gives ``pi / lambda`` (half of ``2 pi / lambda``, the other axis adding 0),
  random phases ``pi / 2``, a checkerboard ``pi``.
* **plane-wave fraction**: the fraction of sites whose ``(2r + 1)^2`` patch is a plane wave that
  leads or lags its neighbours consistently. The local wave vector ``k`` is the circular mean of
  the neighbour differences in the patch along each axis; the fit's coherence is
  ``R^2 = |mean_o exp(i (phi(x + o) - k . o))|^2`` over the patch offsets ``o`` (1 for a
  perfect plane wave, ``~1 / (2r + 1)^2`` for random phases). A site counts when ``R^2 >=
  min_fit`` and its local wavelength ``2 pi / |k|`` lies in ``[min_wavelength, lattice side]``:
  a checkerboard fits a plane wave perfectly but of wavelength 1.41, where no site leads or lags
  (a difference of pi is both), and a synchronous patch has no wave at all.

The authors' trained rotating-MNIST videos measure a mean wavelength of 4.5-5.0 sites and a
neighbour phase difference of 0.78-0.89 rad (36x36 lattice, last 18 frames); before training
2.7 and 1.52. :func:`phase_from_gif` reads such a video (hue = phase) so that both are measured
by the same code: ``locornn analyze phase-video GIF ...``.
"""

from __future__ import annotations

import pathlib

import numpy as np

__all__ = [
    "band_passed_phase_map",
    "local_plane_waves",
    "neighbour_phase_difference",
    "phase_from_gif",
    "phase_map_metrics",
    "phase_spectrum",
    "spectrum_wavelengths",
]

REFERENCE_FRAMES = 18  # the last period of a 72-frame rotating-MNIST video, as measured above


def _fields(phase) -> np.ndarray:
    """``(H, W)``, ``(T, H, W)`` or ``(..., T, H, W, C)`` -> a stack of fields ``(N, H, W)``."""
    phase = np.asarray(phase, dtype=np.float64)
    if phase.ndim == 2:
        return phase[None]
    if phase.ndim == 3:
        return phase
    if phase.ndim >= 4:  # channels last: each channel its own field
        moved = np.moveaxis(phase, -1, -3)  # (..., C, H, W)
        return moved.reshape(-1, *moved.shape[-2:])
    raise ValueError(f"expected a phase field (H, W), (T, H, W) or (..., T, H, W, C), got shape "
                     f"{phase.shape}")


def _wrap(a: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * a))


def _frequencies(h: int, w: int) -> np.ndarray:
    """``(H, W)``: the spatial frequency |f| (cycles per site) of each FFT entry."""
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    return np.hypot(fx, fy)


def phase_spectrum(phase) -> tuple[np.ndarray, np.ndarray]:
    """``(power, |f|)``: the power spectrum of ``exp(i phase)`` averaged over the fields, and the
    spatial frequency (cycles per site) of each entry, both ``(H, W)`` in FFT order."""
    fields = _fields(phase)
    power = np.mean(np.abs(np.fft.fft2(np.exp(1j * fields))) ** 2, axis=0)
    return power, _frequencies(*fields.shape[1:])


def spectrum_wavelengths(phase) -> tuple[float, float]:
    """``(mean, peak)`` wavelength in sites of each field's ``exp(i phase)``, averaged over the
    fields (module docstring). NaN for a field with no power away from ``f = 0``."""
    fields = _fields(phase)
    power = np.abs(np.fft.fft2(np.exp(1j * fields))) ** 2
    freq = _frequencies(*fields.shape[1:])
    away = freq > 0
    p, f = power[:, away], freq[away]
    total = p.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(total > 1e-12 * power.sum(axis=(1, 2)),
                        total / (p @ f), np.nan)
        peak = np.where(total > 0, 1.0 / f[np.argmax(p, axis=1)], np.nan)
    if np.all(np.isnan(mean)):
        return float("nan"), float("nan")
    return float(np.nanmean(mean)), float(np.nanmean(peak))


def neighbour_phase_difference(phase, circular: bool = True) -> float:
    """Mean ``|wrap(phi(x + e) - phi(x))|`` over both lattice axes and all sites, in [0, pi];
    with ``circular`` the lattice wraps (the pairs across the edge count)."""
    fields = _fields(phase)
    diffs = []
    for axis in (1, 2):
        d = np.abs(_wrap(np.roll(fields, -1, axis=axis) - fields))
        if not circular:
            d = np.take(d, np.arange(fields.shape[axis] - 1), axis=axis)
        diffs.append(d.ravel())
    return float(np.mean(np.concatenate(diffs)))


def _box_sum(a: np.ndarray, radius: int) -> np.ndarray:
    """Sum over the ``(2r+1)^2`` patch around each site of a stack ``(N, H, W)`` (circular)."""
    out = np.zeros_like(a)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            out += np.roll(a, (-dy, -dx), axis=(1, 2))
    return out


def local_plane_waves(phase, radius: int = 2,
                      circular: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(fit, wavelength)``, each ``(N, H, W)``: a plane wave fitted to each site's patch.

    ``fit`` is the coherence ``R^2`` of the fit and ``wavelength`` the local ``2 pi / |k|`` in
    sites (inf where ``k = 0``); see the module docstring. Without ``circular``, sites closer
    than ``radius + 1`` to an edge are NaN (their patch would wrap).
    """
    fields = _fields(phase)
    u = np.exp(1j * fields)
    k = []
    for axis in (2, 1):  # x (columns), then y (rows)
        step = np.roll(u, -1, axis=axis) * np.conj(u)  # exp(i (phi(x + e) - phi(x)))
        k.append(np.angle(_box_sum(step, radius)))
    kx, ky = k
    coherent = np.zeros_like(u)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            coherent += np.roll(u, (-dy, -dx), axis=(1, 2)) * np.exp(-1j * (kx * dx + ky * dy))
    fit = np.abs(coherent / (2 * radius + 1) ** 2) ** 2
    with np.errstate(divide="ignore"):
        wavelength = 2 * np.pi / np.hypot(kx, ky)
    if not circular:
        edge = radius + 1
        mask = np.zeros(fields.shape[1:], bool)
        mask[edge:-edge, edge:-edge] = True
        fit = np.where(mask, fit, np.nan)
        wavelength = np.where(mask, wavelength, np.nan)
    return fit, wavelength


def phase_map_metrics(phase, *, circular: bool = True, radius: int = 2, min_fit: float = 0.5,
                      min_wavelength: float = 3.0) -> dict[str, float]:
    """The module's three measurements of a stack of phase fields, as Python floats.

    Args:
      phase: ``(H, W)``, ``(T, H, W)`` or ``(..., T, H, W, C)`` phase fields in radians (each time
        step and channel a field; pass the frames to measure, e.g. the last
        :data:`REFERENCE_FRAMES`).
      circular: the lattice wraps (locornn's default circular padding).
      radius, min_fit, min_wavelength: the plane-wave fit (module docstring).

    Returns:
      ``{"mean_wavelength", "peak_wavelength", "neighbour_phase_difference",
      "plane_wave_fraction", "plane_wave_fit"}``: the last is the mean ``R^2`` of the fits.
    """
    fields = _fields(phase)
    mean, peak = spectrum_wavelengths(fields)
    fit, wavelength = local_plane_waves(fields, radius, circular)
    valid = np.isfinite(fit)
    side = max(fields.shape[1:])
    is_wave = (fit >= min_fit) & (wavelength >= min_wavelength) & (wavelength <= side)
    return {"mean_wavelength": mean, "peak_wavelength": peak,
            "neighbour_phase_difference": neighbour_phase_difference(fields, circular),
            "plane_wave_fraction": float(is_wave[valid].mean()),
            "plane_wave_fit": float(fit[valid].mean())}


def band_passed_phase_map(z, circular: bool = True) -> tuple[dict[str, float], np.ndarray]:
    """``(metrics, phases)``: :func:`phase_map_metrics` of lattice trajectories on the reference
    band, as the authors' videos (:func:`locornn.analysis.waves.phase.reference_phase`: causal
    Butterworth 0.2-0.4 of Nyquist, then the Hilbert phase), over the last
    :data:`REFERENCE_FRAMES` frames of each sequence (at most its second half, so that the
    causal filter's start-up transient stays out).

    Args:
      z: ``(B, T, H, W, C)`` hidden positions (or one ``(T, H, W, C)`` trajectory).
      circular: the lattice wraps (circular padding).

    Returns:
      the metrics (with ``"frames"``, how many were measured) and the measured phases
      ``(B, frames, H, W, C)``.
    """
    from locornn.analysis.waves.phase import reference_phase

    z = np.asarray(z)
    z = z[None] if z.ndim == 4 else z
    if z.ndim != 5:
        raise ValueError(f"expected z (B, T, H, W, C) or (T, H, W, C), got shape {z.shape}")
    frames = min(REFERENCE_FRAMES, z.shape[1] // 2)
    phases = np.stack([reference_phase(trajectory)[1][-frames:] for trajectory in z])
    metrics = phase_map_metrics(phases, circular=circular)
    metrics["frames"] = frames
    return metrics, phases


def phase_from_gif(path, frames: int | None = REFERENCE_FRAMES) -> np.ndarray:
    """``(T, H, W)`` phase read from a video that draws phase as hue (the authors' wave videos,
    :func:`locornn.plots.phase_gif`'s right panel): ``phase = 2 pi hue - pi``, one pixel a site.

    Only differences of phase enter :func:`phase_map_metrics`, so the hue at which the colour map
    starts does not matter; its direction does not either. ``frames``: keep the last ones.
    """
    from matplotlib.colors import rgb_to_hsv
    from PIL import Image, ImageSequence

    path = pathlib.Path(path)
    try:
        with Image.open(path) as video:
            rgb = np.stack([np.asarray(f.convert("RGB"), np.float64) / 255.0
                            for f in ImageSequence.Iterator(video)])
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read a phase video from {path}: {error}") from None
    phase = 2 * np.pi * rgb_to_hsv(rgb)[..., 0] - np.pi
    return phase[-frames:] if frames else phase


# ----------------------------------------------------------------------------------------------
# Command line: ``locornn analyze phase-video GIF [GIF ...]``
# ----------------------------------------------------------------------------------------------


def _command(args) -> int:
    import sys

    print(f"{'video':<40s} {'wavelength':>10s} {'peak':>6s} {'neighbour diff.':>15s} "
          f"{'plane-wave frac.':>16s}")
    labels = args.labels or [pathlib.Path(path).stem for path in args.videos]
    if len(labels) != len(args.videos):
        print(f"locornn: --labels gives {len(labels)} names for {len(args.videos)} videos",
              file=sys.stderr)
        return 2
    panels = []
    for path, label in zip(args.videos, labels, strict=True):
        try:
            phase = phase_from_gif(path, args.frames)
            metrics = phase_map_metrics(phase, circular=not args.zero_padding)
        except (FileNotFoundError, ValueError) as error:
            print(f"locornn: {error}", file=sys.stderr)
            return 2
        print(f"{pathlib.Path(path).name:<40s} {metrics['mean_wavelength']:10.2f} "
              f"{metrics['peak_wavelength']:6.2f} {metrics['neighbour_phase_difference']:15.2f} "
              f"{metrics['plane_wave_fraction']:16.2f}")
        panels.append((label, phase[-1], metrics))
    if args.figure:
        from locornn import plots

        plots.phase_panels(panels, args.figure)
        print(f"wrote {args.figure}")
    return 0


def add_command(subparsers) -> None:
    """Register ``phase-video`` under ``locornn analyze``."""
    from locornn.configs.domains import Text, at_least, flag, path_flag

    p = subparsers.add_parser(
        "phase-video", help="phase-map metrics of a video that draws phase as hue",
        description="Measure a wave video whose pixels are lattice sites and whose hue is the "
                    "phase (the authors' wave_s*_phase.gif): mean and peak wavelength (sites), "
                    "mean neighbour phase difference (rad) and plane-wave fraction, on the "
                    "last --frames frames, as `locornn analyze waves` measures a run.")
    p.add_argument("videos", nargs="+", metavar="GIF", type=path_flag("file"),
                   help="one or more phase videos")
    p.add_argument("--frames", type=flag(at_least(1)), default=REFERENCE_FRAMES,
                   help=f"measure the last this many frames (default {REFERENCE_FRAMES}: the "
                        f"last rotation period of a 72-frame rotating-MNIST video)")
    p.add_argument("--zero-padding", action="store_true",
                   help="the lattice does not wrap (default: circular, as the authors')")
    p.add_argument("--figure", metavar="PNG", type=path_flag(folder=False),
                   help="also draw each video's last measured frame side by side, titled with "
                        "its numbers")
    p.add_argument("--labels", nargs="+", metavar="NAME", type=flag(Text(empty=False), str),
                   help="panel titles, one per video (default: the file names)")
    p.set_defaults(func=_command)
