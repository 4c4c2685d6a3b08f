"""The config schema: every field has a declared domain, every rule between fields is declared
once with an example that breaks it, and the whole config (the analyses' fields included) is
refused in one line before anything is generated, trained or written."""

import os
import pathlib
import subprocess
import sys

import pytest

from locornn import cli, configs, train
from locornn.configs import domains, rules, schema

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


# what a packaged experiment needs from its user (the video experiment reads your files)
USER_FIELDS = {"video": ["--config.data.path=frames.npy"]}


def _packaged_configs():
    for name in configs.experiment_names():
        for preset in configs.PRESETS:
            try:
                yield f"{name}:{preset}", configs.load(f"{name}:{preset}",
                                                       USER_FIELDS.get(name, []))
            except configs.ConfigError as error:  # a preset the experiment does not have
                assert "has no" in str(error), (name, preset, error)


def test_every_field_of_every_packaged_experiment_has_a_declared_domain():
    fields = configs.all_fields()
    assert sorted(configs.flatten(configs.base_config())) == sorted(fields)
    undeclared = []
    for spec, config in _packaged_configs():
        for path, value in configs.flatten(config).items():
            field = fields.get(path)
            if field is None or not isinstance(field.domain, domains.Domain) or not field.doc:
                undeclared.append(f"{spec} {path}")
            else:  # and every packaged value lies in it
                assert field.problem(path, value) is None, (spec, path, value)
    assert not undeclared, undeclared


@pytest.mark.parametrize("rule", [r for r in rules.RULES if r.breaks[1]], ids=lambda r: r.name)
def test_each_rule_has_an_example_that_breaks_it_and_no_other(rule):
    spec, overrides = rule.breaks
    config = configs.load(spec, USER_FIELDS.get(spec.split(":")[0], []))
    configs.override(config, overrides)
    assert domains.check_fields(config, configs.all_fields()) is None  # every field in range
    assert [r.name for r in rules.RULES if r.problem(config)] == [rule.name]
    with pytest.raises(configs.ConfigError) as error:
        configs.validate(config)
    assert str(error.value) == rule.problem(config)
    assert "\n" not in str(error.value) and "; " in str(error.value)  # one line, with the fix


def test_rule_names_are_unique_and_name_declared_fields():
    names = [rule.name for rule in rules.RULES]
    assert len(names) == len(set(names))
    fields = configs.all_fields()
    for rule in rules.RULES:
        assert rule.fields and set(rule.fields) <= set(fields), rule.name


def test_a_field_message_names_the_field_the_value_the_domain_and_the_default():
    config = configs.load("orientation:smoke")
    config.analysis.threshold = float("nan")
    with pytest.raises(configs.ConfigError) as error:
        configs.validate(config)
    assert str(error.value) == ("config key 'analysis.threshold' must be a finite number > 0, "
                                "got nan; e.g. --config.analysis.threshold=0.65 (the default)")


@pytest.mark.parametrize("domain, kind, inside, outside, words", [
    (domains.at_least(1), int, [1, 7], [0, -1, float("nan"), float("inf"), True, "1"],
     "an integer >= 1"),
    (domains.odd(), int, [1, 3, 9], [0, 2, -1, 4], "a positive odd number"),
    (domains.Range(low=2, also=(0,)), int, [0, 2, 16], [1, -1], "0 or an integer >= 2"),
    (domains.between(0, 0.5, low_open=True, high_open=True), float, [0.1],
     [0, 0.5, float("nan")], "a finite number in (0, 0.5)"),
    (domains.one_of("a", "b"), str, ["a"], ["", "c", None], "one of ('a', 'b')"),
    (domains.Text(empty=False), str, ["x"], ["", "  ", 3], "a non-empty string"),
])
def test_domains_hold_what_they_say(domain, kind, inside, outside, words):
    assert all(domain.contains(x) for x in inside)
    assert not any(domain.contains(x) for x in outside)
    assert domain.describe(kind) == words


