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
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


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
            out: str | pathlib.Path, num_frames: int = 10, title: str = "") -> None:
    """Rows: input frames, hidden position ``z`` on the lattice, decoded prediction.

    Args:
      frames: ``(T, h, w, c)`` one sequence; z: ``(T, *state)``; prediction: ``(T, h, w, c)``
        where ``prediction[t]`` forecasts ``frames[t+1]`` (so it is drawn under frame ``t+1``).
    """
    steps = min(num_frames, len(frames) - 1)
    columns = np.linspace(1, len(frames) - 1, steps).astype(int)
    zmax = float(np.abs(z).max()) or 1.0
    fig, axes = plt.subplots(3, steps, figsize=(1.3 * steps, 4.2), squeeze=False)
    for col, t in enumerate(columns):
        panels = ((frames[t], "gray", (0, 1)), (lattice_image(z[t]), "RdBu_r", (-zmax, zmax)),
                  (prediction[t - 1], "gray", (0, 1)))
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
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


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


def hidden_gif(frames: np.ndarray, z: np.ndarray, prediction: np.ndarray,
               out: str | pathlib.Path, size: int = 160, duration_ms: int = 120) -> None:
    """An animated GIF, per time step: input | hidden z (red +, blue -) | prediction."""
    zmax = float(np.abs(z).max()) or 1.0
    pictures = []
    for t in range(1, len(frames)):
        panels = [_to_rgb(frames[t], "gray", 0, 1, size),
                  _to_rgb(lattice_image(z[t]), "RdBu_r", -zmax, zmax, size),
                  _to_rgb(prediction[t - 1], "gray", 0, 1, size)]
        height = max(p.shape[0] for p in panels)
        panels = [np.pad(p, ((0, height - p.shape[0]), (4, 4), (0, 0)), constant_values=255)
                  for p in panels]
        pictures.append(Image.fromarray(np.concatenate(panels, axis=1)))
    pictures[0].save(out, save_all=True, append_images=pictures[1:], duration=duration_ms,
                     loop=0)
