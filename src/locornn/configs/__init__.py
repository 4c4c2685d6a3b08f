"""Configs: every field an experiment may set, its default, its domain, and the rules between.

An experiment (``locornn/experiments/<name>.py``, or any file of the same shape) starts from
:func:`base_config`, changes fields and applies a preset. The fields, each with its default,
domain and meaning, are declared in :mod:`locornn.configs.schema`, the rules between fields in
:mod:`locornn.configs.rules`, both made of the objects of :mod:`locornn.configs.domains`.
:func:`validate` checks a whole config against them before anything runs, so a misspelt key,
a wrong type, a value out of range or two fields that contradict each other fail at once in
one line that names the key and the fix, instead of being silently ignored or failing after
training. :func:`load` reads an
experiment and applies command-line overrides (``--config.model.lattice=48``) through
``ml_collections.config_flags``. An experiment is named either by its packaged name
(``hamiltonian:cpu``) or by a file path (``path/to/my_experiment.py:cpu``); see
:func:`experiment_path`.

Presets (documented in docs/experiments.md):
  * ``smoke``: seconds, for tests (tiny lattice, a few dozen steps);
  * ``cpu``: minutes on a 2-core laptop (the default of ``make train``);
  * ``paper``: the published sizes, for GPU/TPU.
"""

from __future__ import annotations

import difflib
import importlib.util
import math
import pathlib

import ml_collections
from absl import flags
from ml_collections import config_flags

from locornn.configs import rules
from locornn.configs.domains import check_fields, check_rules, flag
from locornn.configs.schema import (
    FILE_SETS,
    ON_DEMAND_SETS,
    PRESETS,
    SEQUENCE_SETS,
    all_fields,
    base_config,
)

__all__ = ["ConfigError", "EXPERIMENTS_DIR", "FILE_SETS", "ON_DEMAND_SETS", "PRESETS",
           "REFERENCE_CODE_DETAILS", "SEQUENCE_SETS",
           "all_fields", "base_config", "experiment_module", "experiment_names",
           "experiment_path", "field_flag", "flatten", "from_dict", "load", "override",
           "problems", "validate", "with_preset"]

# The experiments that ship with the package (the paper's): addressable by name from any directory.
EXPERIMENTS_DIR = pathlib.Path(__file__).resolve().parents[1] / "experiments"


class ConfigError(ValueError):
    """A config key that does not exist, a value of the wrong type, or an impossible value."""


# The reference code's own details (DESIGN.md 2b), each a field: the `reference` presets of the
# sequence experiments set them. Rotating MNIST's preset also has the two that are artefacts of
# that code: the encoder's unused half (sampled, with its KL: twice the encoder's cost for
# latents that drive nothing) and digits turned about (H/2, W/2).
REFERENCE_CODE_DETAILS = {
    "model.linear_init": "pytorch",  # nn.Linear: weights and biases U(+-1/sqrt(fan_in))
    "model.initial_noise": "independent",  # init_hidden encodes frame 0 again
    "model.layernorm_eps": 1e-5,  # torch.nn.LayerNorm
    "model.dt": 1.0 / (1.0 + math.exp(1.95)),  # raw dt -1.95 exactly: sigmoid(-1.95) = 0.12455
    "train.bce_eps": 1.1920928955078125e-07,  # float32 epsilon: torch Bernoulli's clamp
}


def _walk(config, prefix=""):
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, (ml_collections.ConfigDict, dict)):
            yield from _walk(value, path + ".")
        else:
            yield path, value


def flatten(config) -> dict:
    """``{"section.key": value}`` of every leaf field."""
    return dict(_walk(config))


