"""The README is a specification too: its size, its example, its commands."""

import math
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
NUMBER = re.compile(r"-?\d+\.\d+")


def test_the_readme_is_one_page():
    assert len(README.encode()) <= 10_240


def test_the_api_example_prints_what_the_readme_says(tmp_path):
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    promised = re.search(r"\nprints\n\n```text\n(.*?)```", README, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert result.returncode == 0, result.stderr
    printed = result.stdout
    assert NUMBER.sub("#", printed) == NUMBER.sub("#", promised)  # the same words
    for got, want in zip(NUMBER.findall(printed), NUMBER.findall(promised), strict=True):
        assert math.isclose(float(got), float(want), rel_tol=2e-3, abs_tol=2e-4), (got, want)
    assert float(NUMBER.findall(printed)[0]) > 0  # the drive moved the lattice


def test_every_locornn_command_in_the_readme_exists():
    from locornn import cli

    named = set(re.findall(r"`locornn (\w+)", README))
    assert named and named <= set(cli.COMMANDS)
    for artifact in re.findall(r"locornn reproduce ([\w|\\-]+)", README):
        assert set(artifact.replace("\\", "").split("|")) <= set(cli.REPRODUCE)


def test_every_make_target_in_the_readme_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z0-9]+):", makefile, re.M))
    named = set(re.findall(r"make (\w+)", README))
    assert named and named <= targets, named - targets
