"""The `data hamiltonian` and `data show` commands."""

from __future__ import annotations

import argparse

import pytest
from PIL import Image

from locornn.data.hamiltonian.commands import add_data_commands, main
from locornn.data.hamiltonian.generate import GENERATOR_VERSION


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="locornn")
    add_data_commands(p.add_subparsers(dest="command"))
    return p


def test_data_hamiltonian_generates_then_reuses_the_cache(tmp_path, capsys):
    """The first call generates both splits into --cache-dir, the same call again reuses them."""
    argv = [
        "data",
        "hamiltonian",
        "--systems",
        "mass_spring",
        "--num-train",
        "4",
        "--num-test",
        "2",
        "--steps",
        "255",
        "--cache-dir",
        str(tmp_path),
        "--quiet",
    ]
    args = parser().parse_args(argv)
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "train: generated" in out and "test: generated" in out
    entry = f"train-n4-steps255-seed0-v{GENERATOR_VERSION}"
    assert (tmp_path / "mass_spring" / entry / "metadata.json").exists()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "train: reused" in out and "test: reused" in out


def test_data_hamiltonian_flags_and_defaults():
    args = parser().parse_args(["data", "hamiltonian", "--systems", "pendulum"])
    assert (args.num_train, args.num_test, args.steps, args.test_steps, args.seed) == (
        1000,
        100,
        255,
        None,
        0,
    )
    assert args.cache_dir == "cache/hamiltonian" and callable(args.func)
    with pytest.raises(SystemExit):
        parser().parse_args(["data", "hamiltonian", "--systems", "spring"])


def test_data_show_writes_a_png_grid_and_a_gif(tmp_path, capsys):
    """`data show --systems two_body` renders 4 trajectories: a grid with one row per
    trajectory and 10 frame columns, and a GIF with one frame per time step."""
    assert main(["data", "show", "--systems", "two_body", "--out", str(tmp_path)]) == 0
    png, gif = tmp_path / "two_body_grid.png", tmp_path / "two_body.gif"
    with Image.open(png) as grid:
        assert grid.size == (10 * 128 + 9 * 2, 4 * 128 + 3 * 2)
    with Image.open(gif) as anim:
        assert anim.n_frames == 256
        assert anim.size == (4 * 128 + 3 * 2, 128)
    assert "two_body" in capsys.readouterr().out
