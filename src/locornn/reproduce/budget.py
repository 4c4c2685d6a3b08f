"""VPT against training steps (``locornn reproduce budget``): is a model's rank a budget effect?

For every system x model x seed, one run is trained to the first budget, evaluated (VPT on the
held-out long trajectories), resumed to the next budget, evaluated again, and so on. With a
constant learning rate (``train.schedule = "constant"``, required) the state after ``n`` steps
of a longer run *is* the state of an ``n``-step run (same initialisation, same batches, since
batches are a pure function of ``(seed, step)``), so this costs one run of the largest budget
instead of one run per budget. Each budget's summary is kept as ``summary_<steps>.json`` in the
run's folder ``runs/budget/hamiltonian/<preset>/<system>/<model>/<seed>/``, so the command can
be interrupted and restarted.

Writes ``results/vpt_vs_steps_<preset>.md``, ``.csv`` and ``.png`` (one panel per system,
VPT mean and spread over seeds against steps, per model). The markdown states the largest VPT
the protocol can measure (:func:`locornn.tasks.vpt_cap`) and, for the oscillator cores, a
second table of the lattice's free decay time (:mod:`locornn.analysis.lattice.free_decay`) and
learned ``alpha`` at every budget: does VPT track the decay? The CSV has one row per run and budget,
with ``alpha``, ``dt``, ``gamma`` and ``free_decay_steps`` (``inf``: not within
``free_decay_horizon`` steps; NaN: not an oscillator core).
"""

from __future__ import annotations

import json
import pathlib
import shutil

import numpy as np
from tqdm.auto import tqdm

from locornn import configs, plots, train
from locornn.reproduce import table


def _budget_summaries(preset, system, model, seed, budgets, *, root, overrides, progress,
                      train_missing=True):
    """Train one run through ``budgets`` (ascending); return ``{steps: summary}``, each with
    its config's :func:`~locornn.reproduce.table.evaluation_protocol`. Without
    ``train_missing``, only the budgets already finished."""
    found = {}
    for steps in budgets:
        config = table.cell_config(preset, system, model, seed, table.EXPERIMENT,
                                   [*overrides, f"--config.train.num_steps={steps}"])
        if config.train.schedule != "constant":
            raise configs.ConfigError(
                "budget curves read every budget off one run, which needs a constant learning "
                f"rate ('train.schedule' = 'constant', got {config.train.schedule!r})")
        workdir = train.default_workdir(config, f"{root}/budget")
        # before any reuse: a kept summary of another config must never lend its number
        train.require_same_config(config, workdir, "remove it or give another --runs-root")
        kept = workdir / f"summary_{steps}.json"
        if not kept.exists() and not train_missing:
            continue
        if not kept.exists():
            train.train_and_evaluate(config, workdir, progress=progress)
            shutil.copyfile(workdir / "summary.json", kept)
        found[steps] = {**json.loads(kept.read_text()), **table.evaluation_protocol(config)}
    return found


