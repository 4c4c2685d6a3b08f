"""One grammar for every command: help everywhere, old spellings rewritten, a light parser."""

import argparse
import subprocess
import sys

import pytest

from locornn import cli


def _parsers(argv_prefix=()):
    """(argv prefix, parser) of every command and subcommand, each built as `locornn` builds it."""
    parser = cli.build_parser(list(argv_prefix))
    node = parser
    for word in argv_prefix:
        node = next(a for a in node._actions if isinstance(a, argparse._SubParsersAction)) \
            .choices[word]
    yield argv_prefix, node
    for action in node._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name in action.choices:
                yield from _parsers((*argv_prefix, name))


def test_every_command_and_flag_has_help():
    missing = []
    for prefix, parser in _parsers():
        if not parser.description:
            missing.append(f"locornn {' '.join(prefix)} (no description)")
        for action in parser._actions:
            listed = isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
            if not listed and not action.help:  # a subcommand's help is its own parser's
                missing.append(f"locornn {' '.join(prefix)} {'/'.join(action.option_strings)}"
                               f"{action.dest if not action.option_strings else ''}")
    assert not missing, "\n".join(missing)


def test_one_meaning_per_flag_name():
    """A flag name used by several commands means the same thing: same type and list-ness."""
    seen, clashes = {}, []
    for prefix, parser in _parsers():
        for action in parser._actions:
            for flag in action.option_strings:
                shape = (action.type, action.nargs in ("+", "*"), type(action).__name__)
                if seen.setdefault(flag, (prefix, shape))[1] != shape:
                    clashes.append(f"{flag}: {seen[flag][0]} vs {prefix}")
    assert not clashes, "\n".join(clashes)
    assert "--system" not in seen and "--no-progress" not in seen and "--model" not in seen


@pytest.mark.parametrize("old, new", [
    ("table --preset smoke --seeds 0", "reproduce table1 --config hamiltonian:smoke --seeds 0"),
    ("budget --preset cpu --steps 4 8", "reproduce budget --config hamiltonian:cpu --budgets 4 8"),
    ("ablation --system pendulum --model lstm --preset smoke",
     "reproduce ablation --systems pendulum --models lstm --config hamiltonian:smoke"),
    ("ablation --experiment waves --preset reference --steps 50",
     "reproduce ablation --config waves:reference --train-steps 50"),
    ("figures figure1 --preset smoke --experiments waves,noise",
     "reproduce figure1 --preset smoke --experiments waves noise"),
    ("data hamiltonian --system pendulum --no-progress",
     "data hamiltonian --systems pendulum --quiet"),
])
def test_old_spellings_read_as_the_current_grammar_with_one_line_saying_so(old, new, capsys):
    assert cli._modernize(old.split()) == (new.split(), True)
    with pytest.raises(SystemExit) as exit_:
        cli.main([*old.split(), "--help"])
    assert exit_.value.code == 0
    err = capsys.readouterr().err.strip()
    assert err == f"locornn: deprecated spelling; it now reads: locornn {new} --help"


def test_current_spellings_pass_unchanged():
    argv = "reproduce table1 --config hamiltonian:smoke --systems pendulum".split()
    assert cli._modernize(argv) == (argv, False)


def test_the_top_level_help_imports_neither_jax_nor_the_library():
    code = ("import sys, contextlib, io\n"
            "from locornn import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    cli.main(['--help'])\n"
            "heavy = ('jax', 'diffrax', 'flax', 'locornn.configs')\n"
            "heavy = [m for m in heavy if m in sys.modules]\n"
            "print(heavy)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_a_training_process_imports_neither_scipy_signal_nor_diffrax_until_it_uses_them():
    """``locornn train`` imports the phase measures and the Hamiltonian generator with the
    tasks; their heavy dependencies (~0.9 s of every fresh process) load on first use only."""
    code = ("import sys\n"
            "import locornn.cli, locornn.train\n"
            "print([m for m in ('scipy.signal', 'diffrax') if m in sys.modules])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("argv, message", [
    (["train", "--config", "nope:cpu"], "no experiment 'nope'"),
    (["reproduce", "budget", "--config", "waves:smoke"], "runs the hamiltonian experiment"),
    (["reproduce", "table1", "--config", "hamiltonian:huge"], "unknown preset 'huge'"),
])
def test_a_bad_config_is_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
