"""The paper's Table 1: VPT of every Hamiltonian-suite system x model x seed, in one command.

``locornn reproduce table1 --config hamiltonian:cpu`` (``make table PRESET=cpu``) trains each
cell's runs with the packaged ``hamiltonian`` experiment (``data.system`` and ``model.kind`` set
per cell, ``seed`` per run) into ``runs/hamiltonian/<preset>/<system>/<model>/<seed>/`` (where
``make train`` puts them too) and writes ``results/table1_<preset>_<N>frame.md`` and ``.csv``
(``N``: the frames of a test trajectory, the protocol VPT is scored on): VPT mean
(std) over seeds of each run's median VPT, the paper's numbers beside ours, the largest VPT the
protocol can measure (:func:`locornn.tasks.vpt_cap`), parameter counts and training time per
model, and for the oscillator cores the lattice's free decay time and learned ``alpha``
(:mod:`locornn.analysis.lattice.free_decay`).

A run whose ``summary.json`` exists (trained for ``train.num_steps``) is finished and reused, so
the command can be interrupted and restarted (a half-finished run resumes from its checkpoint).
A run of a different config in a cell's folder (say, from an older preset) stops the table
with the differing keys named, rather than reporting a number from another setting.
"""

from __future__ import annotations

import csv
import itertools
import json
import pathlib

import numpy as np
from tqdm.auto import tqdm

from locornn import configs, plots, tasks, train
from locornn.data import fingerprint
from locornn.data.hamiltonian import SYSTEMS

MODELS = ("locornn", "cornn", "lstm", "node", "hgn")
MODEL_NAMES = {"locornn": "LocoRNN", "cornn": "coRNN", "lstm": "LSTM", "node": "Neural ODE",
               "hgn": "HGN++"}
SYSTEM_NAMES = {"mass_spring": "Spring", "pendulum": "Pendulum",
                "double_pendulum": "Double pendulum", "two_body": "Two body",
                "rock_paper_scissors": "RPS", "matching_pennies": "Pennies"}

# Paper, Table 1 (DESIGN.md section 4): VPT in steps, mean (std) of 3 runs.
PAPER = {
    "mass_spring": {"HGN++": (447, 0), "ODE": (430, 26), "LSTM": (302, 63),
                    "LocoRNN": (311.8, 27)},
    "pendulum": {"HGN++": (105, 21), "ODE": (212, 65), "LSTM": (3, 4), "LocoRNN": (155.1, 24)},
    "double_pendulum": {"HGN++": (11, 5), "ODE": (22, 7), "LSTM": (0, 0), "LocoRNN": (9, 9)},
    "two_body": {"HGN++": (444, 3), "ODE": (439, 11), "LSTM": (263, 92), "LocoRNN": (413, 53)},
    "rock_paper_scissors": {"HGN++": (141, 23), "ODE": (124, 23), "LSTM": (77, 15),
                            "LocoRNN": (133, 18)},
    "matching_pennies": {"HGN++": (79, 6), "ODE": (164, 14), "LSTM": (118, 25),
                         "LocoRNN": (141, 37)},
}
# The paper's columns under our models' names where they differ (HGN++, LSTM and LocoRNN are
# spelt alike; coRNN is not in the paper): the bar chart marks each model's published VPT.
_PAPER_COLUMN = {"ODE": "Neural ODE"}
EXPERIMENT = "hamiltonian"  # the packaged experiment (locornn/experiments/hamiltonian.py)


def published(system: str) -> dict[str, tuple[float, float]]:
    """The paper's VPT mean and std for ``system``, keyed by our models' display names."""
    return {_PAPER_COLUMN.get(column, column): vpt for column, vpt in PAPER[system].items()}


def core_overrides(experiment, preset: str, model: str) -> list[str]:
    """The experiment's per-core protocol for a preset (``CORE_OVERRIDES[preset][model]`` in the
    experiment file, as ``--config.*`` overrides): what the table, the ablation and the budget
    curves train a core with unless told otherwise. Empty if the experiment declares none."""
    module = configs.experiment_module(experiment)
    fields = getattr(module, "CORE_OVERRIDES", {}).get(preset, {}).get(model, {})
    return [f"--config.{key}={value}" for key, value in fields.items()]


