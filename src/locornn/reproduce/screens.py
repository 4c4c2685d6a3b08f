"""Tables and figures of screens of finished runs, from the runs' own files:
``locornn reproduce screen KIND INPUT... --out FILE``.

A screen is a set of runs that differ in one choice each, trained by ``locornn train`` or
``locornn reproduce ...`` and analysed by ``locornn analyze ...``. Its table is remade from the
files each run wrote (``metrics.jsonl``, ``summary.json``, ``selectivity*.json``,
``reach*.json``, ...), training nothing and reading no checkpoint, except ``drive-halves``, which
measures the lattice's drive from the run's latest checkpoint. Each kind (:data:`KINDS`) is one
function of its inputs; its ``needs`` are checked on every input before anything is computed
or written, so a run that lacks a file is named in one line.

Inputs are ``NAME=RUN_DIR`` (the row's label and the run), ``RUN_DIR`` for the kinds whose runs
describe themselves (``probes``, ``cosine``), or result folders for the figures drawn from
committed tables (``horizon-figure``, ``budget-figure``).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import pathlib
from collections.abc import Callable

import numpy as np

from locornn import plots

# MSE of predicting the mean pixel: sine waves 0.5 + 0.5 cos (variance 1/8), uniform noise 1/12
MEAN_FRAME_MSE = {"waves": 0.125, "noise": 1 / 12}
PROTOCOLS = ("phases", "trials", "amplitude")


@dataclasses.dataclass(frozen=True)
class Input:
    """One input of a screen: a row's label (``None`` for unnamed inputs) and its path."""

    name: str | None
    path: pathlib.Path


def parse_inputs(specs, named: bool) -> list[Input]:
    """``NAME=PATH`` (``named``) or ``PATH`` specs -> :class:`Input` s; a missing ``NAME=`` or a
    missing path is a ``ValueError`` / ``FileNotFoundError`` naming the spec."""
    inputs = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = None, spec
        if named and not name:
            raise ValueError(f"{spec!r}: give each run as NAME=RUN_DIR (NAME labels its row)")
        if not named and name is not None:
            name, path = None, spec  # a path with '=' in it
        path = pathlib.Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such run directory or folder")
        inputs.append(Input(name, path))
    if not inputs:
        raise ValueError("no inputs given")
    return inputs


def _json(path: pathlib.Path):
    return json.loads(path.read_text())


def _last(run: pathlib.Path, split: str) -> dict:
    rows = [r for r in plots.read_metrics(run / "metrics.jsonl") if r.get("split") == split]
    if not rows:
        raise ValueError(f"{run}/metrics.jsonl: no {split!r} record (is the run finished?)")
    return rows[-1]


