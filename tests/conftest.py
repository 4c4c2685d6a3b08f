"""Shared fixtures: tiny experiment configs that train in seconds on a CPU."""

import os
import pathlib

import jax
import pytest

from locornn import configs

ROOT = pathlib.Path(__file__).resolve().parents[1]
CACHE_VARIABLES = ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                   "JAX_COMPILATION_CACHE_MAX_SIZE")
MIN_COMPILE_SECONDS = 0.1  # programs that compile faster are cheaper to compile than to read
CACHE_BYTES = 2 << 30  # a bound on the folder; with a bound JAX locks it (filelock) per entry


def cache_environment() -> dict[str, str]:
    """The compilation-cache variables of this session, for a subprocess given its own env."""
    return {name: os.environ[name] for name in CACHE_VARIABLES if name in os.environ}


def experiment_config(name: str, preset: str = "smoke", **updates):
    """The packaged experiment ``name`` at ``preset`` with dotted-key ``updates`` applied."""
    module = configs.experiment_module(name)
    config = module.get_config(preset)
    return configs.override(config, {k.replace("__", "."): v for k, v in updates.items()})


def compilation_cache_dir() -> pathlib.Path:
    """Where compiled programs are kept between test sessions: ``$LOCORNN_TEST_XLA_CACHE``, else
    ``~/.cache/locornn/xla`` (``$XDG_CACHE_HOME`` honoured), outside the repository."""
    if os.environ.get("LOCORNN_TEST_XLA_CACHE"):
        return pathlib.Path(os.environ["LOCORNN_TEST_XLA_CACHE"])
    base = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    return base / "locornn" / "xla"


@pytest.fixture(scope="session", autouse=True)
def compilation_cache():
    """Share compiled programs between tests and between sessions: many smoke runs compile the
    same model, and compiling (not running) dominates their time on a CPU. The cache persists
    (:func:`compilation_cache_dir`), so a second ``make test`` compiles little; every process
    that uses it (pytest-xdist workers, test sessions side by side, the commands tests start in
    subprocesses, to which the environment variables hand it) reads and writes it under JAX's
    file lock, which a size bound turns on."""
    cache = compilation_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(cache))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    jax.config.update("jax_compilation_cache_max_size", CACHE_BYTES)
    values = (str(cache), str(MIN_COMPILE_SECONDS), str(CACHE_BYTES))
    variables = dict(zip(CACHE_VARIABLES, values, strict=True))
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