def cell_config(preset, system, model, seed, experiment, overrides):
    """A cell's config: preset, the core's own protocol, then ``overrides`` (which win)."""
    return configs.load(f"{experiment}:{preset}", [
        f"--config.data.system={system}", f"--config.model.kind={model}",
        f"--config.seed={seed}", *core_overrides(experiment, preset, model), *overrides])


def run_cell(preset: str, system: str, model: str, seeds, *, root="runs",
             experiment=EXPERIMENT, overrides=(), vmap_seeds=False, progress=True) -> list[dict]:
    """Train (or reuse) one cell's runs and return their ``summary.json`` contents.

    A run with a ``summary.json`` for ``train.num_steps`` is finished and reused. With
    ``vmap_seeds`` the missing seeds are trained together in one process
    (:func:`locornn.reproduce.seeds.train_seeds`).
    """
    configs_by_seed = {seed: cell_config(preset, system, model, seed, experiment, overrides)
                       for seed in seeds}
    workdirs = {seed: train.default_workdir(c, root) for seed, c in configs_by_seed.items()}
    missing = [seed for seed in seeds if not finished(configs_by_seed[seed], workdirs[seed])]
    if missing and vmap_seeds:
        from locornn.reproduce import seeds as seed_groups

        seed_groups.train_seeds(configs_by_seed[missing[0]], missing, root=root,
                                progress=progress)
    else:
        for seed in missing:
            train.train_and_evaluate(configs_by_seed[seed], workdirs[seed], progress=progress)
    return [{**json.loads((workdirs[seed] / "summary.json").read_text()),
             **evaluation_protocol(configs_by_seed[seed])} for seed in seeds]


def evaluation_protocol(config) -> dict:
    """How a forecasting config scores VPT, from the config itself: the training ``window``,
    ``test_frames`` per test trajectory, the frame ``vpt_start`` VPT counts from and
    ``vpt_cap``, the largest VPT it can measure (:func:`locornn.tasks.vpt_cap`)."""
    return {"window": config.data.sequence_length,
            "test_frames": config.data.test_sequence_length or config.data.sequence_length,
            "vpt_start": tasks.vpt_start(config), "vpt_cap": tasks.vpt_cap(config)}


def cap_note(protocols: dict[str, dict]) -> str:
    """One sentence stating the VPT cap of every protocol in a table.

    Args:
      protocols: ``{label: evaluation_protocol(...)}`` (labels: models, variants, ...).
    """
    groups: dict[tuple, list[str]] = {}
    for label, protocol in protocols.items():
        key = (protocol["vpt_cap"], protocol["test_frames"], protocol["vpt_start"])
        groups.setdefault(key, []).append(label)
    if len(groups) == 1:
        (cap, frames, start), = groups
        return (f"VPT is capped at {cap} steps: test trajectories of {frames} frames, counted "
                f"from frame {start}; a run whose test trajectories stay valid to their last "
                f"frame scores {cap}.")
    return "VPT is capped at " + "; ".join(
        f"{cap} steps for {', '.join(labels)} ({frames}-frame test trajectories, counted from "
        f"frame {start})" for (cap, frames, start), labels in groups.items()) + "."


def core_diagnostics(runs: list[dict]) -> dict:
    """The oscillator core's learned constants and free decay over a cell's runs (their
    summaries): ``alpha``, ``dt``, ``gamma`` as means, ``free_decay_steps`` the median of the
    runs' medians (``inf``: not within ``free_decay_horizon`` steps), NaN where no run recorded
    them (cores that are not oscillators, or summaries older than the field)."""
    cores = [r["test"].get("core", {}) for r in runs]

    def mean(key):
        values = [c[key] for c in cores if key in c]
        return float(np.mean(values)) if values else float("nan")

    def median(key):  # None (not reached within the horizon) counts as inf
        values = [np.inf if c[key] is None else c[key] for c in cores if key in c]
        return float(np.median(values)) if values else float("nan")

    horizons = [c["free_decay_horizon"] for c in cores if "free_decay_horizon" in c]
    return {"alpha": mean("alpha"), "dt": mean("dt"), "gamma": mean("gamma"),
            "free_decay_steps": median("free_decay_steps"),
            "free_decay_horizon": min(horizons) if horizons else 0,
            "free_first_below_steps": median("free_first_below_steps"),
            "free_end_amplitude": median("free_end_amplitude")}


