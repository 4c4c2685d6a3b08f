"""Figures and animations of runs: loss curves, Figure-1 panels and the hidden-state GIF.

Matplotlib runs headless (Agg). Lattice states are shown one channel at a time (channel 0 by
default) with a symmetric colour scale, so that the sign of ``z`` (the oscillator's phase) is
visible; images are shown in grey on [0, 1].
"""

from __future__ import annotations

import json
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def save(fig, out: str | pathlib.Path, dpi: int = 120) -> None:
    """Lay out, write and close a figure (figures are never left open: runs make many)."""
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)


def read_metrics(path: str | pathlib.Path) -> list[dict]:
    """The records of a ``metrics.jsonl`` file (one JSON object per line)."""
    path = pathlib.Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def loss_curve(records: list[dict], out: str | pathlib.Path) -> None:
    """Training and held-out loss against step, on a log scale."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for split, style in (("train", "-"), ("test", "o-")):
        rows = [r for r in records if r.get("split") == split and "loss" in r]
        if rows:
            ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], style,
                    label=f"{split} loss", markersize=3)
    ax.set_xlabel("training step")
    ax.set_ylabel("forward-prediction loss (sum over time and pixels)")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    save(fig, out)


def lattice_image(z: np.ndarray, channel: int = 0) -> np.ndarray:
    """One frame of hidden state as a 2-D image: ``(H, W, C)`` -> ``(H, W)``; a flat coRNN state
    ``(N,)`` is folded into the most square rectangle."""
    if z.ndim == 3:
        return z[..., channel]
    n = z.shape[0]
    rows = int(np.sqrt(n))
    while n % rows:
        rows -= 1
    return z.reshape(rows, n // rows)


def figure1(frames: np.ndarray, z: np.ndarray, prediction: np.ndarray,
            out: str | pathlib.Path, num_frames: int = 10, title: str = "",
            shift: int = 1) -> None:
    """Rows: input frames, hidden position ``z`` on the lattice, decoded prediction.

    Args:
      frames: ``(T, h, w, c)`` one sequence; z: ``(T, *state)``; prediction: ``(T, h, w, c)``
        where ``prediction[t]`` shows ``frames[t + shift]`` (``shift=1``: next-frame models, so
        it is drawn under frame ``t+1``; ``shift=0``: aligned forecasting models).
    """
    steps = min(num_frames, len(frames) - 1)
    columns = np.linspace(1, len(frames) - 1, steps).astype(int)
    zmax = float(np.abs(z).max()) or 1.0
    fig, axes = plt.subplots(3, steps, figsize=(1.3 * steps, 4.2), squeeze=False)
    for col, t in enumerate(columns):
        panels = ((frames[t], "gray", (0, 1)), (lattice_image(z[t]), "RdBu_r", (-zmax, zmax)),
                  (prediction[t - shift], "gray", (0, 1)))
        for row, (image, cmap, (lo, hi)) in enumerate(panels):
            ax = axes[row, col]
            ax.imshow(_grey_or_rgb(image), cmap=cmap, vmin=lo, vmax=hi)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, col].set_title(f"t={t}", fontsize=8)
    for row, label in enumerate(("input", "hidden z", "prediction")):
        axes[row, 0].set_ylabel(label)
    if title:
        fig.suptitle(title)
    save(fig, out)


def _grey_or_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        return image[..., 0]
    return np.clip(image, 0, 1) if image.ndim == 3 else image


def _to_rgb(image: np.ndarray, cmap: str, lo: float, hi: float, size: int) -> np.ndarray:
    """Colour-map a 2-D array (or pass an RGB image) and upscale it to ``size`` pixels."""
    image = _grey_or_rgb(image)
    if image.ndim == 2:
        norm = np.clip((image - lo) / (hi - lo), 0, 1)
        image = plt.get_cmap(cmap)(norm)[..., :3]
    pil = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8))
    scale = max(1, size // max(pil.size))
    return np.asarray(pil.resize((pil.size[0] * scale, pil.size[1] * scale), Image.NEAREST))


def _save_gif(panels_per_step, out: str | pathlib.Path, duration_ms: int,
              margin: int = 4) -> None:
    """One GIF frame per step from that step's RGB panels, side by side (``margin`` white
    columns either side of each)."""
    pictures = []
    for panels in panels_per_step:
        height = max(p.shape[0] for p in panels)
        panels = [np.pad(p, ((0, height - p.shape[0]), (margin, margin), (0, 0)),
                         constant_values=255) for p in panels]
        pictures.append(Image.fromarray(np.concatenate(panels, axis=1)))
    pictures[0].save(out, save_all=True, append_images=pictures[1:], duration=duration_ms,
                     loop=0)


def hidden_gif(frames: np.ndarray, z: np.ndarray, prediction: np.ndarray,
               out: str | pathlib.Path, size: int = 160, duration_ms: int = 120,
               shift: int = 1) -> None:
    """An animated GIF, per time step: input | hidden z (red +, blue -) | prediction
    (``prediction[t]`` shows ``frames[t + shift]``, as in :func:`figure1`)."""
    zmax = float(np.abs(z).max()) or 1.0
    _save_gif(([_to_rgb(frames[t], "gray", 0, 1, size),
                _to_rgb(lattice_image(z[t]), "RdBu_r", -zmax, zmax, size),
                _to_rgb(prediction[t - shift], "gray", 0, 1, size)]
               for t in range(1, len(frames))), out, duration_ms)


def phase_gif(z: np.ndarray, filtered: np.ndarray, phase: np.ndarray,
              out: str | pathlib.Path, size: int = 160, duration_ms: int = 120) -> None:
    """The reference's wave video, per time step: raw z | band-passed z | its Hilbert phase as
    hue (cyclic colour map over ``(-pi, pi]``; a traveling wave is a moving rainbow, a standing
    wave flips between two colours, noise is confetti). Each array is ``(T, H, W, C)``."""
    zmax = float(np.abs(z).max()) or 1.0
    fmax = float(np.abs(filtered).max()) or 1.0
    _save_gif(([_to_rgb(lattice_image(z[t]), "RdBu_r", -zmax, zmax, size),
                _to_rgb(lattice_image(filtered[t]), "RdBu_r", -fmax, fmax, size),
                _to_rgb(lattice_image(phase[t]), "hsv", -np.pi, np.pi, size)]
               for t in range(len(z))), out, duration_ms)


def phase_sites_gif(phase: np.ndarray, out: str | pathlib.Path, duration_ms: int = 250) -> None:
    """``(T, H, W)`` phase as a video of one pixel a site, hue = ``(phase + pi) / 2 pi`` at full
    saturation and value: the authors' wave-video format, which
    :func:`locornn.analysis.waves.phase_map.phase_from_gif` reads back."""
    from matplotlib.colors import hsv_to_rgb

    hue = (np.asarray(phase) + np.pi) / (2 * np.pi)
    rgb = hsv_to_rgb(np.stack([np.mod(hue, 1.0), np.ones_like(hue), np.ones_like(hue)], -1))
    _save_gif(([(255 * frame).round().astype(np.uint8)] for frame in rgb), out, duration_ms,
              margin=0)


def phase_panels(panels: list[tuple[str, np.ndarray, dict]], out: str | pathlib.Path) -> None:
    """Phase fields side by side (hue), each titled with its phase-map numbers: the authors'
    video frames beside a run's, measured the same way."""
    fig, axes = plt.subplots(1, len(panels), figsize=(2.8 * len(panels), 3.6), squeeze=False,
                             layout="constrained")
    for ax, (title, phase, metrics) in zip(axes[0], panels, strict=True):
        ax.imshow(phase, cmap="hsv", vmin=-np.pi, vmax=np.pi, interpolation="nearest")
        ax.set_title(f"{title}\nwavelength {metrics['mean_wavelength']:.1f}, "
                     f"d(phase) {metrics['neighbour_phase_difference']:.2f}\nplane-wave "
                     f"fraction {metrics['plane_wave_fraction']:.2f}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.savefig(out, dpi=120)  # constrained layout keeps the three-line titles in the figure
    plt.close(fig)


def phase_map_figure(phase: np.ndarray, fit: np.ndarray, spectrum: np.ndarray,
                     metrics: dict[str, float], out: str | pathlib.Path, title: str = "") -> None:
    """The still beside the wave video: one frame's phase (hue), the power spectrum of
    ``exp(i phase)`` over the measured frames (centred, log scale; a plane wave is one bright
    point, a checkerboard the corners, noise a flat field) and each site's plane-wave fit
    ``R^2`` (:mod:`locornn.analysis.waves.phase_map`); the measured numbers in the panel titles."""
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.6))
    image = axes[0].imshow(phase, cmap="hsv", vmin=-np.pi, vmax=np.pi)
    fig.colorbar(image, ax=axes[0], fraction=0.046, label="phase (rad)")
    axes[0].set_title(f"phase, last frame\nneighbour difference "
                      f"{metrics['neighbour_phase_difference']:.2f} rad", fontsize=9)
    h, w = spectrum.shape
    extent = (-0.5 - 0.5 / w, 0.5 - 0.5 / w, 0.5 - 0.5 / h, -0.5 - 0.5 / h)
    axes[1].imshow(np.log10(np.fft.fftshift(spectrum) + 1e-12 * spectrum.max()), cmap="magma",
                   extent=extent)
    axes[1].set_xlabel("f_x (cycles / site)")
    axes[1].set_ylabel("f_y")
    axes[1].set_title(f"log power of exp(i phase)\nwavelength mean "
                      f"{metrics['mean_wavelength']:.2f}, peak "
                      f"{metrics['peak_wavelength']:.2f} sites", fontsize=9)
    image = axes[2].imshow(fit, cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(image, ax=axes[2], fraction=0.046, label="R^2")
    axes[2].set_title(f"plane-wave fit per 5x5 patch\nplane-wave fraction "
                      f"{metrics['plane_wave_fraction']:.2f}", fontsize=9)
    for ax in (axes[0], axes[2]):
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    save(fig, out)


def forecast_frames(target: np.ndarray, prediction: np.ndarray, out: str | pathlib.Path,
                    start: int, num_frames: int = 10, title: str = "") -> None:
    """Ground truth (top) against open-loop forecast (bottom), frames ``start`` onwards.

    Args:
      target, prediction: ``(T, h, w, c)`` one aligned trajectory (``prediction[t]`` is the
        forecast of ``target[t]``); columns are spread evenly over ``start .. T - 1``.
    """
    columns = np.unique(np.linspace(start, len(target) - 1, num_frames).astype(int))
    fig, axes = plt.subplots(2, len(columns), figsize=(1.3 * len(columns), 3.0), squeeze=False)
    for col, t in enumerate(columns):
        for row, image in enumerate((target[t], prediction[t])):
            axes[row, col].imshow(_grey_or_rgb(image), cmap="gray", vmin=0, vmax=1)
            axes[row, col].set_xticks([])
            axes[row, col].set_yticks([])
        axes[0, col].set_title(f"t={t}", fontsize=8)
    axes[0, 0].set_ylabel("ground truth")
    axes[1, 0].set_ylabel("forecast")
    if title:
        fig.suptitle(title)
    save(fig, out)


def vpt_error_curve(errors: np.ndarray, threshold: float, out: str | pathlib.Path,
                    vpt_median: float | None = None, title: str = "") -> None:
    """Per-step normalised error of every held-out trajectory (thin), their median (thick) and
    the VPT threshold; step 0 is the first frame after the training window."""
    fig, ax = plt.subplots(figsize=(6, 4))
    steps = np.arange(errors.shape[1])
    for row in errors[:50]:
        ax.plot(steps, row, color="tab:blue", alpha=0.15, linewidth=0.8)
    ax.plot(steps, np.median(errors, axis=0), color="tab:blue", linewidth=2,
            label="median over trajectories")
    ax.axhline(threshold, color="tab:red", linestyle="--", label=f"threshold {threshold}")
    if vpt_median is not None:
        ax.axvline(vpt_median, color="k", linestyle=":", label=f"median VPT {vpt_median:g}")
    ax.set_yscale("log")
    ax.set_xlabel("steps after the training window")
    ax.set_ylabel("normalised error mean((gt-pred)^2) / mean(gt^2)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    save(fig, out)


def vpt_bars(ours: dict[str, list[tuple[float, float]]], model_names: list[str],
             paper: dict[str, dict[str, tuple[float, float]]], extrapolation: int,
             out: str | pathlib.Path, title: str = "") -> None:
    """Table 1 as grouped bars: per system (``ours`` keys, display names), our models' VPT mean
    with std error bars (``ours[system][i]`` for ``model_names[i]``), the paper's numbers as
    hollow markers of the same colour where the model is in the paper, and a dotted line at the
    longest VPT our test trajectories allow (``extrapolation`` steps)."""
    systems = list(ours)
    fig, ax = plt.subplots(figsize=(1.6 * len(systems) + 4, 4))
    width = 0.8 / len(model_names)
    for i, name in enumerate(model_names):
        x = np.arange(len(systems)) + (i - (len(model_names) - 1) / 2) * width
        mean, std = np.array([ours[s][i] for s in systems]).T
        bars = ax.bar(x, mean, width, yerr=std, capsize=2, label=f"{name} (ours)")
        published = [paper[s].get(name, (np.nan,))[0] for s in systems]
        if not np.all(np.isnan(published)):
            ax.plot(x, published, "o", markerfacecolor="none", markersize=7,
                    color=bars.patches[0].get_facecolor(), label=f"{name} (paper)")
    ax.axhline(extrapolation, color="grey", linestyle=":", linewidth=1,
               label=f"test length ({extrapolation} steps)")
    ax.set_xticks(np.arange(len(systems)), systems)
    ax.set_ylabel("VPT (steps after the training window)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(alpha=0.3, axis="y")
    if title:
        ax.set_title(title)
    save(fig, out)


def vpt_curves(curves: dict[str, dict[str, list[tuple[int, float, float]]]],
               out: str | pathlib.Path, title: str = "") -> None:
    """VPT against training steps: one panel per system (``curves`` keys), one line per model
    with its seed spread as a band; ``curves[system][model] = [(steps, mean, std), ...]``."""
    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.4), squeeze=False)
    for ax, (system, models) in zip(axes[0], curves.items(), strict=True):
        for model, points in models.items():
            steps, mean, std = (np.array(column) for column in zip(*points, strict=True))
            line, = ax.plot(steps, mean, "o-", label=model)
            ax.fill_between(steps, mean - std, mean + std, alpha=0.2, color=line.get_color())
        ax.set_xscale("log")
        budgets = sorted({point[0] for points in models.values() for point in points})
        ax.set_xticks(budgets, [f"{b:,}" for b in budgets])  # the budgets, not log decades
        ax.minorticks_off()
        ax.set_xlabel("training steps")
        ax.set_ylabel("VPT (steps)")
        ax.set_title(system)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save(fig, out)
