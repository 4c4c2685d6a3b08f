"""The command line: ``locornn train|eval|table|bench|data|analyze|figures``.

``locornn train --config experiments/waves.py:cpu --config.model.lattice=48`` trains any
experiment with any field overridden (``ml_collections`` syntax; unknown keys and wrong types
are refused before anything runs).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import runpy
import sys

from locornn import __version__
from locornn.exits import guarded


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


def cmd_train(args) -> int:
    from locornn import configs, train

    def action():
        config = configs.load(args.config, args.overrides)
        workdir = pathlib.Path(args.workdir) if args.workdir \
            else train.default_workdir(config, args.runs_root)
        train.train_and_evaluate(config, workdir, progress=not args.quiet)

    return guarded(action)


def cmd_eval(args) -> int:
    from locornn import train
    from locornn.data import fingerprint

    def action():
        run_dir = pathlib.Path(args.run_dir)
        config, task, state = train.load_run(run_dir, data_override=args.data_override,
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
        print(f"locornn: no benchmarks/bench_*.py under {args.dir!r} (run from the repository "
              f"root, or pass --dir)", file=sys.stderr)
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


def cmd_table(args) -> int:
    from locornn import table

    return guarded(lambda: _report(table.build_table(
        args.preset, seeds=tuple(args.seeds), systems=tuple(args.systems),
        models=tuple(args.models), root=args.runs_root, results=args.results_dir,
        overrides=args.overrides, vmap_seeds=args.vmap_seeds, progress=not args.quiet)))


def cmd_ablation(args) -> int:
    from locornn import ablation, sequence_ablation

    if args.experiment != "hamiltonian":
        return guarded(lambda: _report(sequence_ablation.run_ablation(
            args.experiment, args.preset, steps=args.steps,
            variants=tuple(args.variants or sequence_ablation.VARIANTS), seed=args.seeds[0],
            root=args.runs_root, results=args.results_dir, extra_overrides=args.overrides,
            progress=not args.quiet)))
    return guarded(lambda: _report(ablation.run_ablation(
        args.preset, variants=tuple(args.variants or ablation.VARIANTS), system=args.system,
        model=args.model,
        seeds=tuple(args.seeds), root=args.runs_root, results=args.results_dir,
        extra_overrides=args.overrides, progress=not args.quiet)))


def cmd_budget(args) -> int:
    from locornn import budget

    return guarded(lambda: _report(budget.build_curves(
        args.preset, budgets=tuple(args.steps), systems=tuple(args.systems),
        models=tuple(args.models), seeds=tuple(args.seeds), root=args.runs_root,
        results=args.results_dir, overrides=args.overrides, progress=not args.quiet,
        train_missing=not args.no_train)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="locornn", description="Locally coupled oscillatory recurrent networks.")
    parser.add_argument("--version", action="version", version=f"locornn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train an experiment (resumes from checkpoints)",
                       description="Train an experiment. Override any field with "
                                   "--config.<section>.<key>=<value>.")
    p.add_argument("--config", required=True, metavar="FILE[:PRESET]",
                   help="experiment file and preset, e.g. experiments/waves.py:cpu")
    p.add_argument("--workdir", help="default: RUNS_ROOT/<experiment>/<preset>/<seed>")
    p.add_argument("--runs-root", default="runs",
                   help="where runs live when --workdir is not given (default: runs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train, takes_overrides=True)

    p = sub.add_parser("eval", help="held-out metrics and figures of a trained run",
                       description="Evaluate a run's newest intact checkpoint on the data it was "
                                   "trained on. --config.data.*=... with --data-override "
                                   "evaluates it on other data on purpose.")
    p.add_argument("run_dir")
    p.add_argument("--data-override", action="store_true",
                   help="evaluate on data other than the run's own (into RUN_DIR/eval_<data>/)")
    p.set_defaults(func=cmd_eval, takes_overrides=True)

    from locornn.data.hamiltonian import SYSTEMS
    from locornn.table import MODELS

    p = sub.add_parser("table", help="Table 1: VPT of every system x model x seed",
                       description="Train (or reuse) every run of Table 1 and write "
                                   "results/table1_<preset>.md/.csv. --config.* overrides "
                                   "apply to every run.")
    p.add_argument("--preset", default="cpu")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--runs-root", default="runs")
    p.add_argument("--results-dir", default="results")
    p.add_argument("--vmap-seeds", action="store_true",
                   help="train a cell's missing seeds together with jax.vmap (one process)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_table, takes_overrides=True)

    from locornn.ablation import VARIANTS
    from locornn.sequence_ablation import EXPERIMENTS as SEQUENCE_EXPERIMENTS
    from locornn.sequence_ablation import VARIANTS as SEQUENCE_VARIANTS

    p = sub.add_parser("ablation", help="which change moves VPT: one run set per variant",
                       description="Train (or reuse) every ablation variant of one "
                                   "Hamiltonian cell and write results/ablation_<preset>_"
                                   "<system>_<model>_seed<seeds>.md/.csv. Variants: "
                                   + "; ".join(f"{k}: {v[0]}" for k, v in VARIANTS.items()))
    p.add_argument("--experiment", default="hamiltonian",
                   choices=("hamiltonian", *SEQUENCE_EXPERIMENTS),
                   help="hamiltonian (default; VPT of one system x model) or a sequence "
                        "experiment (why it learns nothing at a preset: held-out MSE against the "
                        "mean frame, waves in z; variants: " + ", ".join(SEQUENCE_VARIANTS) + ")")
    p.add_argument("--steps", type=int, default=1000,
                   help="training steps of each variant (sequence experiments; default 1000)")
    p.add_argument("--preset", default="cpu")
    p.add_argument("--variants", nargs="+", default=None,
                   choices=sorted({*VARIANTS, *SEQUENCE_VARIANTS}), help="default: all")
    p.add_argument("--system", default="mass_spring", choices=SYSTEMS)
    p.add_argument("--model", default="locornn", choices=MODELS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--runs-root", default="runs")
    p.add_argument("--results-dir", default="results")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_ablation, takes_overrides=True)

    p = sub.add_parser("budget", help="VPT against training steps (one run per seed, read at "
                                      "every budget)")
    p.add_argument("--preset", default="cpu")
    p.add_argument("--steps", type=int, nargs="+", default=[1200, 4800, 19200])
    p.add_argument("--systems", nargs="+", default=["mass_spring", "pendulum"], choices=SYSTEMS)
    p.add_argument("--models", nargs="+", default=["locornn", "lstm", "node"], choices=MODELS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--runs-root", default="runs")
    p.add_argument("--results-dir", default="results")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--no-train", action="store_true",
                   help="tabulate the budgets already finished; train nothing")
    p.set_defaults(func=cmd_budget, takes_overrides=True)

    p = sub.add_parser("bench", help="run the timing benchmarks in benchmarks/ (e.g. --quick)")
    p.add_argument("--dir", default="benchmarks")
    p.set_defaults(func=cmd_bench, passthrough=True)  # other flags (--quick) go to the scripts

    from locornn import figures
    from locornn.analysis.commands import add_analyze_commands
    from locornn.data.hamiltonian.commands import add_data_commands

    add_data_commands(sub)
    add_analyze_commands(sub)
    figures.add_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "passthrough", False):
        args.args, extra = extra, []
    overrides, unknown = _split_overrides(extra)
    if unknown or (overrides and not getattr(args, "takes_overrides", False)):
        parser.error(f"unrecognized arguments: {' '.join(unknown + overrides)}")
    args.overrides = overrides
    return guarded(lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
