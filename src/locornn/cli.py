"""The command line: ``locornn train|eval|reproduce|data|analyze|bench``.

One grammar everywhere:

* ``--config NAME:PRESET`` picks an experiment and its preset (``hamiltonian:cpu``; a file path
  ``path/to/mine.py:cpu`` also works); ``--config.<section>.<key>=<value>`` overrides any field
  (``ml_collections`` syntax; unknown keys and wrong types are refused before anything runs).
  The figure commands draw several experiments and take ``--preset`` for all of them.
* Lists are space separated (``--systems pendulum two_body``, ``--seeds 0 1 2``), always with
  the plural name; ``--quiet`` turns progress bars off; ``--steps`` is always a trajectory's
  or a rollout's length, ``--budgets`` the training budgets of ``reproduce budget``.

The parser imports nothing heavy: a command's arguments are built only when it is named, and
the modules behind it (jax, diffrax) are imported when it runs, so ``locornn --help`` is quick.
Spellings of earlier versions (``locornn table --preset cpu``, ``--no-progress``, comma lists)
still work and print one line saying the current spelling.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import runpy
import sys

from locornn import __version__
from locornn.exits import guarded

COMMANDS = {
    "train": "train one experiment (resumes from checkpoints)",
    "eval": "held-out metrics and figures of a trained run",
    "reproduce": "the paper's tables and figures: table1, figure1, figure2, budget, ablation",
    "data": "generate or inspect data sets",
    "analyze": "analyse a trained run (waves, orientation, stability, state-probe, ...)",
    "bench": "run the timing benchmarks in benchmarks/ (e.g. --quick)",
}
REPRODUCE = {
    "table1": "Table 1: VPT of every Hamiltonian system x model x seed",
    "table1-diagnosis": "why a Table 1 row scores 0: trivial forecasts, frames, error curves",
    "figure1": "Figure 1: one quadrant per experiment (input, hidden z, prediction)",
    "figure2": "Figure 2: orientation maps and the domain-size sweep",
    "budget": "VPT against training steps (one run per seed, read at every budget)",
    "ablation": "which change moves VPT (hamiltonian) or the held-out loss (sequences)",
    "waves-table": "wave metrics of every experiment, untrained and trained",
    "runs-table": "a Markdown table of finished runs, from their files",
    "phase-screen": "rotating MNIST: which detail of the reference code shapes the wave's phase",
    "figure2-screen": "Figure 2: which recipe makes the lattice interact (figure2/sweep.csv)",
    "screen": "a table or figure of a screen of finished runs, from their files",
}
DEFAULT_CONFIG = "hamiltonian:cpu"


# ----------------------------------------------------------------------------------------------
# Spellings of earlier versions: rewritten to the current grammar, with one line saying so.
# ----------------------------------------------------------------------------------------------

_OLD_COMMANDS = {"table": ["reproduce", "table1"], "ablation": ["reproduce", "ablation"],
                 "budget": ["reproduce", "budget"]}
# (command path, old flag) -> new flag; a flag the new grammar dropped is handled in _modernize.
_OLD_FLAGS = {
    ("reproduce ablation", "--system"): "--systems", ("reproduce ablation", "--model"): "--models",
    ("reproduce budget", "--steps"): "--budgets", ("reproduce ablation", "--steps"):
    "--train-steps", ("data hamiltonian", "--system"): "--systems", ("data show", "--system"):
    "--systems", ("data hamiltonian", "--no-progress"): "--quiet",
}


def _modernize(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` in the current grammar, and whether it changed (an old spelling was used)."""
    argv, old = list(argv), False
    if argv and argv[0] in _OLD_COMMANDS:
        argv, old = _OLD_COMMANDS[argv[0]] + argv[1:], True
    elif argv[:1] == ["figures"] and len(argv) > 1:
        argv, old = ["reproduce"] + argv[1:], True
    path = " ".join(argv[:2])
    out, experiment, preset, at, i = [], None, None, None, 0
    while i < len(argv):
        arg, value = argv[i], None
        flag = arg.split("=", 1)[0]
        if "=" in arg and flag.startswith("--") and not flag.startswith("--config."):
            value = arg.split("=", 1)[1]
        if (path, flag) in _OLD_FLAGS:
            out.append(_OLD_FLAGS[path, flag] + ("" if value is None else f"={value}"))
            old = True
        elif path in ("reproduce table1", "reproduce budget", "reproduce ablation") and flag in (
                "--preset", "--experiment"):
            if value is None and i + 1 < len(argv):
                value, i = argv[i + 1], i + 1
            experiment, preset = (value, preset) if flag == "--experiment" else (experiment, value)
            at, old = len(out) if at is None else at, True
        elif path in ("reproduce figure1", "reproduce waves-table") and flag == "--experiments" \
                and i + 1 < len(argv) and "," in argv[i + 1]:
            out += [arg, *[e for e in argv[i + 1].split(",") if e]]
            i, old = i + 1, True
        else:
            out.append(arg)
        i += 1
    if experiment or preset:
        default_name, default_preset = DEFAULT_CONFIG.split(":")
        out[at:at] = ["--config", f"{experiment or default_name}:{preset or default_preset}"]
    return out, old


