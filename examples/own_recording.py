"""From an array of frames to the waves in a trained lattice (docs/tutorial.md).

    python examples/own_recording.py --out tutorial            # cpu preset, minutes on 2 cores
    python examples/own_recording.py --out tutorial --tiny     # smoke preset, seconds

Each step is one locornn command, run here through ``locornn.cli.main`` (the same as typing
it): train on the recording, measure the waves of the trained lattice (with its phase video),
then how far one site's input spreads through it.
"""

import argparse
import json
import pathlib

import numpy as np

from locornn import cli


def recording(frames: int, size: int, seed: int = 0) -> np.ndarray:
    """A stand-in for a widefield recording, ``(frames, size, size)`` float32: a plane wave
    that takes a new direction and period every 60 frames, on a slow baseline, with noise,
    in dF/F-like units (not in [0, 1], so the run scales it by its min and max)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size] / size
    movie = np.empty((frames, size, size), np.float32)
    for start in range(0, frames, 60):
        angle, period = rng.uniform(0, 2 * np.pi), rng.uniform(10, 30)
        along = cols * np.cos(angle) + rows * np.sin(angle)
        for t in range(start, min(start + 60, frames)):
            movie[t] = 0.4 * np.sin(2 * np.pi * (2 * along - t / period))
    baseline = 0.1 * np.sin(2 * np.pi * np.arange(frames) / 500)[:, None, None]
    return movie + baseline + rng.normal(0, 0.05, movie.shape).astype(np.float32)


def locornn(*argv: str) -> None:
    print("$ locornn", " ".join(argv), flush=True)
    if cli.main(list(argv)) != 0:
        raise SystemExit(f"locornn {argv[0]} failed (see above)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tutorial", help="folder for the data and the run")
    parser.add_argument("--tiny", action="store_true", help="the smoke preset: seconds")
    args = parser.parse_args()
    out = pathlib.Path(args.out).absolute()
    out.mkdir(parents=True, exist_ok=True)

    # 1. The frames: one long recording (T, H, W), saved as a .npy file. Yours could be
    #    (N, T, H, W) or (N, T, H, W, C), a folder of PNG frames, or a GIF/MP4 video.
    path = out / "recording.npy"
    np.save(path, recording(frames=800 if args.tiny else 6000, size=24 if args.tiny else 64))

    # 2. Train a lattice to predict the next frame. The file is read memory-mapped, cut into
    #    windows of data.sequence_length frames; the last 10% of the frames are held out.
    run = out / "run"
    preset = "smoke" if args.tiny else "cpu"
    locornn("train", "--config", f"video:{preset}", f"--config.data.path={path}",
            "--config.data.scaling=minmax", "--workdir", str(run), "--quiet")

    # 3. Waves in the trained lattice: wave statistics, phase map and phase video.
    locornn("analyze", "waves", str(run), "--num-sequences", "4")

    # 4. How far one site's input spreads through the lattice within a training sequence.
    locornn("analyze", "reach", str(run))

    waves = json.loads((run / "waves.json").read_text())["metrics"]
    reach = json.loads((run / "reach.json").read_text())
    held_out = json.loads((run / "summary.json").read_text())["test"]
    print(f"held-out MSE {held_out['mse']:.4g}; traveling-wave strength "
          f"{waves['traveling_wave_strength']:.2f}; reach {reach['reach_training']:.2f} sites; "
          f"phase video {run / 'waves_phase.gif'}")


if __name__ == "__main__":
    main()
