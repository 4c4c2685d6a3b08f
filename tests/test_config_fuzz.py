"""Fuzz: every config field and every command-line flag, enumerated from the schema and from the
commands' parsers themselves (a field or flag added later is fuzzed without editing this file).

For each field: a wrong type, NaN, +-inf, zero, a negative, a huge value, the empty string, an
unknown choice; for each ordering rule: a violating pair; for each flag: the same, and paths
that cannot be. A value that must be refused ends in exit status 2, one line on stderr, no
traceback, and the work directory as it was (nothing trained, no new run, an existing run
untouched). What must be refused is decided from the value alone (NaN and infinities, wrong
types, unknown choices and 64-bit counts are never valid) or from the declared domain.

The number of examples is a hypothesis profile: ``config-fuzz-ci`` (the default, derandomized)
or ``LOCORNN_FUZZ_PROFILE=config-fuzz-thorough``.
"""

import argparse
import contextlib
import io
import math
import os
import pathlib
import tempfile
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locornn import cli, configs, train
from locornn.configs import domains, rules

settings.register_profile("config-fuzz-ci", max_examples=120, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("config-fuzz-thorough", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings.get_profile(os.environ.get("LOCORNN_FUZZ_PROFILE", "config-fuzz-ci"))

EXPERIMENTS = tuple(f"{name}:smoke" for name in configs.experiment_names())
BAD = ("wrong_type", "nan", "inf", "-inf", "zero", "negative", "huge", "empty",
       "unknown_choice")
NUMBERS = {"nan": "nan", "inf": "inf", "-inf": "-inf", "zero": "0", "negative": "-1"}


def bad_value(kind: type, how: str) -> str:
    """The text of a value of the sort ``how`` for a field or flag of type ``kind``."""
    if how == "huge":
        return "1e300" if kind is float else str(2**40)
    if how == "empty":
        return ""
    if how in ("wrong_type", "unknown_choice"):
        return "1.5" if kind is int and how == "wrong_type" else "no-such-value"
    return NUMBERS[how]


def must_refuse(kind: type, domain: domains.Domain, text: str) -> bool:
    """Whether ``text`` is outside what a field or flag of ``kind`` and ``domain`` may take:
    never valid whatever the domain says (not of the type, non-finite, beyond 32 bits, not a
    choice), else outside the declared domain."""
    if kind is bool:
        return text.lower() not in ("true", "false", "0", "1")
    if kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            return True
        if not math.isfinite(value) or not domains.fits_int32(kind, value):
            return True
        return not domain.contains(value)
    if isinstance(domain, domains.OneOf):
        return text not in domain.values
    return not domain.contains(text)


def _tree(root: pathlib.Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in root.rglob("*")}


@contextlib.contextmanager
def _workplace():
    """A temporary working directory holding an earlier run; no training may start in it."""
    with tempfile.TemporaryDirectory() as where:
        root = pathlib.Path(where)
        run = root / "run"
        run.mkdir()
        (run / "config.json").write_text('{"experiment": "earlier"}\n')
        (run / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n')
        (root / "a_file").write_text("not a folder\n")
        cwd = os.getcwd()
        os.chdir(root)
        try:
            with mock.patch.object(train, "train_and_evaluate",
                                   side_effect=AssertionError("training started")):
                yield root
        finally:
            os.chdir(cwd)


def assert_refused(argv: list[str], root: pathlib.Path) -> str:
    """``locornn ARGV`` exits 2 with one line on stderr and leaves ``root`` as it was."""
    before, err = _tree(root), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli.main(argv)
        except SystemExit as exit_:  # argparse's own exit, for a flag's value
            code = exit_.code
    err = err.getvalue()
    assert code == 2, (argv, code, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("locornn"), (argv, err)
    assert "Traceback" not in err, (argv, err)
    assert _tree(root) == before, argv
    return err


# what a packaged experiment needs from its user (the video experiment reads your files)
USER_FIELDS = {"video:smoke": ["--config.data.path=frames.npy"]}


def _train_argv(experiment: str, *overrides: str) -> list[str]:
    return ["train", "--config", experiment, "--workdir", "run", "--quiet",
            *USER_FIELDS.get(experiment, []), *overrides]


# ----------------------------------------------------------------------------------------------
# Fields
# ----------------------------------------------------------------------------------------------


def field_cases(paths=None):
    """Every (field, sort of bad value) pair: the sweep that the fuzz below samples."""
    fields = configs.all_fields()
    return [(path, how) for path in (paths or fields) for how in BAD]


def check_field(experiment: str, path: str, how: str) -> None:
    """``--config.PATH=<bad value>`` on ``experiment``: refused in one line when it must be;
    otherwise validated or refused by a rule, never an exception or a started run."""
    field = configs.all_fields()[path]
    text = bad_value(field.kind, how)
    override = f"--config.{path}={text}"
    with _workplace() as root:
        if must_refuse(field.kind, field.domain, text):
            err = assert_refused(_train_argv(experiment, override), root)
            assert path in err, (override, err)
        else:  # in the domain: the config validates, or a rule between fields refuses it
            try:
                configs.load(experiment, [*USER_FIELDS.get(experiment, []), override])
            except configs.ConfigError as error:
                assert "\n" not in str(error)


def sweep_fields(experiment: str = "waves:smoke", paths=None) -> list[str]:
    """The fields whose bad values :func:`check_field` finds accepted (in-process, no CLI)."""
    missed = []
    for path, how in field_cases(paths):
        field = configs.all_fields()[path]
        text = bad_value(field.kind, how)
        if must_refuse(field.kind, field.domain, text):
            try:
                configs.load(experiment, [f"--config.{path}={text}"])
            except configs.ConfigError:
                continue
            missed.append(f"{path}={text!r}")
    return missed


def test_every_bad_value_of_every_field_is_refused():
    assert sweep_fields() == []


@FUZZ
@given(experiment=st.sampled_from(EXPERIMENTS), case=st.sampled_from(field_cases()))
def test_fuzzed_fields_through_the_command_line(experiment, case):
    check_field(experiment, *case)


def test_the_fuzz_finds_a_field_whose_rule_is_removed(monkeypatch):
    """With the domain of ``analysis.threshold`` removed (any float accepted), the sweep and
    the command-line fuzz both name that field, and only it."""
    field = configs.all_fields()["analysis.threshold"]
    unchecked = domains.Field(field.default, domains.Range(also=(math.nan, math.inf, -math.inf)),
                              field.doc)
    original = configs.all_fields

    def all_fields():
        return {**original(), "analysis.threshold": unchecked}

    monkeypatch.setattr(configs, "all_fields", all_fields)
    assert {missed.split("=")[0] for missed in sweep_fields()} == {"analysis.threshold"}

    @settings(FUZZ, max_examples=40, database=None)
    @given(how=st.sampled_from(["nan", "inf", "-inf"]))
    def fuzz_that_field(how):
        check_field("orientation:smoke", "analysis.threshold", how)

    with pytest.raises(AssertionError, match="training started|code"):
        fuzz_that_field()


# ----------------------------------------------------------------------------------------------
# Rules between fields
# ----------------------------------------------------------------------------------------------

ORDERS = [rule for rule in rules.RULES if isinstance(rule, domains.Order)]


def _in_domain(field: domains.Field):
    """Small values of the field's own domain."""
    low = field.domain.low if isinstance(field.domain, domains.Range) and \
        field.domain.low is not None else 0
    base = max(int(low), 0)
    values = st.integers(base, base + 40) if field.kind is int else \
        st.floats(float(base), float(base) + 40.0, allow_nan=False)
    return values.filter(lambda x: field.domain.contains(x))


@FUZZ
@given(rule=st.sampled_from(ORDERS), data=st.data())
def test_fuzzed_violations_of_every_ordering_rule_are_refused(rule, data):
    low, high = rule.fields
    fields = configs.all_fields()
    high_value = data.draw(_in_domain(fields[high]), label=high)
    gap = data.draw(st.integers(0 if rule.op == "<" else 1, 20), label="gap")
    low_value = fields[low].kind(high_value + gap)
    if not fields[low].domain.contains(low_value):
        return  # the pair cannot be written: the field's own domain refuses it first
    experiment = rule.breaks[0]
    overrides = [f"--config.{high}={high_value}", f"--config.{low}={low_value}"]
    with _workplace() as root:
        assert_refused(_train_argv(experiment, *overrides), root)


@pytest.mark.parametrize("rule", [r for r in rules.RULES if r.breaks[1]], ids=lambda r: r.name)
def test_every_rule_example_is_refused_at_the_command_line(rule):
    experiment, overrides = rule.breaks
    argv = _train_argv(experiment, *(f"--config.{k}={v}" for k, v in overrides.items()))
    with _workplace() as root:
        err = assert_refused(argv, root)
    config = configs.override(configs.load(experiment, USER_FIELDS.get(experiment, [])),
                              overrides)
    assert err.strip() == f"locornn: config error: {rule.problem(config)}"


# ----------------------------------------------------------------------------------------------
# Flags of every command
# ----------------------------------------------------------------------------------------------

UNTYPED = (argparse._HelpAction, argparse._VersionAction, argparse._StoreTrueAction,
           argparse._StoreFalseAction, argparse._SubParsersAction, cli._HelpConfig)


def _leaves(path=()):
    """``(command path, parser)`` of every leaf command, found by walking the parsers."""
    parser = cli.build_parser(list(path))
    node = parser
    for word in path:
        sub = next(a for a in node._actions if isinstance(a, argparse._SubParsersAction))
        node = sub.choices[word]
    subs = [a for a in node._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield tuple(path), node
        return
    for word in subs[0].choices:
        yield from _leaves((*path, word))


LEAVES = dict(_leaves())
FLAGS = [(path, action) for path, parser in LEAVES.items() for action in parser._actions
         if not isinstance(action, UNTYPED)]


def _flag_name(action) -> str:
    return action.option_strings[-1] if action.option_strings else action.dest


def test_the_parsers_cover_every_command():
    commands = {path[0] for path in LEAVES}
    assert commands == set(cli.COMMANDS)
    assert {path[1] for path in LEAVES if path[0] == "reproduce"} == set(cli.REPRODUCE)
    assert ("data", "hamiltonian") in LEAVES and ("analyze", "orientation") in LEAVES


def test_every_flag_of_every_command_is_typed_by_a_domain_or_choices():
    untyped = [f"{' '.join(path)} {_flag_name(action)}" for path, action in FLAGS
               if action.choices is None and not isinstance(
                   getattr(action.type, "domain", None), domains.Domain)]
    assert not untyped, untyped


def _bad_flag_values(action, root: pathlib.Path) -> list[str]:
    domain, kind = getattr(action.type, "domain", None), getattr(action.type, "kind", str)
    if domain is None:  # choices
        return ["no-such-choice", ""]
    if isinstance(domain, domains.PathDomain):
        return [str(root / "missing" / "x"), str(root / "a_file"), str(root / "run"), ""]
    return [bad_value(kind, how) for how in BAD]


TYPED_FLAGS = [(path, action) for path, action in FLAGS if action.choices is not None
               or isinstance(getattr(action.type, "domain", None), domains.Domain)]


@FUZZ
@given(case=st.sampled_from(TYPED_FLAGS), data=st.data())
def test_fuzzed_flags_of_every_command_are_refused_in_one_line(case, data):
    path, action = case
    with _workplace() as root:
        text = data.draw(st.sampled_from(_bad_flag_values(action, root)), label="value")
        domain, kind = getattr(action.type, "domain", None), getattr(action.type, "kind", str)
        refuse = text not in action.choices if domain is None else \
            must_refuse(kind, domain, text)
        if not refuse:
            assert action.type(text) is not None
            return
        if action.option_strings:
            argv = [*path, f"{action.option_strings[-1]}={text}"]
        elif text.startswith("-") or text == "":
            return  # a positional cannot be given as "-x" or nothing; its flags are tested
        else:
            argv = [*path, text]
        err = assert_refused(argv, root)
        assert (action.metavar or _flag_name(action)) in err or _flag_name(action) in err, err


# ----------------------------------------------------------------------------------------------
# In the domain: random valid values of the key fields train
# ----------------------------------------------------------------------------------------------


@pytest.mark.slow
@settings(FUZZ, max_examples=3)
@given(data=st.data())
def test_random_valid_key_fields_validate_and_train_two_steps(data):
    lattice = data.draw(st.integers(3, 8), label="lattice")
    chosen = {
        "model.lattice": lattice,
        "model.kernel_size": data.draw(st.sampled_from([k for k in (1, 3, 5, 7) if k <= lattice]),
                                       label="kernel"),
        "model.dt": data.draw(st.floats(0.05, 0.95), label="dt"),
        "model.channels": data.draw(st.integers(1, 2), label="channels"),
        "train.batch_size": data.draw(st.integers(1, 8), label="batch"),
        "data.sequence_length": data.draw(st.integers(3, 8), label="sequence length"),
    }
    overrides = [f"--config.{key}={value}" for key, value in chosen.items()]
    configs.load("waves:smoke", overrides)  # valid: no error
    with tempfile.TemporaryDirectory() as where:
        run = pathlib.Path(where) / "run"
        code = cli.main(["train", "--config", "waves:smoke", "--workdir", str(run), "--quiet",
                         "--config.train.num_steps=2", "--config.figures.enabled=False",
                         "--config.analysis.waves=False", "--config.train.eval_batches=1",
                         *overrides])
        assert code == 0, chosen
        assert (run / "summary.json").is_file()