def decay_cell(diagnostics: dict) -> str:
    """A free-decay time for a table: steps; ``> N`` when not within the N-step horizon, with
    the amplitude at the horizon over the start (``end 1.2x``: it keeps moving) where known;
    ``-`` when there is none (not an oscillator core)."""
    steps = diagnostics["free_decay_steps"]
    if np.isnan(steps):
        return "-"
    if np.isfinite(steps):
        return f"{steps:g}"
    end = diagnostics.get("free_end_amplitude", float("nan"))
    return f"> {diagnostics['free_decay_horizon']}" + (
        f", end {end:.2f}x" if np.isfinite(end) else "")


def finished(config, workdir: pathlib.Path) -> bool:
    """Whether ``workdir`` holds a finished run of ``config``; a run of another config there
    (e.g. an older preset) is an error, never a silently reused number."""
    train.require_same_config(config, workdir, "remove it to retrain this cell, or give the "
                                               "table another --root")
    summary = workdir / "summary.json"
    return summary.exists() and json.loads(summary.read_text())["steps"] == config.train.num_steps


def data_label(runs: list[dict]) -> str:
    """The data the runs (their summaries) trained on, one ``kind:fingerprint`` each."""
    return " ".join(dict.fromkeys(fingerprint.label(r.get("data")) for r in runs))