# ----------------------------------------------------------------------------------------------
# The commands
# ----------------------------------------------------------------------------------------------


def _split_overrides(extra: list[str]) -> tuple[list[str], list[str]]:
    """Separate ``--config.a.b=value`` (or ``--config.a.b value``) from other leftovers."""
    overrides, unknown, i = [], [], 0
    while i < len(extra):
        arg = extra[i]
        if arg.startswith("--config."):
            if "=" not in arg and i + 1 < len(extra) and not extra[i + 1].startswith("--"):
                arg, i = f"{arg}={extra[i + 1]}", i + 1
            overrides.append(arg)
        else:
            unknown.append(arg)
        i += 1
    return overrides, unknown


def _name_and_preset(spec: str) -> tuple[str, str]:
    """``NAME:PRESET`` split; a spec without a preset means the ``cpu`` preset."""
    name, _, preset = spec.partition(":")
    return name, preset or "cpu"


def _hamiltonian_only(spec: str, command: str) -> tuple[str, str]:
    """The preset of a command that runs only the Hamiltonian experiment (or a file like it)."""
    from locornn import configs

    name, preset = _name_and_preset(spec)
    if preset not in configs.PRESETS:
        raise configs.ConfigError(f"unknown preset {preset!r}; choose one of {configs.PRESETS}")
    if name != "hamiltonian" and not name.endswith(".py"):  # a file: one shaped like it
        raise configs.ConfigError(f"{command} runs the hamiltonian experiment; got --config "
                                  f"{spec!r} (e.g. --config hamiltonian:{preset})")
    return name, preset


def cmd_train(args) -> int:
    from locornn import configs, train

    def action():
        config = configs.load(args.config, args.overrides)
        workdir = pathlib.Path(args.workdir) if args.workdir \
            else train.default_workdir(config, args.runs_root)
        train.train_and_evaluate(config, workdir, progress=not args.quiet)

    return guarded(action)


