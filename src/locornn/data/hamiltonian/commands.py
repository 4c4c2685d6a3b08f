"""Command line: ``locornn data hamiltonian ...`` and ``locornn data show ...``.

``add_data_commands(subparsers)`` adds the ``data`` command to an argparse parser; each leaf
sets ``func=callable(args) -> int``. ``python -m locornn.data.hamiltonian.commands data ...``
runs the same commands stand-alone.

Examples::

    locornn data hamiltonian --systems pendulum --num-train 2000 --num-test 200 --steps 255
    locornn data hamiltonian --systems two_body --test-steps 999      # long test trajectories
    locornn data show --systems two_body --num 4 --out figures/hamiltonian
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from locornn.configs import field_flag
from locornn.configs.domains import at_least, flag, path_flag
from locornn.data.hamiltonian.systems import ALL_SYSTEMS, get_system

DEFAULT_CACHE_DIR = "cache/hamiltonian"
COUNT = flag(at_least(1), int)  # trajectories, steps, columns: at least one


def _add_system_argument(parser) -> None:
    parser.add_argument("--systems", required=True, nargs="+", choices=ALL_SYSTEMS,
                        metavar="SYSTEM", help=f"one or more of: {' '.join(ALL_SYSTEMS)}")


def add_data_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``data {hamiltonian, show}`` to ``subparsers``; returns the ``data`` parser."""
    data = subparsers.add_parser("data", help="generate or inspect data sets",
                                 description="Generate or inspect data sets.")
    data_sub = data.add_subparsers(dest="data_command", metavar="{hamiltonian,show}")
    data_sub.required = True

    gen = data_sub.add_parser(
        "hamiltonian",
        help="generate a Hamiltonian Dynamics Suite data set into the cache",
        description=(
            "Generate train and test trajectories of one Hamiltonian-suite system into a "
            "cache folder (reused by later calls with the same arguments)."
        ),
    )
    _add_system_argument(gen)
    gen.add_argument("--num-train", type=COUNT, default=1000, help="train trajectories (1000)")
    gen.add_argument("--num-test", type=COUNT, default=100, help="test trajectories (100)")
    gen.add_argument(
        "--steps",
        type=COUNT,
        default=255,
        help="steps per train trajectory; frames = steps + 1 (255)",
    )
    gen.add_argument(
        "--test-steps",
        type=COUNT,
        default=None,
        help="steps per test trajectory, up to 999 for VPT (default: --steps)",
    )
    gen.add_argument("--seed", type=field_flag("data.seed"), default=0,
                     help="the data set's seed (0)")
    gen.add_argument(
        "--cache-dir", default=DEFAULT_CACHE_DIR, type=path_flag(),
        help=f"cache folder ({DEFAULT_CACHE_DIR})"
    )
    gen.add_argument(
        "--export-suite",
        metavar="DIR",
        type=path_flag(),
        default=None,
        help="also write the data in the suite's TFRecord format under DIR "
        "(needs: pip install 'locornn[suite]')",
    )
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=run_generate)

    show = data_sub.add_parser(
        "show",
        help="write a PNG grid and a GIF of a few trajectories",
        description=(
            "Render a few trajectories as a PNG grid (rows: trajectories, columns: frames) "
            "and an animated GIF. Frames are shown as stored: row 0 is the canvas' minimum y, "
            "so physical 'up' points down unless --flip-y is given."
        ),
    )
    _add_system_argument(show)
    show.add_argument("--num", type=COUNT, default=4, help="trajectories to show (4)")
    show.add_argument("--out", default="figures/hamiltonian", type=path_flag(folder=None),
                      help="output folder")
    show.add_argument("--steps", type=COUNT, default=255, help="steps per trajectory (255)")
    show.add_argument("--seed", type=field_flag("data.seed"), default=0,
                      help="the trajectories' seed (0)")
    show.add_argument("--columns", type=COUNT, default=10, help="frames per row in the grid (10)")
    show.add_argument("--scale", type=COUNT, default=4, help="pixel upscaling (4)")
    show.add_argument("--flip-y", action="store_true", help="show physical y pointing up")
    show.add_argument(
        "--suite-dir",
        default=None,
        type=path_flag("dir"),
        help="show the suite's own files from this folder instead of generating",
    )
    show.set_defaults(func=run_show)
    return data


def _for_each_system(run_one, args: argparse.Namespace) -> int:
    """``run_one(system, args)`` for every ``--systems`` entry, stopping at the first failure."""
    for system in args.systems:
        code = run_one(system, args)
        if code:
            return code
    return 0