def write_csv(path: pathlib.Path, rows: list[dict]) -> None:
    """``rows`` (dicts with the same keys) as a CSV file with a header, folders created."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def build_table(preset: str, *, seeds=(0, 1, 2), systems=SYSTEMS, models=MODELS, root="runs",
                results="results", experiment=EXPERIMENT, overrides=(), vmap_seeds=False,
                progress=True) -> pathlib.Path:
    """Train what is missing, then write ``results/<table_stem(...)>.{md,csv,png}``; returns the
    md."""
    cells = [(s, m) for s in systems for m in models]
    for (system, model), seed in itertools.product(cells, seeds):  # all checked before any trains
        cell_config(preset, system, model, seed, experiment, overrides)
    summaries = {}
    for number, (system, model) in enumerate(cells, 1):
        if progress:  # one line per cell above the run's own progress bar
            tqdm.write(f"Table 1 [{number}/{len(cells)}] {system} x {model}, seeds {list(seeds)}")
        summaries[system, model] = run_cell(preset, system, model, seeds, root=root,
                                            experiment=experiment, overrides=overrides,
                                            vmap_seeds=vmap_seeds, progress=progress)
    results = pathlib.Path(results)
    results.mkdir(parents=True, exist_ok=True)
    rows = []
    for (system, model), runs in summaries.items():
        vpts = [r["test"]["vpt"] for r in runs]
        protocol = {key: runs[0][key] for key in ("window", "test_frames", "vpt_start",
                                                  "vpt_cap")}
        rows.append({"system": system, "model": model, "seeds": len(runs),
                     "vpt_mean": float(np.mean(vpts)), "vpt_std": float(np.std(vpts)),
                     "vpts": " ".join(f"{v:g}" for v in vpts), **protocol,
                     "num_params": runs[0]["num_params"],
                     "train_seconds": float(np.mean([r["train_seconds_this_session"]
                                                     for r in runs])),
                     **core_diagnostics(runs), "data": data_label(runs)})
    stem = table_stem(preset, rows)
    write_csv(results / f"{stem}.csv", rows)
    md_path = results / f"{stem}.md"
    md_path.write_text(_markdown(preset, rows, systems, models, seeds))
    by_cell = {(r["system"], r["model"]): r for r in rows}
    plots.vpt_bars({SYSTEM_NAMES[s]: [(by_cell[s, m]["vpt_mean"], by_cell[s, m]["vpt_std"])
                                      for m in models] for s in systems},
                   [MODEL_NAMES[m] for m in models],
                   {SYSTEM_NAMES[s]: published(s) for s in systems},
                   max(r["vpt_cap"] for r in rows), results / f"{stem}.png",
                   title=f"Table 1, preset {preset}: VPT mean (std) over seeds {list(seeds)}")
    return md_path


def table_stem(preset: str, rows: list[dict]) -> str:
    """``table1_<preset>_<N>frame``: the table's files name the test protocol (``N`` frames per
    test trajectory), so tables scored on different protocols never overwrite each other."""
    return f"table1_{preset}_{max(int(r['test_frames']) for r in rows)}frame"


def _markdown(preset, rows, systems, models, seeds) -> str:
    by_cell = {(r["system"], r["model"]): r for r in rows}
    ours = [MODEL_NAMES[m] for m in models]
    paper = list(next(iter(PAPER.values())))
    lines = [f"# Table 1: VPT (steps), preset `{preset}`", "",
             f"Ours: mean (std) over seeds {list(seeds)} of each run's median VPT over its "
             f"held-out test trajectories. "
             + cap_note({MODEL_NAMES[m]: by_cell[(systems[0], m)] for m in models})
             + " Paper: the published Table 1 (1000-frame test trajectories, full training); "
             "only the `paper` preset is comparable to it.", "",
             "| system | " + " | ".join(f"{n} (ours)" for n in ours) + " | "
             + " | ".join(f"{n} (paper)" for n in paper) + " |",
             "|---" * (1 + len(ours) + len(paper)) + "|"]
    for system in systems:
        cells = [f"{by_cell[(system, m)]['vpt_mean']:.1f} ({by_cell[(system, m)]['vpt_std']:.1f})"
                 for m in models]
        published = [f"{a:g} ({b:g})" for a, b in PAPER[system].values()]
        lines.append(f"| {SYSTEM_NAMES[system]} | " + " | ".join(cells + published) + " |")
    lines += ["", "| model | parameters | training window (frames) | training seconds per run "
                  "(mean) |", "|---|---|---|---|"]
    for m in models:
        runs = [by_cell[(s, m)] for s in systems]
        lines.append(f"| {MODEL_NAMES[m]} | {runs[0]['num_params']:,} | {runs[0]['window']} | "
                     f"{np.mean([r['train_seconds'] for r in runs]):.0f} |")
    oscillators = [m for m in models if not np.isnan(by_cell[(systems[0], m)]["alpha"])]
    if oscillators:
        lines += ["", "Oscillator cores: free decay of the lattice from the inferred initial "
                  "states, drive off (steps to 1/e of the starting amplitude, median over test "
                  "trajectories, then over seeds; `> N`: not within the N-step horizon, "
                  "`end r x`: the amplitude at the horizon is r times the start), and "
                  "the learned damping alpha (mean over seeds). "
                  "See `locornn.analysis.lattice.free_decay`.", "",
                  "| system | " + " | ".join(f"{MODEL_NAMES[m]} decay (alpha)"
                                             for m in oscillators) + " |",
                  "|---" * (1 + len(oscillators)) + "|"]
        for system in systems:
            cells = [f"{decay_cell(by_cell[(system, m)])} ({by_cell[(system, m)]['alpha']:.2f})"
                     for m in oscillators]
            lines.append(f"| {SYSTEM_NAMES[system]} | " + " | ".join(cells) + " |")
    lines += ["", "Data (kind:fingerprint, as in each run's data.json): " + "; ".join(
        f"{SYSTEM_NAMES[s]} {' '.join(dict.fromkeys(by_cell[(s, m)]['data'] for m in models))}"
        for s in systems)]
    return "\n".join(lines) + "\n"