def cmd_eval(args) -> int:
    from locornn import checkpoints, train
    from locornn.data import fingerprint

    def action():
        run_dir = pathlib.Path(args.run_dir)
        config, task, state = checkpoints.load_run(run_dir, data_override=args.data_override,
                                             overrides=tuple(args.overrides))
        trained_on = fingerprint.read_record(run_dir)
        # on other data the results go to their own folder: the run's files stay its own
        other = not fingerprint.same_data(trained_on, task.data)
        out = run_dir / f"eval_{fingerprint.label(task.data).replace(':', '_')}" if other \
            else run_dir
        out.mkdir(exist_ok=True)
        result = {"step": int(state.step), "split": "test", "data": task.data,
                  "trained_on": trained_on, **task.final(state.params, out)}
        print(json.dumps(result))
        if other:
            (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
        else:
            train.write_figures(config, task, state.params, run_dir)

    return guarded(action)


def cmd_bench(args) -> int:
    scripts = sorted(pathlib.Path(args.dir).glob("bench_*.py"))
    if not scripts:
        print(f"locornn: no bench_*.py under {args.dir!r} (run from the repository root, or "
              f"pass --dir)", file=sys.stderr)
        return 2
    for script in scripts:
        print(f"== {script}", flush=True)
        saved_argv, sys.argv = sys.argv, [str(script), *args.args]
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as exit_:  # a script's sys.exit(0) must not end the others
            if exit_.code not in (None, 0):
                return int(exit_.code) if isinstance(exit_.code, int) else 1
        finally:
            sys.argv = saved_argv
    return 0


def _report(path: pathlib.Path) -> None:
    print(path.read_text())
    print(f"wrote {path} and {path.with_suffix('.csv')}")


def cmd_table1(args) -> int:
    def action():
        from locornn.reproduce import table

        name, preset = _hamiltonian_only(args.config, "reproduce table1")
        _report(table.build_table(
            preset, seeds=tuple(args.seeds), systems=tuple(args.systems),
            models=tuple(args.models), root=args.runs_root, results=args.results_dir,
            experiment=name, overrides=args.overrides, vmap_seeds=args.vmap_seeds,
            progress=not args.quiet))

    return guarded(action)


def cmd_table1_diagnosis(args) -> int:
    def action():
        from locornn.reproduce import table_diagnosis

        name, preset = _hamiltonian_only(args.config, "reproduce table1-diagnosis")
        _report(table_diagnosis.diagnose(
            preset, systems=tuple(args.systems), models=tuple(args.models), seed=args.seed,
            root=args.runs_root, results=args.results_dir, experiment=name,
            overrides=args.overrides, progress=not args.quiet, train_missing=not args.no_train))

    return guarded(action)


def cmd_ablation(args) -> int:
    def action():
        from locornn.reproduce import ablation, sequence_ablation

        name, preset = _name_and_preset(args.config)
        # a misspelt variant: one line (ConfigError) before any training
        check = (sequence_ablation.describe if name in sequence_ablation.EXPERIMENTS
                 else ablation.overrides)
        for variant in args.variants or ():
            check(variant)
        if name in sequence_ablation.EXPERIMENTS:
            _report(sequence_ablation.run_ablation(
                name, preset, steps=args.train_steps,
                variants=tuple(args.variants or sequence_ablation.VARIANTS),
                seed=args.seeds[0], root=args.runs_root, results=args.results_dir,
                extra_overrides=args.overrides, progress=not args.quiet))
            return
        _, preset = _hamiltonian_only(args.config, "reproduce ablation")
        for system in args.systems:
            for model in args.models:
                _report(ablation.run_ablation(
                    preset, variants=tuple(args.variants or ablation.VARIANTS), system=system,
                    model=model, seeds=tuple(args.seeds), root=args.runs_root,
                    results=args.results_dir, extra_overrides=args.overrides,
                    progress=not args.quiet))

    return guarded(action)


def cmd_budget(args) -> int:
    def action():
        from locornn.reproduce import budget

        _, preset = _hamiltonian_only(args.config, "reproduce budget")
        _report(budget.build_curves(
            preset, budgets=tuple(args.budgets), systems=tuple(args.systems),
            models=tuple(args.models), seeds=tuple(args.seeds), root=args.runs_root,
            results=args.results_dir, overrides=args.overrides, progress=not args.quiet,
            train_missing=not args.no_train))

    return guarded(action)


def cmd_phase_screen(args) -> int:
    def action():
        from locornn.reproduce import phase_screen

        for seed in args.seeds:
            _report(phase_screen.run_screen(
                mnist_dir=args.mnist_dir, sources=tuple(args.sources),
                variants=tuple(args.variants or phase_screen.VARIANTS), seed=seed,
                steps=args.train_steps or 0, root=args.runs_root, results=args.results_dir,
                progress=not args.quiet, train_missing=not args.no_train))

    return guarded(action, ValueError)


# ----------------------------------------------------------------------------------------------
# The parser: each command's arguments are added only when that command is named.
# ----------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """A command-line error (unknown flag, a value outside its flag's domain) is one line on
    stderr and exit status 2, as every other error the commands report."""

    def error(self, message: str):
        self.exit(2, f"locornn: {message} (see {self.prog} --help)\n")


def _parser(sub, name: str, help: str, description: str | None = None):
    return sub.add_parser(name, help=help, description=description or help[0].upper() + help[1:]
                          + ".", allow_abbrev=False)


def _where(p) -> None:
    from locornn.configs.domains import path_flag

    p.add_argument("--runs-root", default="runs", metavar="DIR", type=path_flag(),
                   help="where runs live: DIR/<experiment>/<preset>/... (default: runs)")
    p.add_argument("--results-dir", default="results", metavar="DIR", type=path_flag(),
                   help="where tables and figures are written (default: results)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _config(p, default: str | None, what: str) -> None:
    from locornn.configs.domains import Text, flag

    p.add_argument("--config", default=default, required=default is None, metavar="NAME:PRESET",
                   type=flag(Text(empty=False), str),
                   help=f"{what}: a packaged experiment (hamiltonian, waves, noise, orientation, "
                        f"rotating_mnist, video) or a file path, and a preset (smoke, cpu, paper, "
                        f"reference)" + (f" (default: {default})" if default else ""))


def _hamiltonian_lists(p, systems, models, seeds) -> None:
    from locornn.configs import field_flag
    from locornn.data.hamiltonian.systems import SYSTEMS
    from locornn.models.forecasting import KINDS

    p.add_argument("--systems", nargs="+", default=list(systems), choices=SYSTEMS,
                   metavar="SYSTEM", help=f"Hamiltonian systems, of {' '.join(SYSTEMS)} "
                                          f"(default: {' '.join(systems)})")
    p.add_argument("--models", nargs="+", default=list(models), choices=KINDS, metavar="MODEL",
                   help=f"recurrent cores, of {' '.join(KINDS)} (default: {' '.join(models)})")
    p.add_argument("--seeds", type=field_flag("seed"), nargs="+", default=list(seeds),
                   metavar="SEED",
                   help=f"training seeds (default: {' '.join(map(str, seeds))})")


class _HelpConfig(argparse.Action):
    """``--help-config``: every config field with its default, allowed values and meaning."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from locornn.configs import schema

        print(schema.fields_text())
        parser.exit()


def _add_train(p) -> None:
    from locornn.configs.domains import path_flag

    _config(p, None, "the experiment to train, e.g. hamiltonian:cpu")
    p.add_argument("--help-config", action=_HelpConfig,
                   help="list every config field (--config.<section>.<key>) with its default, "
                        "allowed values and meaning, and exit")
    p.add_argument("--workdir", metavar="DIR", type=path_flag(),
                   help="where the run goes (default: RUNS_ROOT/<experiment>/<preset>/<seed>)")
    p.add_argument("--runs-root", default="runs", metavar="DIR", type=path_flag(),
                   help="where runs live when --workdir is not given (default: runs)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train, takes_overrides=True)


def _add_eval(p) -> None:
    from locornn.configs.domains import path_flag

    p.description = ("Evaluate a run's newest intact checkpoint on the data it was trained on. "
                     "--config.data.*=... with --data-override evaluates it on other data on "
                     "purpose (into RUN_DIR/eval_<data>/).")
    p.add_argument("run_dir", metavar="RUN_DIR", type=path_flag(),
                   help="a trained run's directory (config.json, checkpoints)")
    p.add_argument("--data-override", action="store_true",
                   help="evaluate on data other than the run's own (into RUN_DIR/eval_<data>/)")
    p.set_defaults(func=cmd_eval, takes_overrides=True)


def _add_bench(p) -> None:
    from locornn.configs.domains import path_flag

    p.add_argument("--dir", default="benchmarks", metavar="DIR", type=path_flag(),
                   help="the folder of bench_*.py scripts (default: benchmarks); any other "
                        "flag (e.g. --quick) is passed to every script")
    p.set_defaults(func=cmd_bench, passthrough=True)


def _add_reproduce(p, chosen: str | None) -> None:
    from locornn.configs import field_flag
    from locornn.configs.domains import Text, at_least, flag, path_flag

    steps = flag(at_least(1), int)
    inner = p.add_subparsers(dest="artifact", required=True, metavar="ARTIFACT")
    for name, help in REPRODUCE.items():
        q = _parser(inner, name, help)
        if name != chosen:
            continue
        if name == "table1":
            q.description = ("Train (or reuse) every run of Table 1 and write "
                             "RESULTS_DIR/table1_<preset>_<N>frame.md/.csv/.png (N: frames per "
                             "test trajectory). --config.* overrides apply "
                             "to every run.")
            _config(q, DEFAULT_CONFIG, "the Hamiltonian experiment and preset")
            from locornn.data.hamiltonian.systems import SYSTEMS
            from locornn.models.forecasting import KINDS
            _hamiltonian_lists(q, SYSTEMS, KINDS, (0, 1, 2))
            q.add_argument("--vmap-seeds", action="store_true",
                           help="train a cell's missing seeds together with jax.vmap")
            _where(q)
            q.set_defaults(func=cmd_table1, takes_overrides=True)
        elif name == "table1-diagnosis":
            from locornn.configs import field_flag
            from locornn.data.hamiltonian.systems import SYSTEMS
            from locornn.models.forecasting import KINDS

            q.description = (
                "Train (or reuse) one seed's run of each system x model as `reproduce table1` "
                "does, then write RESULTS_DIR/diagnosis.md/.csv/.png and diagnosis_curves.npz: "
                "trivial forecasts (last frame read, frame before VPT's first, mean training "
                "frame, black) against the VPT threshold, frame statistics, and each model's "
                "reconstruction, first-forecast and per-step error. --config.* overrides apply "
                "to every run.")
            _config(q, DEFAULT_CONFIG, "the Hamiltonian experiment and preset")
            q.add_argument("--systems", nargs="+", default=["pendulum", "double_pendulum",
                                                            "rock_paper_scissors",
                                                            "matching_pennies"],
                           choices=SYSTEMS, metavar="SYSTEM",
                           help=f"of {' '.join(SYSTEMS)} (default: the four rows that score 0)")
            q.add_argument("--models", nargs="*", default=["locornn", "lstm"], choices=KINDS,
                           metavar="MODEL", help=f"of {' '.join(KINDS)}; none: trivial "
                                                 f"forecasts and frames only (default: locornn "
                                                 f"lstm)")
            q.add_argument("--seed", type=field_flag("seed"), default=0, metavar="SEED",
                           help="training seed (default: 0)")
            q.add_argument("--no-train", action="store_true",
                           help="diagnose the finished runs; train nothing")
            _where(q)
            q.set_defaults(func=cmd_table1_diagnosis, takes_overrides=True)
        elif name == "budget":
            _config(q, DEFAULT_CONFIG, "the Hamiltonian experiment and preset")
            q.add_argument("--budgets", type=steps, nargs="+", default=[1200, 4800, 19200],
                           metavar="STEPS", help="training steps at which VPT is read "
                                                 "(default: 1200 4800 19200)")
            _hamiltonian_lists(q, ("mass_spring", "pendulum"), ("locornn", "lstm", "node"),
                               (0, 1, 2))
            q.add_argument("--no-train", action="store_true",
                           help="tabulate the budgets already finished; train nothing")
            _where(q)
            q.set_defaults(func=cmd_budget, takes_overrides=True)
        elif name == "ablation":
            from locornn.reproduce.ablation import VARIANTS
            from locornn.reproduce.sequence_ablation import EXPERIMENTS
            from locornn.reproduce.sequence_ablation import VARIANTS as SEQUENCE_VARIANTS

            q.description = (
                "Train (or reuse) every ablation variant and write RESULTS_DIR/ablation_*.md/"
                ".csv. With --config hamiltonian:PRESET: one table per system x model (VPT). "
                f"With --config {'|'.join(EXPERIMENTS)}:PRESET: why a sequence experiment "
                "learns what it does (held-out MSE against the mean frame, waves in z). "
                "Variants: see --variants.")
            _config(q, DEFAULT_CONFIG, "the experiment and preset to ablate")
            _hamiltonian_lists(q, ("mass_spring",), ("locornn",), (0,))
            q.add_argument(
                "--variants", nargs="+", default=None, metavar="VARIANT",
                type=flag(Text(empty=False), str),
                help="default: all of the experiment's. Hamiltonian: "
                     + "; ".join(f"{k} ({v[0]})" for k, v in VARIANTS.items())
                     + ". Sequences (several may be joined by '+': all their changes at "
                       "once): " + "; ".join(f"{k} ({v[0]})"
                                             for k, v in SEQUENCE_VARIANTS.items()))
            q.add_argument("--train-steps", type=steps, default=1000, metavar="N",
                           help="training steps of each sequence variant (default 1000; the "
                                "Hamiltonian variants train for their preset's steps)")
            _where(q)
            q.set_defaults(func=cmd_ablation, takes_overrides=True)
        elif name == "phase-screen":
            from locornn.reproduce import phase_screen

            q.description = (
                "Train (or reuse) the rotating-MNIST reference preset with each group of the "
                "reference code's details turned on from locornn's defaults, on each digit "
                "source, at a screening budget; measure the band-passed phase of each run "
                "(wavelength, neighbour phase difference, plane-wave fraction) and write "
                "RESULTS_DIR/phase_screen_rotating_mnist_seed<SEED>.md/.csv.")
            q.add_argument("--mnist-dir", default="", metavar="DIR",
                           type=path_flag("dir", empty=True),
                           help="a folder of MNIST-format IDX files (MNIST, Fashion-MNIST) for "
                                "the 'idx' source")
            q.add_argument("--sources", nargs="+", default=list(phase_screen.SOURCES),
                           choices=phase_screen.SOURCES,
                           help="digit sources: idx (--mnist-dir) and/or digits (built in)")
            q.add_argument("--variants", nargs="+", default=None, type=flag(Text(empty=False), str),
                           choices=list(
                phase_screen.VARIANTS), metavar="VARIANT", help="default: all; " + "; ".join(
                    f"{k} ({v[0]})" for k, v in phase_screen.VARIANTS.items()))
            q.add_argument("--seeds", type=field_flag("seed"), nargs="+", default=[0],
                           metavar="SEED",
                           help="one screen per seed, each its own table (default: 0)")
            q.add_argument("--train-steps", type=steps, default=None, metavar="N",
                           help=f"training steps of each run (default "
                                f"{phase_screen.SCREEN['train.num_steps']})")
            q.add_argument("--no-train", action="store_true",
                           help="tabulate the finished runs; train nothing")
            _where(q)
            q.set_defaults(func=cmd_phase_screen)
        elif name == "figure2-screen":
            from locornn.reproduce import figure2_screen

            figure2_screen.add_arguments(q)
        elif name == "screen":
            from locornn.reproduce import screens

            screens.add_arguments(q)
        else:
            from locornn.reproduce import figures

            figures.add_arguments(q, name)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the command that ``argv`` names gets its arguments (and imports)."""
    argv = sys.argv[1:] if argv is None else argv
    words = [a for a in argv if not a.startswith("-")]
    chosen = words[0] if words else None
    parser = _Parser(
        prog="locornn", allow_abbrev=False,
        description="Locally coupled oscillatory recurrent networks (LocoRNN). "
                    "`locornn COMMAND --help` says more.",
        epilog="examples: locornn train --config hamiltonian:cpu | "
               "locornn reproduce table1 --config hamiltonian:smoke")
    parser.add_argument("--version", action="version", version=f"locornn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help in COMMANDS.items():
        if name == chosen and name in ("data", "analyze"):
            if name == "data":
                from locornn.data.hamiltonian.commands import add_data_commands
                add_data_commands(sub)
            else:
                from locornn.analysis.commands import add_analyze_commands
                add_analyze_commands(sub)
            continue
        p = _parser(sub, name, help)
        if name != chosen:
            continue
        if name == "reproduce":
            _add_reproduce(p, words[1] if len(words) > 1 else None)
        else:
            {"train": _add_train, "eval": _add_eval, "bench": _add_bench}[name](p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    argv, old = _modernize(argv)
    if old:
        print(f"locornn: deprecated spelling; it now reads: locornn {' '.join(argv)}",
              file=sys.stderr)
    parser = build_parser(argv)
    try:
        args, extra = parser.parse_known_args(argv)
        if getattr(args, "passthrough", False):
            args.args, extra = extra, []
        overrides, unknown = _split_overrides(extra)
        if unknown or (overrides and not getattr(args, "takes_overrides", False)):
            parser.error(f"unrecognized arguments: {' '.join(unknown + overrides)}")
    except SystemExit as exit_:  # --help and --version exit 0; a bad flag returns 2
        if exit_.code == 2:
            return 2
        raise
    args.overrides = overrides
    return guarded(lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
