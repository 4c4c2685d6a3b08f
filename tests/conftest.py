"""Shared fixtures: tiny experiment configs that train in seconds on a CPU."""

import pathlib

import jax
import pytest

from locornn import configs

ROOT = pathlib.Path(__file__).resolve().parents[1]


def experiment_config(name: str, preset: str = "smoke", **updates):
    """The packaged experiment ``name`` at ``preset`` with dotted-key ``updates`` applied."""
    module = configs.experiment_module(name)
    config = module.get_config(preset)
    return configs.override(config, {k.replace("__", "."): v for k, v in updates.items()})


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory):
    """Share compiled programs between tests: many smoke runs compile the same model, and
    compiling (not running) dominates their time on a CPU. The cache lives for one session."""
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("xla-cache")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    yield
    jax.config.update("jax_compilation_cache_dir", None)


@pytest.fixture
def smoke_config():
    """The waves smoke preset without figures (tests that need figures turn them on)."""
    return experiment_config("waves", figures__enabled=False)