def run_generate(args: argparse.Namespace) -> int:
    return _for_each_system(_generate_one, args)


def _generate_one(system: str, args: argparse.Namespace) -> int:
    from locornn.data.hamiltonian.dataset import load_dataset

    test_steps = args.steps if args.test_steps is None else args.test_steps
    start = time.perf_counter()
    data = load_dataset(
        system,
        num_train=args.num_train,
        num_test=args.num_test,
        train_steps=args.steps,
        test_steps=test_steps,
        seed=args.seed,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
    )
    elapsed = time.perf_counter() - start
    for split in ("train", "test"):
        info = data.cache[split]
        verb = {"hit": "reused", "generated": "generated", "regenerated": "regenerated"}
        images = getattr(data, f"{split}_images")
        print(
            f"{split}: {verb[info['status']]} {info['path']}  images {images.shape} {images.dtype}"
        )
    print(f"{data.system}: dt {data.dt}, {elapsed:.1f} s")
    if args.export_suite:
        from locornn.data.hamiltonian import suite_format
        from locornn.data.hamiltonian.generate import Trajectories

        try:
            folder = Path(args.export_suite) / suite_format.folder_name(data.system)
            for split in ("train", "test"):
                traj = Trajectories(
                    images=getattr(data, f"{split}_images"),
                    states=getattr(data, f"{split}_states"),
                    dx_dt=getattr(data, f"{split}_dx_dt"),
                    params=getattr(data, f"{split}_params"),
                    dt=data.dt,
                )
                suite_format.write_trajectories(folder, split, traj)
        except ImportError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"suite format: {folder}")
    return 0


def _tile(frames: np.ndarray, scale: int) -> np.ndarray:
    """(H, W, 3) -> (H*scale, W*scale, 3) nearest-neighbour upscaling."""
    return np.repeat(np.repeat(frames, scale, axis=0), scale, axis=1)


def grid_image(images: np.ndarray, columns: int, scale: int, gap: int = 2) -> np.ndarray:
    """(N, T, H, W, 3) uint8 -> one (rows = N, columns frames evenly spaced in time) image."""
    n, t, h, w, _ = images.shape
    picks = np.unique(np.linspace(0, t - 1, min(columns, t)).round().astype(int))
    hs, ws = h * scale, w * scale
    canvas = np.full((n * (hs + gap) - gap, len(picks) * (ws + gap) - gap, 3), 255, np.uint8)
    for i in range(n):
        for j, k in enumerate(picks):
            canvas[i * (hs + gap) : i * (hs + gap) + hs, j * (ws + gap) : j * (ws + gap) + ws] = (
                _tile(images[i, k], scale)
            )
    return canvas


def animation_frames(images: np.ndarray, scale: int, gap: int = 2) -> list[np.ndarray]:
    """(N, T, H, W, 3) -> T frames showing the N trajectories side by side."""
    n, t, h, w, _ = images.shape
    hs, ws = h * scale, w * scale
    frames = []
    for k in range(t):
        frame = np.full((hs, n * (ws + gap) - gap, 3), 255, np.uint8)
        for i in range(n):
            frame[:, i * (ws + gap) : i * (ws + gap) + ws] = _tile(images[i, k], scale)
        frames.append(frame)
    return frames


def run_show(args: argparse.Namespace) -> int:
    return _for_each_system(_show_one, args)


def _show_one(name: str, args: argparse.Namespace) -> int:
    from PIL import Image

    system = get_system(name)
    if args.suite_dir:
        from locornn.data.hamiltonian import suite_format

        try:
            folder = suite_format.find_folder(args.suite_dir, system.name)
            traj = suite_format.read_trajectories(folder, "train", limit=args.num)
        except ImportError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        images = traj.images[:, : args.steps + 1]
    else:
        from locornn.data.hamiltonian.generate import generate

        images = generate(system, num=args.num, num_steps=args.steps, seed=args.seed).images
    if args.flip_y:
        images = images[:, :, ::-1]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{system.name}_grid.png"
    gif = out / f"{system.name}.gif"
    Image.fromarray(grid_image(images, args.columns, args.scale)).save(png)
    frames = [Image.fromarray(f) for f in animation_frames(images, args.scale)]
    frames[0].save(
        gif,
        save_all=True,
        append_images=frames[1:],
        duration=max(20, int(round(system.dt * 1000))),
        loop=0,
    )
    print(f"wrote {png} and {gif} ({images.shape[0]} trajectories, {images.shape[1]} frames)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m locornn.data.hamiltonian.commands")
    sub = parser.add_subparsers(dest="command", metavar="{data}")
    sub.required = True
    add_data_commands(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
