"""Shared fixtures: tiny experiment configs that train in seconds on a CPU."""

import pathlib

import pytest

from locornn import configs

ROOT = pathlib.Path(__file__).resolve().parents[1]


def experiment_config(name: str, preset: str = "smoke", **updates):
    """``experiments/<name>.py`` at ``preset`` with dotted-key ``updates`` applied."""
    module = configs.experiment_module(ROOT / "experiments" / f"{name}.py")
    config = module.get_config(preset)
    return configs.override(config, {k.replace("__", "."): v for k, v in updates.items()})


@pytest.fixture
def smoke_config():
    """The waves smoke preset without figures (tests that need figures turn them on)."""
    return experiment_config("waves", figures__enabled=False)