def build_curves(preset: str, *, budgets=(1200, 4800, 19200), systems=("mass_spring",
                 "pendulum"), models=("locornn", "lstm", "node"), seeds=(0, 1, 2), root="runs",
                 results="results", overrides=(), progress=True,
                 train_missing=True) -> pathlib.Path:
    """Train what is missing and write ``results/vpt_vs_steps_<preset>.{md,csv,png}``.

    ``train_missing=False`` (``--no-train``) tabulates only the budgets already finished (a
    missing point is left out of the figure and shown as "not run" in the table)."""
    budgets = sorted(set(budgets))
    if not budgets or budgets[0] < 1:
        raise configs.ConfigError(f"budgets must be positive step counts, got {budgets}")
    rows = []
    jobs = [(s, m, seed) for s in systems for m in models for seed in seeds]
    for system, model, seed in jobs:  # every run's config is checked before the first trains
        table.cell_config(preset, system, model, seed, table.EXPERIMENT,
                          [*overrides, f"--config.train.num_steps={budgets[-1]}"])
    for number, (system, model, seed) in enumerate(jobs, 1):
        if progress:
            tqdm.write(f"budget [{number}/{len(jobs)}] {system} x {model}, seed {seed}, "
                       f"steps {budgets}")
        for steps, summary in _budget_summaries(preset, system, model, seed, budgets,
                                                root=root, overrides=overrides,
                                                progress=progress,
                                                train_missing=train_missing).items():
            rows.append({"system": system, "model": model, "seed": seed, "steps": steps,
                         "vpt": summary["test"]["vpt"], "mse": summary["test"]["mse"],
                         "vpt_start": summary["vpt_start"], "vpt_cap": summary["vpt_cap"],
                         "test_frames": summary["test_frames"],
                         **table.core_diagnostics([summary]),
                         "data": table.data_label([summary])})
    stem = pathlib.Path(results) / f"vpt_vs_steps_{preset}"
    if rows:
        table.write_csv(stem.with_suffix(".csv"), rows)
    curves = {}  # system -> model -> [(steps, mean, std)]
    protocols = {f"{table.MODEL_NAMES[r['model']]}": r for r in rows}
    lines = [f"# VPT against training steps, preset `{preset}`", "",
             f"Mean (std) over seeds {list(seeds)} of each run's median VPT over its held-out "
             f"test trajectories; one run per seed, read at every budget. "
             + (table.cap_note(protocols) if rows else "No budget has finished yet."), ""]

    def vpt_cell(system, model, steps, runs):
        vpts = [r["vpt"] for r in runs]
        curves.setdefault(system, {}).setdefault(model, []).append(
            (steps, float(np.mean(vpts)), float(np.std(vpts))))
        seeds_note = "" if len(vpts) == len(seeds) else f" [{len(vpts)} seeds]"
        return f"{np.mean(vpts):.1f} ({np.std(vpts):.1f}){seeds_note}"

    lines += _budget_table(rows, systems, models, budgets, vpt_cell)
    lines += _decay_table(rows, systems, models, budgets)
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    plots.vpt_curves({table.SYSTEM_NAMES[s]: {table.MODEL_NAMES[m]: c for m, c in v.items()}
                      for s, v in curves.items()}, stem.with_suffix(".png"),
                     title=f"VPT against training steps, preset {preset}, seeds {list(seeds)}")
    return stem.with_suffix(".md")


def _cell(rows: list[dict], system: str, model: str, steps: int) -> list[dict]:
    return [r for r in rows if (r["system"], r["model"], r["steps"]) == (system, model, steps)]


def _budget_table(rows, systems, models, budgets, cell) -> list[str]:
    """Markdown lines of a system x model by budget table: ``cell(system, model, steps, runs)``
    writes each cell that has runs, "not run" the others."""
    lines = ["| system | model | " + " | ".join(f"{b:,} steps" for b in budgets) + " |",
             "|---|---|" + "---:|" * len(budgets)]
    for system in systems:
        for model in models:
            cells = []
            for steps in budgets:
                runs = _cell(rows, system, model, steps)
                cells.append(cell(system, model, steps, runs) if runs else "not run")
            lines.append(f"| {table.SYSTEM_NAMES[system]} | {table.MODEL_NAMES[model]} | "
                         + " | ".join(cells) + " |")
    return lines


def _decay_table(rows, systems, models, budgets) -> list[str]:
    """Markdown lines: the oscillator cores' free decay and learned alpha at every budget
    (nothing when no oscillator core was run), to read beside their VPT."""
    oscillators = [m for m in models if any(not np.isnan(r["alpha"]) for r in rows
                                            if r["model"] == m)]
    if not oscillators:
        return []
    lines = ["", "Oscillator cores: free decay of the lattice from the inferred initial states, "
             "drive off (steps to 1/e of the starting amplitude; median over test "
             "trajectories, then over seeds; `> N`: not within the N-step horizon, `end r x`: "
             "the amplitude at the horizon is r times the start), and the learned damping "
             "alpha (mean over seeds). See `locornn.analysis.lattice.free_decay`.", ""]
    return lines + _budget_table(rows, systems, oscillators, budgets, _decay_cell)


def _decay_cell(system, model, steps, runs) -> str:
    """The median free decay over a budget's runs and their mean learned alpha."""
    decay = {key: float(np.median([r[key] for r in runs]))
             for key in ("free_decay_steps", "free_end_amplitude")}
    decay["free_decay_horizon"] = min(r["free_decay_horizon"] for r in runs)
    alpha = np.mean([r["alpha"] for r in runs])
    return f"{table.decay_cell(decay)} (alpha {alpha:.2f})"
