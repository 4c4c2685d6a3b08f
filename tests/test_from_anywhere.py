"""Every command works from a directory outside the repository (the experiments ship with the
package). Each runs at the smoke preset, at its tiniest; the figure commands are run from a
temporary directory in test_figures.py and test_figure2.py."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from locornn import cli

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
FAST = ["--config.figures.enabled=False"]
ONE_CELL = ["--systems", "mass_spring", "--models", "locornn", "--seeds", "0", "--quiet"]


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory):
    """A directory outside the repository with one smoke run trained there by `locornn train`
    in a fresh interpreter (as a user would type it)."""
    base = tmp_path_factory.mktemp("elsewhere")
    env = {**os.environ, "PYTHONPATH": str(SRC), "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, "-m", "locornn", "train", "--config",
                             "hamiltonian:smoke", "--quiet", *FAST], cwd=base, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "%|" not in result.stderr  # --quiet: no progress bar, data generation's included
    return base


def test_train_writes_its_run_under_the_working_directory(elsewhere):
    run = elsewhere / "runs" / "hamiltonian" / "smoke" / "mass_spring" / "locornn" / "0"
    assert json.loads((run / "summary.json").read_text())["steps"] > 0
    assert (elsewhere / "cache").is_dir()  # the generated data is cached there too


@pytest.mark.parametrize("argv", [
    ["eval", "runs/hamiltonian/smoke/mass_spring/locornn/0"],
    ["reproduce", "table1", "--config", "hamiltonian:smoke", *ONE_CELL, *FAST],  # reuses train's
    ["reproduce", "budget", "--config", "hamiltonian:smoke", "--budgets", "4", *ONE_CELL,
     "--runs-root", "b", *FAST],
    ["reproduce", "ablation", "--config", "hamiltonian:smoke", "--variants", "open_loop",
     *ONE_CELL, "--runs-root", "a", "--config.data.sequence_length=10", *FAST],
    ["data", "hamiltonian", "--systems", "pendulum", "--num-train", "2", "--num-test", "1",
     "--steps", "8", "--quiet"],
    ["analyze", "stability", "--steps", "5", "--lattice", "2", "--batch", "1", "--quiet",
     "--out", "stability.png"],
], ids=lambda argv: " ".join(argv[:2]))
def test_a_command_runs_outside_the_repository(argv, elsewhere, monkeypatch):
    monkeypatch.chdir(elsewhere)
    assert cli.main(argv) == 0