def _refused_before_any_work(argv, tmp_path, capsys, monkeypatch):
    """``argv``, run in ``tmp_path``, exits 2 with one line on stderr, no traceback, and
    nothing started or written there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(train, "train_and_evaluate",
                        lambda *a, **k: pytest.fail(f"training started for {argv}"))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse's exit, for a flag's value
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("locornn"), err
    assert "Traceback" not in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    return err


def test_an_analysis_window_shorter_than_its_transient_is_refused_before_training(
        tmp_path, capsys, monkeypatch):
    err = _refused_before_any_work(
        ["train", "--config", "orientation:smoke", "--workdir", "run", "--quiet",
         "--config.analysis.length=1", "--config.analysis.transient=5"],
        tmp_path, capsys, monkeypatch)
    assert "'analysis.transient' (5) must be < 'analysis.length' (1)" in err


def test_help_config_lists_every_field_with_default_domain_and_meaning(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "--help-config"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for path, field in configs.all_fields().items():
        assert f"--config.{path}={field.default!r}    ({field.describe()})" in out
        assert field.doc.split()[0] in out


def test_the_configuration_page_is_the_schema():
    page = (DOCS / "configuration.md").read_text()
    begin, end = "<!-- fields: generated -->\n", "<!-- end of fields -->\n"
    generated = page[page.index(begin) + len(begin):page.index(end)]
    assert generated == schema.fields_markdown() + "\n", (
        "docs/configuration.md is out of date: paste configs.schema.fields_markdown() between "
        "its markers")


def test_the_robustness_page_lists_the_rules():
    page = (DOCS / "robustness.md").read_text()
    begin, end = "<!-- rules: generated -->\n", "<!-- end of rules -->\n"
    assert page[page.index(begin) + len(begin):page.index(end)] == rules.rules_markdown(), (
        "docs/robustness.md is out of date: paste configs.rules.rules_markdown() between its "
        "markers")


@pytest.mark.parametrize("argv, flag, value", [
    (["data", "hamiltonian", "--systems", "pendulum", "--steps", "0"], "--steps", "0"),
    (["data", "hamiltonian", "--systems", "pendulum", "--steps", "-1"], "--steps", "-1"),
    (["data", "hamiltonian", "--systems", "pendulum", "--num-train", "0"], "--num-train", "0"),
    (["analyze", "orientation", "run", "--threshold", "nan"], "--threshold", "nan"),
])
def test_bad_flag_values_are_refused_in_one_line_before_any_work(argv, flag, value, tmp_path,
                                                                  capsys, monkeypatch):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}\n")  # an earlier run, left as it was
    err = _refused_before_any_work(argv, tmp_path, capsys, monkeypatch)
    assert f"argument {flag}: must be" in err and f"got {value!r}" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["config.json", "run"]


def test_analyze_orientation_checks_its_window_flags_with_the_config_rule(tmp_path, capsys,
                                                                          monkeypatch):
    (tmp_path / "run").mkdir()
    err = _refused_before_any_work(["analyze", "orientation", "run", "--length", "3",
                                    "--transient", "5"], tmp_path, capsys, monkeypatch)
    assert "'analysis.transient' (5) must be < 'analysis.length' (3)" in err


@pytest.mark.parametrize("argv, message", [
    (["train", "--config", "orientation:smoke", "--config.analysis.length=1",
      "--config.analysis.transient=5"], "'analysis.transient' (5) must be < 'analysis.length'"),
    (["data", "hamiltonian", "--systems", "pendulum", "--steps", "0"],
     "argument --steps: must be an integer >= 1, got '0'"),
])
def test_the_installed_command_refuses_in_one_line_too(argv, message, tmp_path):
    """The same through ``python -m locornn`` in a process of its own (what a user runs)."""
    result = subprocess.run([sys.executable, "-m", "locornn", *argv], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(DOCS.parent / "src")})
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not any(tmp_path.iterdir())  # no run, no cache: nothing written


@pytest.mark.parametrize("argv, message", [
    # the autoregressive rollout suits the LocoRNN cell but not the Neural ODE's
    (["reproduce", "table1", "--config", "hamiltonian:smoke", "--systems", "mass_spring",
      "--models", "locornn", "node", "--seeds", "0", "--config.model.rollout=autoregressive"],
     "model.kind = 'node'"),
    (["reproduce", "budget", "--config", "hamiltonian:smoke", "--systems", "mass_spring",
      "--models", "locornn", "node", "--seeds", "0", "--budgets", "2",
      "--config.model.rollout=autoregressive"], "model.kind = 'node'"),
    # tied kernels suit the open-loop variant but not the zero-sum velocity kernel's
    (["reproduce", "ablation", "--config", "hamiltonian:cpu", "--seeds", "0", "--variants",
      "open_loop", "zero_sum_kv", "--config.model.tie_kernels=True"],
     "model.velocity_kernel_sum = 'zero' needs a velocity kernel of its own"),
    # the reference's unused latents suit its Gaussian encoder but not the deterministic one
    (["reproduce", "ablation", "--config", "rotating_mnist:reference", "--variants", "reference",
      "deterministic_encoder", "--config.model.unused_latents=4"],
     "'model.unused_latents' (4) is for model.encoder = 'gaussian', not 'mlp'"),
])
def test_a_reproduce_command_checks_every_run_before_training_the_first(
        argv, message, tmp_path, capsys, monkeypatch):
    err = _refused_before_any_work([*argv, "--runs-root", "runs"], tmp_path, capsys, monkeypatch)
    assert message in err


def test_figure2_checks_every_sweep_point_before_training_the_first(tmp_path, capsys,
                                                                   monkeypatch):
    """A coupling kernel wider than the smoke lattice (8 sites) is refused before the
    orientation run, the noise control or the smaller kernels train."""
    err = _refused_before_any_work(
        ["reproduce", "figure2", "--preset", "smoke", "--wavelengths", "--kernel-sizes", "3",
         "9", "--runs-root", "runs", "--results-dir", "results"], tmp_path, capsys, monkeypatch)
    assert "'model.kernel_size' (9) is larger than the lattice" in err