def _table(head: list[str], rows: list[list[str]], align: str | None = None) -> str:
    lines = ["| " + " | ".join(head) + " |", align or "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


# ----------------------------------------------------------------------------------------------
# Orientation screens: every selectivity protocol of each run, trained and untrained
# ----------------------------------------------------------------------------------------------


def _protocol_cells(selectivity: dict) -> list[str]:
    cells = []
    for name in PROTOCOLS:
        p = selectivity["protocols"][name]
        agreement = p["neighbour_agreement"]
        cells.append(f"{p['fraction_selective']:.2f} / " + (
            "-" if agreement is None else
            f"{agreement:.2f} ({p['chance_agreement']:.2f}) / {p['domain_area']:.0f}"))
    return cells


def orientation_screen(inputs: list[Input]) -> str:
    """Each run: the last held-out MSE (and over the sine waves' mean frame's, 0.125), the last
    training probe's band-passed phase (:mod:`locornn.analysis.waves.phase_map`) and each
    selectivity protocol's fraction selective / neighbour agreement (chance) / domain area,
    trained and untrained (``selectivity*.json`` of ``locornn analyze orientation``)."""
    head = (["run", "steps", "held-out MSE", "/ mean frame", "phase wavelength",
             "neighbour phase diff."]
            + [f"{p}: selective / agreement (chance) / area" for p in PROTOCOLS]
            + [f"untrained {p}" for p in PROTOCOLS])
    rows = []
    for item in inputs:
        test, probe = _last(item.path, "test"), _last(item.path, "probe")
        row = [item.name, str(test["step"]), f"{test['mse']:.4f}",
               f"{test['mse'] / MEAN_FRAME_MSE['waves']:.3f}",
               f"{probe['phase_mean_wavelength']:.2f}",
               f"{probe['phase_neighbour_phase_difference']:.2f}"]
        rows.append(row + _protocol_cells(_json(item.path / "selectivity.json"))
                    + _protocol_cells(_json(item.path / "selectivity_untrained.json")))
    return _table(head, rows)


# ----------------------------------------------------------------------------------------------
# Reach (locornn analyze reach) beside the orientation domains
# ----------------------------------------------------------------------------------------------


def _over_mean_frame(run: pathlib.Path) -> str:
    """Held-out MSE over the mean frame's; ``-`` for data whose mean frame's MSE is not a known
    constant (rotating MNIST)."""
    mean_frame = MEAN_FRAME_MSE.get(_json(run / "config.json")["data"]["name"])
    return "-" if mean_frame is None else f"{_last(run, 'test')['mse'] / mean_frame:.2f}"


def reach_table(inputs: list[Input]) -> str:
    """Each run: held-out MSE over the mean frame's, the learned constants and the reach
    (``reach.json``), and protocol ``trials``' neighbour agreement (chance) and domain area
    with the radius ``sqrt(area / pi)`` of a disc of that area, to set beside the reach; the
    untrained network's reach last."""
    head = ["run", "lattice", "MSE / mean frame", "dt", "gamma", "alpha",
            "R over the training sequence (sites)", "R over a presentation",
            "energy on the poked site", "`trials` agreement (chance)", "`trials` domain area",
            "disc radius of that area", "untrained R"]
    rows = []
    for item in inputs:
        reach = _json(item.path / "reach.json")
        untrained = _json(item.path / "reach_untrained.json")
        trials = _json(item.path / "selectivity.json")["protocols"]["trials"]
        agreement, area = trials["neighbour_agreement"], trials["domain_area"]
        rows.append([
            item.name, f"{reach['lattice']}x{reach['lattice']}", _over_mean_frame(item.path),
            f"{reach['dt']:.3f}", f"{reach['gamma']:.2f}", f"{reach['alpha']:.2f}",
            f"{reach['reach_training']:.2f} ({reach['sequence_length']} steps)",
            f"{reach['reach_analysis']:.2f} ({reach['analysis_length']} steps)",
            f"{reach['centre_share_training']:.2f}",
            "-" if agreement is None else f"{agreement:.2f} ({trials['chance_agreement']:.2f})",
            "-" if area is None else f"{area:.0f}",
            "-" if area is None else f"{math.sqrt(area / math.pi):.2f}",
            f"{untrained['reach_training']:.2f}"])
    return _table(head, rows)


def reach_figure(inputs: list[Input], out: pathlib.Path) -> None:
    """Reach ``R(T)`` of each run (``reach.json``) against the disc radii ``sqrt(area / pi)`` of
    the authors' domain areas (:data:`locornn.analysis.topography.domains.AUTHORS_NUMBERS`,
    shaded), each run's own ``trials`` domain radius dotted in its colour."""
    import matplotlib.pyplot as plt

    from locornn.analysis.topography.domains import AUTHORS_NUMBERS

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    radii = [math.sqrt(area / math.pi) for _, area in AUTHORS_NUMBERS.values()]
    ax.axhspan(min(radii), max(radii), color="0.85",
               label="authors' domains: disc radius of their area")
    lengths = set()
    for i, item in enumerate(inputs):
        reach = _json(item.path / "reach.json")
        trials = _json(item.path / "selectivity.json")["protocols"]["trials"]
        curve = reach["reach_curve"]
        ax.plot(range(1, len(curve) + 1), curve, color=f"C{i}", label=item.name)
        if trials["domain_area"] is not None:
            ax.axhline(math.sqrt(trials["domain_area"] / math.pi), color=f"C{i}", ls=":", lw=1)
        lengths.add(reach["sequence_length"])
    for length in sorted(lengths):
        ax.axvline(length, color="k", ls="--", lw=1, label=f"training sequence ({length} frames)")
    ax.set_xlabel("steps after an impulse in one site's drive")
    ax.set_ylabel("reach R (sites, RMS)")
    ax.set_ylim(0, 1.1 * max(radii))
    ax.legend(fontsize=7, loc="center right")
    ax.set_title("how far one site's input spreads through the trained lattice", fontsize=10)
    plots.save(fig, out)


# ----------------------------------------------------------------------------------------------
# One run's training log, and forecasting screens
# ----------------------------------------------------------------------------------------------


def probe_log(inputs: list[Input]) -> str:
    """Every training probe of a run's ``metrics.jsonl``: the held-out MSE of that step and the
    band-passed phase (wavelength, neighbour phase difference, plane-wave fraction) and the
    traveling-wave strength of ``z``."""
    head = ["step", "held-out MSE", "mean wavelength (sites)", "peak wavelength",
            "neighbour phase difference (rad)", "plane-wave fraction",
            "traveling-wave strength"]
    rows = []
    for item in inputs:
        records = plots.read_metrics(item.path / "metrics.jsonl")
        mse = {r["step"]: r["mse"] for r in records if r["split"] == "test"}
        rows += [[str(r["step"]), f"{mse[r['step']]:.4f}" if r["step"] in mse else "-",
                  f"{r['phase_mean_wavelength']:.2f}", f"{r['phase_peak_wavelength']:.2f}",
                  f"{r['phase_neighbour_phase_difference']:.2f}",
                  f"{r['phase_plane_wave_fraction']:.2f}", f"{r['traveling_wave_strength']:.2f}"]
                 for r in records if r["split"] == "probe"]
    return _table(head, rows, "|---:|---:|---:|---:|---:|---:|---:|")


def _budget_summaries(run: pathlib.Path) -> dict[int, pathlib.Path]:
    """``{steps: summary file}``: a ``locornn reproduce budget`` run's ``summary_<steps>.json``,
    or a ``locornn train`` run's ``summary.json`` at its last step."""
    files = {int(p.stem.split("_")[1]): p for p in run.glob("summary_*.json")}
    if not files:
        files = {_json(run / "summary.json")["steps"]: run / "summary.json"}
    return files


def budget_screen(inputs: list[Input]) -> str:
    """Each run: VPT and held-out MSE at each budget; the median first-forecast-frame error
    (``vpt.json``) and the state probe R^2 (``state_probe.json`` of ``locornn analyze
    state-probe``, ``not run`` without it) at the last budget."""
    head = ["run", "steps", "VPT", "held-out MSE", "first forecast frame error (last budget)",
            "state probe R^2: encoder / state in window / after (last budget)"]
    rows = []
    for item in inputs:
        files = _budget_summaries(item.path)
        budgets = sorted(files)
        tests = {b: _json(files[b])["test"] for b in budgets}
        first = _json(item.path / "vpt.json")["median_error_per_step"][0]
        probe = "not run"
        if (item.path / "state_probe.json").exists():
            r2 = {p["features"]: p["r2"]
                  for p in _json(item.path / "state_probe.json")["probes"]}
            probe = " / ".join(f"{r2[k]:.2f}" for k in ("encoder", "state, window",
                                                        "state, beyond") if k in r2)
        rows.append([item.name, " / ".join(f"{b:,}" for b in budgets),
                     " / ".join(f"{tests[b]['vpt']:g}" for b in budgets),
                     " / ".join(f"{tests[b]['mse']:.4f}" for b in budgets), f"{first:.3f}",
                     probe])
    return _table(head, rows, "|---|---|---|---|---:|---|")


COSINE_COLUMNS = ("system", "seed", "schedule", "steps", "vpt", "vpt_mean", "vpt_at_cap", "cap",
                  "vpt_start", "trajectories", "mse", "first_frame_error", "alpha", "dt",
                  "gamma", "free_end_amplitude")


def _cosine_record(run: pathlib.Path) -> dict:
    config, summary = _json(run / "config.json"), _json(run / "summary.json")
    test, core = summary["test"], summary["test"]["core"]
    first = _json(run / "vpt.json")["median_error_per_step"][0]
    return dict(system=config["data"]["system"], seed=config["seed"],
                schedule=config["train"]["schedule"], steps=summary["steps"], vpt=test["vpt"],
                vpt_mean=test["vpt_mean"], vpt_at_cap=test["vpt_at_cap"],
                cap=test["extrapolation_steps"], vpt_start=test["vpt_start"],
                trajectories=test["vpt_trajectories"], mse=test["mse"], first_frame_error=first,
                alpha=core["alpha"], dt=core["dt"], gamma=core["gamma"],
                free_end_amplitude=core["free_end_amplitude"])


def cosine_runs(inputs: list[Input], out: pathlib.Path) -> str:
    """Forecasting runs that describe themselves (system, seed, schedule and steps from
    ``config.json``; VPT, MSE and the learned core from ``summary.json``; the first forecast
    frame's median error from ``vpt.json``), sorted by system, steps and seed; also written to
    ``out`` with the suffix ``.csv``."""
    records = sorted((_cosine_record(item.path) for item in inputs),
                     key=lambda r: (r["system"], r["steps"], r["seed"]))
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COSINE_COLUMNS)
        writer.writeheader()
        writer.writerows(records)
    head = ["system", "seed", "schedule", "steps", "VPT (median)", "VPT (mean)", "at cap",
            "held-out MSE", "first forecast frame error", "alpha", "dt", "gamma",
            "free amplitude at step 999"]
    rows = [[r["system"], str(r["seed"]), r["schedule"], f"{r['steps']:,}", f"{r['vpt']:g}",
             f"{r['vpt_mean']:.1f}", str(r["vpt_at_cap"]), f"{r['mse']:.2e}",
             f"{r['first_frame_error']:.4f}", f"{r['alpha']:.3f}", f"{r['dt']:.3f}",
             f"{r['gamma']:.3f}", f"{r['free_end_amplitude']:.2f}"] for r in records]
    first = records[0]
    return (_table(head, rows, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            + f"\nVPT: steps from frame {first['vpt_start']} of {first['trajectories']} "
              f"held-out trajectories of {first['vpt_start'] + first['cap']} frames, capped at "
              f"{first['cap']} steps.\n")


# ----------------------------------------------------------------------------------------------
# Where orientation tuning is lost: the drive or the lattice (reads checkpoints)
# ----------------------------------------------------------------------------------------------


def drive_halves(inputs: list[Input]) -> str:
    """Protocol ``trials``' tuning and noise halves
    (:func:`locornn.analysis.topography.protocols.trials_tuning_and_noise`) and selective share,
    measured on the same noisy gratings as ``locornn analyze orientation RUN --length 100
    --transient 20``, twice: on the ``drive`` of the lattice (``K_x * f(x)``, the encoder's
    mean then the drive kernel, one static frame, no dynamics) and on the ``lattice`` (the
    time-averaged ``z``, the numbers ``selectivity.json`` reports)."""
    import jax.numpy as jnp

    from locornn.analysis.topography import orientation, protocols, selectivity
    from locornn.analysis.topography.responses import protocol_responses
    from locornn.checkpoints import load_run

    def drive_of(model, params, channels) -> Callable:
        def respond(images):  # (n, h, w) -> (n, 1, N): the drive of one static frame
            x = np.repeat(np.asarray(images, np.float32)[:, None, ..., None], channels, axis=-1)
            drive = model.apply({"params": params}, jnp.asarray(x), method=model.drives)
            return np.asarray(drive)[0].reshape(len(images), 1, -1)
        return respond

    rows = []
    for item in inputs:
        config, task, state = load_run(item.path)
        model, params = task.model, state.params
        size, channels = model.image_shape[0], model.image_shape[-1]
        wavelength = orientation.default_wavelength(config)
        stimuli = protocols.grating_stimuli(size, wavelength=wavelength, trials=16, noise=0.5,
                                            seed=0)
        stages = {  # the same gratings and noise draws for both
            "drive": protocols.measure_responses(drive_of(model, params, channels), stimuli,
                                                 batch=32),
            "lattice": protocol_responses(model, params, wavelength=wavelength, length=100,
                                          transient=20, trials=16, noise=0.5, seed=0)}
        cells = []
        for responses in stages.values():
            tuning, noise = protocols.trials_tuning_and_noise(responses)
            d = protocols.protocol_d("trials", responses)
            selective = selectivity.preferred(d, config.analysis.threshold)[1].mean()
            cells.append(f"{np.median(tuning):.3g} | {np.median(noise):.3g} | "
                         f"{np.median(tuning / noise):.2f} | {selective:.2f}")
        rows.append([item.name, str(int(state.step)), *cells])
    head = ["run", "step", "drive tuning", "drive noise", "drive ratio", "drive selective",
            "lattice tuning", "lattice noise", "lattice ratio", "lattice selective"]
    return _table(head, rows, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


# ----------------------------------------------------------------------------------------------
# Figures drawn from committed ablation and budget tables
# ----------------------------------------------------------------------------------------------


def _csv_rows(path: pathlib.Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


HORIZON_SYSTEMS = {"mass_spring": "spring", "two_body": "two-body"}


def horizon_figure(inputs: list[Input], out: pathlib.Path) -> None:
    """The horizon study from its ablation tables (the first input: ``results/horizon``).

    Left: the last valid forecast frame (``vpt_start + VPT``) against the training window, one
    line per system (with ``512/``'s whole 512-frame trajectories where present), the diagonal
    "valid exactly to the window's end", the dashed line the test trajectories' last frame.
    Right: the free oscillation's decay time of the same runs (drive off; at the top: no decay
    within the horizon)."""
    import matplotlib.pyplot as plt

    folder = inputs[0].path
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    horizon = None
    for system, label in HORIZON_SYSTEMS.items():
        rows = []
        for table in (folder / f"ablation_cpu_{system}_locornn_seed0.csv",
                      folder / "512" / f"ablation_cpu_{system}_locornn_seed0.csv"):
            if table.exists():
                rows += [r for r in _csv_rows(table) if r["variant"].startswith("horizon_")]
        if not rows:
            raise FileNotFoundError(f"{folder}: no ablation_cpu_{system}_locornn_seed0.csv "
                                    f"with horizon_* variants")
        windows = [int(r["window"]) for r in rows]
        valid_to = [int(r["vpt_start"]) + float(r["vpt_mean"]) for r in rows]
        decay = [float(r["free_decay_steps"]) for r in rows]
        horizon = int(rows[0]["free_decay_horizon"])
        left.plot(windows, valid_to, "o-", label=label)
        right.plot(windows, [horizon if math.isinf(d) else d for d in decay], "o-", label=label)
    left.plot([0, 520], [0, 520], "k:", lw=1, label="window's end")
    left.axhline(1000, color="grey", lw=1, ls="--", label="last test frame")
    left.set(xlabel="training window (frames)", ylabel="forecast valid to frame (64 + VPT)",
             title="VPT follows the training window")
    right.axhline(horizon, color="grey", lw=1, ls="--")
    right.set(xlabel="training window (frames)", ylabel="free decay to 1/e (steps)",
              title=f"not the lattice's decay (dashed: > {horizon})")
    for ax in (left, right):
        ax.set_xticks([64, 128, 256, 512])
        ax.legend(fontsize=8)
    fig.suptitle("LocoRNN, cpu preset, seed 0, 1200 steps, 1000-frame test trajectories",
                 fontsize=9)
    plots.save(fig, out)


BUDGET_TABLES = {1200: "ablation_cpu_mass_spring_locornn_seed0-1-2.csv",
                 4800: "4800/ablation_cpu_mass_spring_locornn_seed0-1-2.csv",
                 12000: "12000/ablation_cpu_mass_spring_locornn_seed0-1-2.csv"}


def budget_figure(inputs: list[Input], out: pathlib.Path) -> None:
    """Spring VPT against training steps (inputs: ``results/horizon``, ``results/lr_decay``):
    LocoRNN with whole-trajectory windows (the horizon study's ``horizon_256`` tables at 1200,
    4800 and 12,000 steps) beside the LSTM (``lstm_budget/vpt_vs_steps_cpu.csv``), three seeds
    each, and LocoRNN with a cosine learning rate decayed to 0 at each budget
    (``runs.csv`` of :func:`cosine_runs`)."""
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    if len(inputs) != 2:
        raise ValueError("budget-figure reads two folders: the horizon study's and the cosine "
                         "runs' (results/horizon results/lr_decay)")
    horizon, cosine_folder = (item.path for item in inputs)
    locornn = {steps: [float(v) for v in next(
        r for r in _csv_rows(horizon / table) if r["variant"] == "horizon_256")["vpts"].split()]
        for steps, table in BUDGET_TABLES.items()}
    lstm: dict[int, list[float]] = {}
    for r in _csv_rows(horizon / "lstm_budget" / "vpt_vs_steps_cpu.csv"):
        if r["system"] == "mass_spring" and r["model"] == "lstm":
            lstm.setdefault(int(r["steps"]), []).append(float(r["vpt"]))
    cosine: dict[int, dict[int, float]] = {}
    for r in _csv_rows(cosine_folder / "runs.csv"):
        if r["system"] == "mass_spring" and r["schedule"] == "cosine":
            cosine.setdefault(int(r["steps"]), {})[int(r["seed"])] = float(r["vpt"])

    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    for name, vpts, colour in (("LocoRNN (whole trajectories)", locornn, "C0"),
                               ("LSTM (64-frame windows)", lstm, "C1")):
        steps = sorted(vpts)
        for i in range(max(len(vpts[s]) for s in steps)):
            ax.plot(steps, [vpts[s][i] for s in steps], "o", color=colour, alpha=0.35, ms=4)
        ax.plot(steps, [np.mean(vpts[s]) for s in steps], "-", color=colour, lw=2,
                label=f"{name}, mean of {len(vpts[steps[0]])} seeds")
    for steps, by_seed in cosine.items():
        ax.plot([steps] * len(by_seed), list(by_seed.values()), "^", color="C2", alpha=0.5,
                ms=5)
    curve = sorted(cosine)
    ax.plot(curve, [np.mean(list(cosine[s].values())) for s in curve], "--", color="C2", lw=2,
            label=f"LocoRNN, cosine lr to each budget, mean of "
                  f"{min(len(cosine[s]) for s in curve)} seeds")
    ax.axhline(936, color="grey", lw=1, ls="--")
    ax.set(xscale="log", xticks=[1200, 4800, 12000], xticklabels=["1.2k", "4.8k", "12k"],
           xlabel="training steps (batch 8)", ylabel="spring VPT (steps from frame 64)",
           title="spring, cpu preset, 1000-frame test trajectories (cap 936, dashed)")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # only the budgets
    ax.title.set_fontsize(8)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18))  # below the data
    plots.save(fig, out)


# ----------------------------------------------------------------------------------------------
# The kinds and ``locornn reproduce screen``
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Kind:
    """A screen's table or figure: ``make(inputs)`` -> Markdown, or ``make(inputs, out)`` for a
    figure (``figure``) or a table that also writes a CSV beside ``out`` (``writes_csv``)."""

    make: Callable
    help: str
    needs: tuple[str, ...] = ()
    named: bool = True
    figure: bool = False
    writes_csv: bool = False


KINDS: dict[str, Kind] = {
    "orientation": Kind(orientation_screen, "every selectivity protocol of each run, trained "
                        "and untrained, with its held-out MSE and band-passed phase",
                        ("metrics.jsonl", "selectivity.json", "selectivity_untrained.json")),
    "reach": Kind(reach_table, "each run's learned constants and reach beside its `trials` "
                  "domain area", ("config.json", "metrics.jsonl", "reach.json",
                                  "reach_untrained.json", "selectivity.json")),
    "reach-figure": Kind(reach_figure, "R(T) of each run against the authors' domain radii",
                         ("reach.json", "selectivity.json"), figure=True),
    "probes": Kind(probe_log, "every training probe of one run's log (phase, held-out MSE)",
                   ("metrics.jsonl",), named=False),
    "budget": Kind(budget_screen, "VPT and held-out MSE at each budget, first-frame error and "
                   "state probe at the last", ("vpt.json",)),
    "cosine": Kind(cosine_runs, "forecasting runs that describe themselves (config, summary, "
                   "VPT), also as CSV", ("config.json", "summary.json", "vpt.json"),
                   named=False, writes_csv=True),
    "drive-halves": Kind(drive_halves, "protocol `trials`' tuning and noise on the lattice's "
                         "drive and on the lattice (reads the checkpoint)", ("config.json",)),
    "horizon-figure": Kind(horizon_figure, "VPT and free decay against the training window, "
                           "from the horizon study's tables", named=False, figure=True),
    "budget-figure": Kind(budget_figure, "spring VPT against training steps: LocoRNN, LSTM, "
                          "cosine learning rate", named=False, figure=True),
}


def make(kind: str, specs, out) -> str | None:
    """Check every input of ``kind``, then write its table (returned) or figure to ``out``."""
    spec = KINDS[kind]
    inputs = parse_inputs(specs, spec.named)
    for item in inputs:
        for name in spec.needs:
            if not (item.path / name).is_file():
                raise FileNotFoundError(f"{item.path}: no {name} (screen {kind!r} reads it)")
    out = pathlib.Path(out)
    if spec.figure:
        spec.make(inputs, out)
        return None
    text = spec.make(inputs, out) if spec.writes_csv else spec.make(inputs)
    out.write_text(text)
    return text


def add_arguments(p) -> None:
    """Give the parser of ``locornn reproduce screen`` its arguments and function."""
    from locornn.configs.domains import Text, flag, path_flag
    from locornn.exits import guarded

    p.description = (
        "A table or figure of a screen of finished runs, remade from the files the runs wrote "
        "(trains nothing). KIND: " + "; ".join(f"{k}: {v.help}" for k, v in KINDS.items())
        + ". Each result folder's README names its command.")
    p.add_argument("kind", choices=list(KINDS), metavar="KIND", help="what to make: "
                   + ", ".join(KINDS))
    p.add_argument("inputs", nargs="+", metavar="INPUT", type=flag(Text(empty=False), str),
                   help="NAME=RUN_DIR per row (RUN_DIR alone for probes and cosine; the result "
                        "folders for the figures drawn from tables)")
    p.add_argument("--out", required=True, type=path_flag(folder=None),
                   help="the Markdown or PNG file to write")

    def command(args) -> int:
        def action():
            text = make(args.kind, args.inputs, args.out)
            if text is not None:
                print(text, end="")
            print(f"wrote {args.out}")

        return guarded(action, ValueError)

    p.set_defaults(func=command)