def problems(config: ml_collections.ConfigDict) -> str | None:
    """The first thing wrong with ``config``, as a one-line message (``None``: nothing).

    In order: a key the schema lacks, a value outside its field's domain (type, range,
    finiteness, choices), a rule between fields broken (:data:`locornn.configs.rules.RULES`).
    """
    fields = all_fields()
    for path, _ in _walk(config):
        if path not in fields:
            close = difflib.get_close_matches(path, fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return f"unknown config key {path!r}{hint}"
    return check_fields(config, fields) or check_rules(config, rules.RULES)


def field_flag(path: str):
    """An argparse ``type=`` for a flag that sets what config field ``path`` sets: the field's
    own domain, so the flag and the field are refused in the same words."""
    field = all_fields()[path]
    return flag(field.domain, field.kind)


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise :class:`ConfigError` naming the first key that is unknown, mistyped or invalid, or
    the first rule between fields that ``config`` breaks: the whole config, including the
    fields only the analyses after training read, so nothing starts on a config that would fail
    later."""
    message = problems(config)
    if message:
        raise ConfigError(message)


def from_dict(values: dict) -> ml_collections.ConfigDict:
    """A config from plain values (e.g. a run's ``config.json``), on top of the defaults.

    Keys missing from ``values`` (a run written before a field existed) take their default;
    unknown keys and wrong types raise :class:`ConfigError`.
    """
    config = base_config()
    schema = dict(_walk(config))
    for path, value in _walk(values):
        if path not in schema:
            raise ConfigError(f"unknown config key {path!r}")
        if isinstance(schema[path], float) and type(value) is int:
            value = float(value)
        try:
            override(config, {path: value})
        except TypeError:
            raise ConfigError(f"config key {path!r} must be {type(schema[path]).__name__}, "
                              f"got {type(value).__name__} {value!r}") from None
    validate(config)
    return config


def experiment_names() -> tuple[str, ...]:
    """The packaged experiments, by name (``hamiltonian``, ``waves``, ...)."""
    return tuple(sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.py") if p.stem != "__init__"))


def experiment_path(name_or_path: str | pathlib.Path) -> pathlib.Path:
    """The file of an experiment given by packaged name or by path.

    ``hamiltonian`` names the packaged experiment. A path that exists is taken as it is (your
    own experiment file). ``experiments/hamiltonian.py`` (the repository's old layout), when no
    such file exists, also names the packaged one, so scripts written for it keep working from
    any directory. Anything else raises :class:`ConfigError`.
    """
    path = pathlib.Path(name_or_path)
    if path.is_file():
        return path
    packaged = EXPERIMENTS_DIR / f"{path.stem}.py"
    bare_name = path.suffix == "" and len(path.parts) == 1
    old_layout = path.suffix == ".py" and path.parent.name == "experiments"
    if (bare_name or old_layout) and path.stem in experiment_names():
        return packaged
    raise ConfigError(f"no experiment {str(name_or_path)!r}: give a packaged name "
                      f"({', '.join(experiment_names())}) or an existing file, e.g. "
                      f"hamiltonian:cpu or path/to/mine.py:cpu")


def load(spec: str, overrides: list[str] | tuple[str, ...] = ()) -> ml_collections.ConfigDict:
    """Load ``NAME[:preset]`` or ``path/to/experiment.py[:preset]``; apply overrides.

    Overrides (``--config.a.b=value``) are parsed by ``ml_collections.config_flags`` (types
    follow the field's default; unknown keys raise). The result is validated against
    :func:`base_config`.
    """
    name, _, preset = str(spec).partition(":")
    path = experiment_path(name)
    spec = f"{path}:{preset}" if preset else str(path)
    argv = ["locornn", f"--config={spec}", *overrides]
    flag_values = flags.FlagValues()
    config_flags.DEFINE_config_file("config", None, "experiment config", flag_values=flag_values,
                                    lock_config=True, sys_argv=argv)
    try:
        flag_values(argv)
        config = flag_values.config
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as error:
        message = " ".join(str(error).replace("\\n", " ").replace("\\'", "'").split())
        ours = message.rfind("locornn.configs.ConfigError: ")
        if ours >= 0:  # raised by the experiment file itself (e.g. a preset it lacks): say that
            raise ConfigError(message[ours + len("locornn.configs.ConfigError: "):]) from None
        if len(message) > 1 and message[0] == message[-1] and message[0] in "'\"":
            message = message[1:-1]
        raise ConfigError(f"bad config key or value in {' '.join(overrides) or spec}: "
                          f"{message}") from None
    validate(config)
    return config


def experiment_module(name_or_path: str | pathlib.Path):
    """Import an experiment by packaged name or file (for tools that call ``get_config``)."""
    path = experiment_path(name_or_path)
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def override(config: ml_collections.ConfigDict, updates: dict) -> ml_collections.ConfigDict:
    """Set dotted keys (``{"model.lattice": 72}``) on ``config``; unknown keys raise."""
    for path, value in updates.items():
        *sections, key = path.split(".")
        node = config
        for section in sections:
            node = node[section]
        if key not in node:
            raise ConfigError(f"unknown config key {path!r}")
        node[key] = value
    return config


def with_preset(config: ml_collections.ConfigDict, preset: str,
                presets: dict[str, dict]) -> ml_collections.ConfigDict:
    """Apply one of an experiment's presets (``smoke``, ``cpu``, ``paper``, ``reference``)."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {PRESETS}")
    if preset not in presets:  # e.g. "reference" exists only where the reference code ran
        raise ConfigError(f"experiment {config.experiment!r} has no {preset!r} preset; it has "
                          f"{tuple(presets)}")
    config.preset = preset
    return override(config, presets[preset])
