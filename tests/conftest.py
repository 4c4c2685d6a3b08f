"""Shared fixtures: tiny experiment configs that train in seconds on a CPU."""

import os
import pathlib

import jax
import pytest

from locornn import configs

ROOT = pathlib.Path(__file__).resolve().parents[1]
CACHE_VARIABLES = ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS")


def cache_environment() -> dict[str, str]:
    """The compilation-cache variables of this session, for a subprocess given its own env."""
    return {name: os.environ[name] for name in CACHE_VARIABLES if name in os.environ}


def experiment_config(name: str, preset: str = "smoke", **updates):
    """The packaged experiment ``name`` at ``preset`` with dotted-key ``updates`` applied."""
    module = configs.experiment_module(name)
    config = module.get_config(preset)
    return configs.override(config, {k.replace("__", "."): v for k, v in updates.items()})


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory):
    """Share compiled programs between tests: many smoke runs compile the same model, and
    compiling (not running) dominates their time on a CPU. The cache lives for one session;
    the environment variables hand it to the commands tests start in subprocesses too."""
    cache = str(tmp_path_factory.mktemp("xla-cache"))
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    variables = dict(zip(CACHE_VARIABLES, (cache, "0.5"), strict=True))
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    yield
    jax.config.update("jax_compilation_cache_dir", None)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def smoke_config():
    """The waves smoke preset without figures (tests that need figures turn them on)."""
    return experiment_config("waves", figures__enabled=False)


@pytest.fixture(scope="session")
def waves_run(tmp_path_factory):
    """A 4-step waves smoke run (8x8 lattice) with the reference's constant ``1/sites`` coupling
    initialisation: one trained lattice for the analyses that read one (coupling, reach)."""
    from locornn import train

    workdir = tmp_path_factory.mktemp("waves_run") / "run"
    config = experiment_config("waves", figures__enabled=False, train__num_steps=4,
                               train__eval_every=4, train__checkpoint_every=4,
                               model__coupling_init="constant")
    train.train_and_evaluate(config, workdir, progress=False)
    return workdir


def tensorboard_events(folder) -> list:
    """Every ``Event`` of the TensorBoard files in ``folder``, file by file in name order
    (TFRecord framing: length, its CRC, the record, its CRC)."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    events = []
    for path in sorted(pathlib.Path(folder).glob("events.out.tfevents.*")):
        raw, at = path.read_bytes(), 0
        while at < len(raw):
            (length,) = struct.unpack("<Q", raw[at:at + 8])
            events.append(Event.FromString(raw[at + 12:at + 12 + length]))
            at += 12 + length + 4
    return events


def tensorboard_scalars(folder) -> dict:
    """``{tag: {step: value}}`` of the scalars in ``folder``'s TensorBoard files."""
    out = {}
    for event in tensorboard_events(folder):
        for value in event.summary.value:
            if value.HasField("simple_value"):
                out.setdefault(value.tag, {})[event.step] = value.simple_value
    return out
