"""The paper's Figure 1 and the wave table, assembled from runs (training the missing ones).

* :func:`figure1`: one quadrant per experiment (rotating MNIST, sine waves, the mass-spring
  system, noise), each with rows input / hidden ``z`` / prediction on a held-out sequence
  (:func:`locornn.plots.figure1`), and one GIF per quadrant (:func:`locornn.plots.hidden_gif`).
* :func:`waves_table`: ``waves.md``, the wave metrics (:mod:`locornn.analysis.waves.report`) of
  every experiment, untrained and trained, in one Markdown table.

Runs live where ``locornn train`` puts them (:func:`locornn.train.default_workdir`:
``<runs_root>/<experiment>/<preset>/<seed>/``).
A run is reused when its ``summary.json`` says it reached ``train.num_steps``; otherwise, with
``train_missing``, it is trained (or resumed) with :func:`locornn.train.train_and_evaluate`
from ``locornn/experiments/<file>.py:<preset>``. The spring quadrant is the LocoRNN forecasting the
mass-spring system (``locornn/experiments/hamiltonian.py``), in
``<runs_root>/hamiltonian/<preset>/mass_spring/locornn/<seed>/``, the run Table 1 uses too; an
experiment whose file is absent is skipped with a printed note.

* :func:`figure2`: the orientation maps of a LocoRNN trained on sine waves, trained on noise
  and untrained, side by side (``figure2.png``), and a sweep of the orientation domain size over
  the training wavelength and the coupling kernel size (``figure2_sweep.png``, ``figure2.md``).

``locornn reproduce figure1 [--preset cpu] [--seed 0] [--results-dir results] [--runs-root
runs] [--no-train]``, ``locornn reproduce waves-table ...`` and ``locornn reproduce figure2 ...
[--wavelengths 5 10 16 24] [--kernel-sizes 3 5 7 9]`` are the command line.

Length: one module because Figures 1 and 2, the wave table and the runs table share finding or
training their runs, the preset checks and the wiring of their ``locornn reproduce`` commands.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from locornn import configs, plots
from locornn.analysis.after_training import orientation_options
from locornn.analysis.topography import domains
from locornn.analysis.waves import report as wave_report_module
from locornn.checkpoints import load_run
from locornn.configs.domains import at_least, flag, path_flag
from locornn.data import fingerprint
from locornn.exits import guarded
from locornn.reproduce.runs import ensure_trained, run_dir
from locornn.reproduce.runs import say as _say

__all__ = [
    "EXPERIMENTS",
    "QUADRANTS",
    "Quadrant",
    "add_arguments",
    "ensure_run",
    "figure1",
    "figure2",
    "quadrant_arrays",
    "run_dir",
    "waves_table",
]


@dataclasses.dataclass(frozen=True)
class Quadrant:
    """One experiment of Figure 1: its config file, overrides and caption."""

    file: str  # experiment file name under the experiments folder (default: the packaged one)
    caption: str
    overrides: tuple[str, ...] = ()  # --config.* applied on top of the preset


QUADRANTS = {
    "rotating_mnist": Quadrant("rotating_mnist.py", "rotating MNIST"),
    "waves": Quadrant("waves.py", "sine waves"),
    "mass_spring": Quadrant("hamiltonian.py", "mass-spring system",
                            ("--config.data.system=mass_spring", "--config.model.kind=locornn")),
    "noise": Quadrant("noise.py", "unstructured noise"),
}
EXPERIMENTS = tuple(QUADRANTS)  # the paper's order: a, b, c, d

# What the paper leads one to expect; waves.md states it next to what was measured.
EXPECTATION = (
    "The paper leads one to expect a high traveling-wave strength on rotating MNIST and on the "
    "sine waves (traveling waves in the trained lattice), a high standing-wave index on the "
    "mass-spring system (a standing oscillation), and low values of both on unstructured noise "
    "and in every untrained network.")
TABLE_METRICS = {
    "global_synchrony": "global synchrony",
    "local_synchrony": "local synchrony",
    "traveling_wave_strength": "traveling-wave strength",
    "standing_wave_index": "standing-wave index",
    "dominant_frequency": "dominant frequency (1/step)",
    "wave_speed": "wave speed (sites/step)",
    "autocorrelation_length": "autocorrelation length (sites)",
    # the phase map on the reference band (analysis.waves.phase_map): stripes or a checkerboard
    "phase_mean_wavelength": "phase wavelength (sites)",
    "phase_neighbour_phase_difference": "neighbour phase difference (rad)",
    "phase_plane_wave_fraction": "plane-wave fraction",
}


def _experiments_dir(experiments_dir) -> pathlib.Path:
    """``experiments_dir`` if given; else the packaged experiments (any working directory)."""
    return configs.EXPERIMENTS_DIR if experiments_dir is None else pathlib.Path(experiments_dir)


def _quadrant(name: str) -> Quadrant:
    return QUADRANTS.get(name) or Quadrant(f"{name}.py", name.replace("_", " "))


# An experiment without the asked preset is drawn from this one instead, and says so: the
# reference code has no Hamiltonian counterpart of the rotating-MNIST choices (its suite code is
# the `paper` preset, 500k steps), so Figure 1 at `reference` takes the spring from `cpu`.
FALLBACK_PRESET = "cpu"


def _load_config(name: str, preset: str, seed: int, experiments_dir, overrides):
    """The experiment's config, or ``None`` (with a note) when its file does not exist.

    An experiment that lacks ``preset`` is loaded with :data:`FALLBACK_PRESET` (with a note);
    the run then lives under that preset's directory and its config says which preset it is.
    """
    quadrant = _quadrant(name)
    path = _experiments_dir(experiments_dir) / quadrant.file
    if not path.is_file():
        _say(f"skipping {name}: {path} does not exist yet")
        return None
    fields = [*quadrant.overrides, f"--config.seed={seed}", *overrides]
    presets = getattr(configs.experiment_module(path), "PRESETS", None)
    if presets is not None and preset not in presets and FALLBACK_PRESET in presets:
        _say(f"{name}: {path.name} has no {preset!r} preset; using {FALLBACK_PRESET!r}")
        preset = FALLBACK_PRESET
    return configs.load(f"{path}:{preset}", fields)


def _runs(experiments, runs_root, preset, seed, train_missing, experiments_dir, overrides):
    """``([(name, workdir)], [skipped names])``: each experiment's run, found or trained."""
    found, skipped = [], []
    # every experiment's config is checked before the first one trains
    loaded = {name: _load_config(name, preset, seed, experiments_dir, overrides)
              for name in experiments}
    for name, config in loaded.items():
        workdir = None if config is None else ensure_trained(
            name, config, run_dir(runs_root, config), train_missing)
        if workdir is None:
            skipped.append(name)
        else:
            found.append((name, workdir))
    return found, skipped


def ensure_run(name: str, *, runs_root="runs", preset: str = "cpu", seed: int = 0,
               train_missing: bool = True, experiments_dir=None,
               overrides=()) -> pathlib.Path | None:
    """The run directory of an experiment, trained (or resumed) first if it is not finished.

    A finished run (``summary.json`` at ``train.num_steps`` or beyond) is reused; an unfinished
    one is resumed by :func:`locornn.train.train_and_evaluate`. A run of another config than
    preset + ``overrides`` (:func:`locornn.train.config_changes`) is refused with a
    :class:`~locornn.configs.ConfigError` naming the keys
    (:func:`locornn.reproduce.runs.ensure_trained`).
    Returns ``None`` (with a printed note) when the experiment's file does not exist, or when
    the run is missing and ``train_missing`` is False.
    """
    config = _load_config(name, preset, seed, experiments_dir, overrides)
    if config is None:
        return None
    return ensure_trained(name, config, run_dir(runs_root, config), train_missing)


# ----------------------------------------------------------------------------------------------
# Figure 1
# ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _apply_function(model):
    """A jitted ``(params, frames) -> outputs`` per model (equal models share compiled code)."""
    return jax.jit(lambda params, frames: model.apply({"params": params}, frames))


def quadrant_arrays(workdir, max_frames: int = 100):
    """``(config, frames, z, prediction, shift)`` of a run's held-out figure sequence.

    Trained parameters (the latest checkpoint); ``prediction[t]`` shows ``frames[t + shift]``
    (``task.prediction_shift``: 1 for next-frame models, 0 for aligned forecasting models), as
    :func:`locornn.plots.figure1` expects. At most ``max_frames`` frames are kept.
    """
    config, task, state = load_run(workdir)
    sequence = np.asarray(task.figure_sequence)
    out = _apply_function(task.model)(state.params, jnp.asarray(sequence))
    frames, z = sequence[0], np.asarray(out["z"][0])
    prediction = np.asarray(out["prediction"][0])
    length = min(len(frames), len(z), len(prediction), max_frames)
    shift = int(getattr(task, "prediction_shift", 1))
    return config, frames[:length], z[:length], prediction[:length], shift


def _grid(images: list[Image.Image], columns: int, gap: int = 12) -> Image.Image:
    """Paste images into a grid of equal cells, white background, top-left aligned."""
    width = max(i.size[0] for i in images)
    height = max(i.size[1] for i in images)
    rows = math.ceil(len(images) / columns)
    canvas = Image.new("RGB", (columns * width + (columns - 1) * gap,
                               rows * height + (rows - 1) * gap), "white")
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        canvas.paste(image.convert("RGB"), (c * (width + gap), r * (height + gap)))
    return canvas


def figure1(results_dir="results", runs_root="runs", preset: str = "cpu", seed: int = 0,
            train_missing: bool = True, experiments=EXPERIMENTS, *, experiments_dir=None,
            overrides=()) -> dict:
    """The paper's Figure 1: one quadrant per experiment, from (or after training) its run.

    Args:
      results_dir: where ``figure1.png``, ``figure1_<experiment>.png`` (one quadrant) and
        ``figure1_<experiment>.gif`` (its animation) go.
      runs_root, preset, seed: runs are ``<runs_root>/<experiment>/<preset>/<seed>``.
      train_missing: train (or resume) runs that are missing or unfinished; if False they
        are skipped with a note.
      experiments: names in :data:`QUADRANTS` (or any ``<experiments_dir>/<name>.py``), in
        quadrant order (a, b, c, d). An experiment whose file does not exist is skipped with a note.
      experiments_dir: the folder of experiment files (default: the packaged experiments).
      overrides: extra ``--config.a.b=value`` for every experiment (a run trained with other
        overrides lives in the same directory and is refused by the trainer).

    Returns:
      ``{"figure": path, "quadrants": {name: {"run", "png", "gif"}}, "skipped": [names]}``.

    Raises:
      RuntimeError: no experiment had a run to draw.
    """
    results_dir = pathlib.Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    quadrants, pictures = {}, []
    runs, skipped = _runs(experiments, runs_root, preset, seed, train_missing, experiments_dir,
                          overrides)
    for name, workdir in runs:
        config, frames, z, prediction, shift = quadrant_arrays(workdir)
        letter = "abcdefghijklmnopqrstuvwxyz"[len(pictures)]
        png, gif = results_dir / f"figure1_{name}.png", results_dir / f"figure1_{name}.gif"
        title = f"({letter}) {_quadrant(name).caption}"  # short: narrow quadrants clip it
        if config.preset != preset:
            title += f" ({config.preset})"
        plots.figure1(frames, z, prediction, png, num_frames=config.figures.num_frames,
                      title=title, shift=shift)
        plots.hidden_gif(frames, z, prediction, gif, shift=shift)
        with Image.open(png) as image:
            pictures.append(image.copy())
        quadrants[name] = {"run": str(workdir), "png": str(png), "gif": str(gif)}
    if not pictures:
        raise RuntimeError(f"no run to draw for {', '.join(experiments)} "
                           f"(skipped: {', '.join(skipped) or 'none'})")
    figure = results_dir / "figure1.png"
    _grid(pictures, columns=2 if len(pictures) > 1 else 1).save(figure)
    _say(f"wrote {figure} ({len(pictures)} quadrant(s)) and "
         f"{', '.join(q['gif'] for q in quadrants.values())}")
    return {"figure": str(figure), "quadrants": quadrants, "skipped": skipped}


# ----------------------------------------------------------------------------------------------
# The wave table
# ----------------------------------------------------------------------------------------------


def _cell(value) -> str:
    return "NaN" if value is None or not math.isfinite(value) else f"{value:.3f}"


def waves_table(results_dir="results", runs_root="runs", preset: str = "cpu", seed: int = 0,
                experiments=EXPERIMENTS, *, train_missing: bool = True, num_sequences: int = 8,
                experiments_dir=None, overrides=()) -> dict:
    """``<results_dir>/waves.md``: wave metrics of every experiment, untrained and trained.

    Each run gets :func:`locornn.analysis.waves.report.wave_report` twice (writing
    ``waves_untrained.json`` and ``waves.json`` into the run); the table has one row per
    experiment and state (untrained first) and one column per metric in :data:`TABLE_METRICS`.
    Runs are found or trained as in :func:`figure1`.

    Returns:
      ``{"table": path, "rows": [{"experiment", "state", "step", "metrics"}], "skipped": [...]}``.
    """
    results_dir = pathlib.Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    rows, sources = [], []
    runs, skipped = _runs(experiments, runs_root, preset, seed, train_missing, experiments_dir,
                          overrides)
    for name, workdir in runs:
        for untrained in (True, False):
            report = wave_report_module.wave_report(workdir, untrained=untrained,
                                                    num_sequences=num_sequences)
            rows.append({"experiment": name, "state": report["state"], "step": report["step"],
                         "metrics": wave_report_module.flat_metrics(report)})
        sources.append(f"`{workdir}` ({report['num_sequences']} held-out sequence(s) of "
                       f"{report['sequence_length']} frames)")
    if not rows:
        raise RuntimeError(f"no run to measure for {', '.join(experiments)}")
    header = ["experiment", "parameters", *TABLE_METRICS.values()]
    lines = [
        f"# Wave metrics of the hidden state ({preset} preset, seed {seed})",
        "",
        EXPECTATION,
        "",
        "The numbers below are measured on held-out sequences by "
        "`locornn.analysis.waves.statistics.wave_metrics` (mean over sequences; NaN where a "
        "metric is undefined) and are reported as they came out, whether or not they match that "
        "expectation. Untrained: freshly initialised parameters from the run's seed; trained: "
        "the run's latest checkpoint.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * len(TABLE_METRICS)) + "|",
    ]
    for row in rows:
        state = "untrained" if row["state"] == "untrained" else f"trained ({row['step']} steps)"
        cells = [row["experiment"], state, *(_cell(row["metrics"][k]) for k in TABLE_METRICS)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Runs: " + "; ".join(sources) + "."]
    if skipped:
        lines.append(f"Skipped (no run or no experiment file): {', '.join(skipped)}.")
    table = results_dir / "waves.md"
    table.write_text("\n".join(lines) + "\n")
    _say(f"wrote {table}")
    return {"table": str(table), "rows": rows, "skipped": skipped}


def runs_table(run_dirs, out_path, mean_frame: bool = False) -> pathlib.Path:
    """A Markdown table of finished runs read from their files alone (no checkpoint needed):
    held-out MSE, with ``mean_frame`` the MSE of predicting the held-out mean pixel value
    (:func:`locornn.reproduce.sequence_ablation.mean_frame_mse`: the data are generated again from
    the run's config), and the wave metrics of ``waves.json`` (trained) and
    ``waves_untrained.json``, raw and on the reference's band. For runs whose checkpoints stayed
    on another machine (``locornn reproduce runs-table``)."""
    from locornn.reproduce.sequence_ablation import mean_frame_mse

    run_dirs = [pathlib.Path(run) for run in run_dirs]
    baselines = [_cell(mean_frame_mse(configs.from_dict(json.loads(
        (run / "config.json").read_text())))) if mean_frame else "-" for run in run_dirs]
    rows = ["| run | data | steps | held-out MSE | mean-frame MSE | state | signal | "
            + " | ".join(TABLE_METRICS.values()) + " |",
            "|---|---|---:|---:|---:|---|---|" + "---:|" * len(TABLE_METRICS)]
    for run, baseline in zip(run_dirs, baselines, strict=True):
        summary = json.loads((run / "summary.json").read_text())
        head = [f"`{run}`", fingerprint.label(summary.get("data")), str(summary["steps"]),
                _cell(summary["test"]["mse"]), baseline]
        for state, name in (("untrained", "waves_untrained.json"), ("trained", "waves.json")):
            path = run / name
            if not path.is_file():
                continue
            report = json.loads(path.read_text())
            for signal, key in (("raw z", "metrics"), ("reference band", "metrics_reference_band")):
                if key in report:
                    cells = [*head, state, signal,
                             *(_cell(report[key].get(k)) for k in TABLE_METRICS)]
                    rows.append("| " + " | ".join(cells) + " |")
                    head = [""] * len(head)
    out_path = pathlib.Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(rows) + "\n")
    return out_path


# ----------------------------------------------------------------------------------------------
# Figure 2: orientation maps and the domain-size sweep
# ----------------------------------------------------------------------------------------------

FIGURE2_PANELS = ("trained on waves", "trained on noise", "untrained")
SWEEP_AXES = {"wavelength": "training wavelength (px)", "kernel": "coupling kernel size"}
FIGURE2_EXPECTATION = (
    "The paper leads one to expect orientation-selective neurons arranged in smooth domains "
    "after training on sine waves, domains that grow with the training wavelength and with the "
    "coupling kernel size, and no such maps after training on noise or without training.")


def _ensure_maps(workdir: pathlib.Path) -> None:
    """Run the orientation analysis (trained and untrained) where its outputs are missing, or
    were written without every protocol or with another protocol than ``analysis.protocol``."""
    from locornn.analysis.topography import orientation

    config = configs.from_dict(json.loads((workdir / "config.json").read_text()))
    for untrained in (False, True):
        paths = orientation.output_paths(workdir, untrained)
        if paths["json"].is_file() and paths["maps"].is_file():
            summary = json.loads(paths["json"].read_text())
            if "protocols" in summary and summary.get("protocol") == config.analysis.protocol:
                continue
        _say(f"orientation analysis of {workdir}{' (untrained)' if untrained else ''}")
        orientation.run_analysis(workdir, untrained=untrained, **orientation_options(config))


def _ensure_orientation_run(label: str, name: str, workdir_of, *, preset, seed, train_missing,
                            experiments_dir, overrides) -> pathlib.Path | None:
    """A finished ``locornn/experiments/<name>.py`` run with orientation maps (trained + untrained),
    in ``workdir_of(config)``; ``None`` (with a note) when missing and not trained."""
    config = _load_config(name, preset, seed, experiments_dir, overrides)
    if config is None:
        return None
    workdir = ensure_trained(label, config, workdir_of(config), train_missing)
    if workdir is not None:
        _ensure_maps(workdir)
    return workdir


def _selectivity(workdir: pathlib.Path, untrained: bool) -> dict:
    from locornn.analysis.topography import orientation

    return json.loads(orientation.output_paths(workdir, untrained)["json"].read_text())


def _value(summary: dict, key: str) -> float:
    value = summary.get(key)
    return math.nan if value is None else float(value)


def _label(value) -> str:
    return f"{float(value):g}"


def _sweep_plot(rows: list[dict], out_path: pathlib.Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.4), squeeze=False)
    for ax, (axis, xlabel) in zip(axes[0], SWEEP_AXES.items(), strict=True):
        points = sorted((r for r in rows if r["sweep"] == axis), key=lambda r: r["value"])
        x = [r["value"] for r in points]
        ax.plot(x, [_value(r["trained"], "domain_size") for r in points], "o-", color="C0",
                label="trained")
        ax.plot(x, [_value(r["untrained"], "domain_size") for r in points], "s--", color="0.5",
                label="untrained")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("domain size (lattice units)")
        if x:
            ax.set_xticks(x)
        ax.grid(alpha=0.3)
        if not points:
            ax.text(0.5, 0.5, "no runs", ha="center", va="center", transform=ax.transAxes)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    plots.save(fig, out_path, dpi=150)


def figure2(results_dir="results", runs_root="runs", preset: str = "cpu", seed: int = 0,
            train_missing: bool = True, wavelengths=(5, 10, 16, 24), kernel_sizes=(3, 5, 7, 9),
            *, experiments_dir=None, overrides=()) -> dict:
    """The paper's Figure 2: orientation maps, and domain size against wavelength and kernel.

    Runs (found finished, i.e. ``summary.json`` at their ``train.num_steps``, or trained with
    :func:`locornn.train.train_and_evaluate`; their orientation analysis is run if missing):

    * waves: ``locornn/experiments/orientation.py`` in ``<runs_root>/orientation/<preset>/<seed>``
      (its trained maps and its ``*_untrained`` maps);
    * noise: ``locornn/experiments/orientation.py`` with ``data.name=noise`` and
      ``experiment=orientation_noise`` (the same lattice, model and analysis on i.i.d. noise
      frames), in ``<runs_root>/orientation_noise/<preset>/<seed>``;
    * the sweep: ``locornn/experiments/orientation.py`` with ``data.wavelength_min =
      data.wavelength_max = w`` in ``<runs_root>/orientation_sweep/<preset>/wavelength_<w>/<seed>``
      (gratings of wavelength ``w``), and with ``model.kernel_size = k`` in
      ``.../kernel_<k>/<seed>``.

    Writes to ``results_dir``: ``figure2.png``
    (:func:`locornn.analysis.topography.map_figures.side_by_side`: trained on waves / trained on
    noise / untrained), ``figure2_sweep.png`` (domain size against training wavelength and against
    kernel size; untrained dashed), ``figure2_sweep_maps.png`` (the sweep's maps in the authors'
    layout, :func:`locornn.analysis.topography.map_figures.sweep_figure`, with the authors' numbers
    :data:`locornn.analysis.topography.domains.AUTHORS_NUMBERS`) and ``figure2.md`` (the numbers:
    domain size, fraction selective, topography z-score, neighbour agreement and domain area beside
    the authors', and every selectivity protocol's numbers, as measured).

    Args:
      train_missing: train missing or unfinished runs; if False they are skipped with a note.
      wavelengths, kernel_sizes: the sweep points (either may be empty).
      experiments_dir, overrides: as in :func:`figure1` (``overrides`` apply to every run).

    Returns:
      ``{"figure", "sweep_figure", "table", "sweep_maps_figure", "maps": {panel: run},
      "sweep": [{"sweep",
      "value", "run", "trained", "untrained"}], "skipped": [labels]}`` (``figure`` is ``None``
      when neither the waves nor the noise run exists).

    Raises:
      RuntimeError: no run at all to draw.
    """
    results_dir, runs_root = pathlib.Path(results_dir), pathlib.Path(runs_root)
    # The control is orientation's own config (lattice, analysis) with noise frames: the noise
    # experiment's presets are the sine waves', whose reference lattice is 32x32, not 72x72.
    noise = ("--config.data.name=noise", "--config.experiment=orientation_noise")
    points = [("wavelength", float(w), (f"--config.data.wavelength_min={float(w)}",
                                        f"--config.data.wavelength_max={float(w)}"))
              for w in wavelengths]
    points += [("kernel", int(k), (f"--config.model.kernel_size={int(k)}",))
               for k in kernel_sizes]
    for extra in ((), noise, *(extra for *_, extra in points)):  # all checked before any work
        _load_config("orientation", preset, seed, experiments_dir, (*overrides, *extra))
    results_dir.mkdir(parents=True, exist_ok=True)
    common = dict(preset=preset, seed=seed, train_missing=train_missing,
                  experiments_dir=experiments_dir)
    skipped, runs = [], {}
    runs["waves"] = _ensure_orientation_run(
        "orientation", "orientation", lambda c: run_dir(runs_root, c),
        overrides=tuple(overrides), **common)
    runs["noise"] = _ensure_orientation_run(
        "orientation_noise", "orientation", lambda c: run_dir(runs_root, c),
        overrides=(*overrides, *noise), **common)
    sweep_root = runs_root / "orientation_sweep" / preset
    sweep = []
    for axis, value, extra in points:
        folder = f"{axis}_{_label(value)}"
        workdir = _ensure_orientation_run(
            f"orientation_sweep {folder}", "orientation",
            lambda c, folder=folder: sweep_root / folder / str(c.seed),
            overrides=(*overrides, *extra, "--config.experiment=orientation_sweep"), **common)
        if workdir is None:
            skipped.append(f"sweep {folder}")
            continue
        sweep.append({"sweep": axis, "value": value, "run": str(workdir),
                      "trained": _selectivity(workdir, False),
                      "untrained": _selectivity(workdir, True)})
    skipped += [name for name in ("waves", "noise") if runs[name] is None]

    from locornn.analysis.topography import map_figures, orientation

    maps, sources = {}, {}
    if runs["waves"] is not None:
        maps[FIGURE2_PANELS[0]] = orientation.load_maps(runs["waves"])
        sources[FIGURE2_PANELS[0]] = (runs["waves"], False)
    if runs["noise"] is not None:
        maps[FIGURE2_PANELS[1]] = orientation.load_maps(runs["noise"])
        sources[FIGURE2_PANELS[1]] = (runs["noise"], False)
    if runs["waves"] is not None:
        maps[FIGURE2_PANELS[2]] = orientation.load_maps(runs["waves"], untrained=True)
        sources[FIGURE2_PANELS[2]] = (runs["waves"], True)
    if not maps and not sweep:
        raise RuntimeError(f"no run to draw for Figure 2 (skipped: {', '.join(skipped)})")

    figure = None
    if maps:
        figure = results_dir / "figure2.png"
        map_figures.side_by_side(maps, figure,
                                 title=f"Orientation maps ({preset} preset, seed {seed})")
    sweep_figure = results_dir / "figure2_sweep.png"
    _sweep_plot(sweep, sweep_figure, f"Orientation domain size ({preset} preset, seed {seed})")
    sweep_maps = None
    if sweep:
        sweep_maps = results_dir / "figure2_sweep_maps.png"
        map_figures.sweep_figure(
            {(r["sweep"], r["value"]): orientation.load_maps(r["run"]) for r in sweep},
            sweep_maps, reference=domains.AUTHORS_NUMBERS,
            title=f"Orientation maps of the sweep ({preset} preset, seed {seed}; "
                  f"neighbour agreement, domain area in sites; authors' below)")

    lines = [f"# Orientation selectivity and maps (Figure 2; {preset} preset, seed {seed})", "",
             FIGURE2_EXPECTATION, "",
             "The numbers below are measured by "
             "`locornn.analysis.topography.orientation.run_analysis` (static gratings at 8 "
             "orientations, Cohen's d >= the run's `analysis.threshold` for a selective neuron; "
             "domain size in lattice units; topography z-score against shuffled positions; NaN "
             "where undefined) and reported as they came out, whether or not they match that "
             "expectation. Untrained: freshly initialised parameters from the run's seed.", "",
             "## Maps", ""]
    metrics = {"fraction_selective": "fraction selective", "domain_size": "domain size",
               "topography_zscore": "topography z-score",
               "neighbour_correlation": "neighbour correlation"}
    if sources:
        lines += ["| panel | run | grating wavelength (px) | "
                  + " | ".join(metrics.values()) + " |",
                  "|---|---|---:|" + "---:|" * len(metrics)]
        for panel, (workdir, untrained) in sources.items():
            summary = _selectivity(workdir, untrained)
            lines.append(f"| {panel} | `{workdir}` | {_cell(summary['stimuli']['wavelength'])} | "
                         + " | ".join(_cell(_value(summary, k)) for k in metrics) + " |")
    else:
        lines.append("No waves or noise run.")
    protocol_rows = []
    for panel, (workdir, untrained) in sources.items():
        for name, numbers in (_selectivity(workdir, untrained).get("protocols") or {}).items():
            cells = ["n/a"] * 5 if numbers is None else [
                _cell(_value(numbers, k)) for k in ("fraction_selective", "mean_max_d",
                                                    "neighbour_agreement", "chance_agreement",
                                                    "domain_area")]
            protocol_rows.append(f"| {panel} | {name} | " + " | ".join(cells) + " |")
    if protocol_rows:
        lines += ["", "## Protocols", "",
                  "Every selectivity protocol on the same gratings (`docs/orientation.md`): "
                  "`phases` (phases as the samples of d; the map above unless "
                  "`analysis.protocol` says otherwise), `trials` (noisy presentations at the "
                  "best phase), `amplitude` (phase-invariant |z - z_blank|). Neighbour "
                  "agreement: fraction of 4-neighbour pairs of selective sites with the same "
                  "preferred orientation (chance: the sum of squared label frequencies); domain "
                  "area: area-weighted mean area of same-orientation domains, in sites.", "",
                  "| panel | protocol | fraction selective | mean max d | neighbour agreement "
                  "| chance | domain area |", "|---|---|---:|---:|---:|---:|---:|",
                  *protocol_rows]
    lines += ["", "## Sweep", "",
              "Wavelength rows: trained on one wavelength (`data.wavelength_min = "
              "data.wavelength_max`), probed with gratings of that wavelength. Kernel rows: "
              "`model.kernel_size`, trained on the preset's wavelength range and probed at its "
              "middle.", ""]
    header = ["sweep", "value", "grating wavelength (px)", "domain size (trained)",
              "domain size (untrained)", "fraction selective (trained)",
              "fraction selective (untrained)", "topography z (trained)",
              "topography z (untrained)", "neighbour agreement (trained)",
              "domain area in sites (trained)", "authors' neighbour agreement",
              "authors' domain area"]
    lines += ["| " + " | ".join(header) + " |", "|---|---:|" + "---:|" * (len(header) - 2)]
    for row in sweep:
        t, u = row["trained"], row["untrained"]
        cells = [SWEEP_AXES[row["sweep"]], _label(row["value"]),
                 _cell(t["stimuli"]["wavelength"]),
                 _cell(_value(t, "domain_size")), _cell(_value(u, "domain_size")),
                 _cell(_value(t, "fraction_selective")), _cell(_value(u, "fraction_selective")),
                 _cell(_value(t, "topography_zscore")), _cell(_value(u, "topography_zscore")),
                 _cell(_value(t, "neighbour_agreement")), _cell(_value(t, "domain_area"))]
        authors = domains.AUTHORS_NUMBERS.get((row["sweep"], row["value"]))
        cells += ["n/a", "n/a"] if authors is None else [_cell(v) for v in authors]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Runs: " + "; ".join(
        [f"{k} `{v}`" for k, v in runs.items() if v is not None]
        + [f"sweep under `{sweep_root}`"]) + "."]
    if skipped:
        lines.append(f"Skipped (no finished run): {', '.join(skipped)}.")
    table = results_dir / "figure2.md"
    table.write_text("\n".join(lines) + "\n")
    _say(f"wrote {figure or '(no maps)'}, {sweep_figure} and {table}")
    return {"figure": None if figure is None else str(figure),
            "sweep_figure": str(sweep_figure), "table": str(table),
            "sweep_maps_figure": None if sweep_maps is None else str(sweep_maps),
            "maps": {panel: str(w) for panel, (w, _) in sources.items()},
            "sweep": sweep, "skipped": skipped}


# ----------------------------------------------------------------------------------------------
# Command line: ``locornn reproduce figure1|waves-table|figure2|runs-table``
# ----------------------------------------------------------------------------------------------


def _command(args) -> int:
    kwargs = dict(results_dir=args.results_dir, runs_root=args.runs_root, preset=args.preset,
                  seed=args.seed, experiments=tuple(args.experiments),
                  overrides=tuple(args.overrides))

    def action():
        if args.artifact == "figure1":
            result = figure1(train_missing=not args.no_train, **kwargs)
            print(f"wrote {result['figure']}")
        else:
            result = waves_table(train_missing=not args.no_train,
                                 num_sequences=args.num_sequences, **kwargs)
            print(pathlib.Path(result["table"]).read_text())

    return guarded(action, RuntimeError, ValueError)


def _figure2_command(args) -> int:
    def action():
        result = figure2(args.results_dir, args.runs_root, preset=args.preset, seed=args.seed,
                         train_missing=not args.no_train, wavelengths=tuple(args.wavelengths),
                         kernel_sizes=tuple(args.kernel_sizes),
                         overrides=tuple(args.overrides))
        print(pathlib.Path(result["table"]).read_text())

    return guarded(action, RuntimeError, ValueError)


def _run_arguments(p, no_train_help: str) -> None:
    """The options every figure command shares: which runs, where they and the results go."""
    p.add_argument("--preset", default="cpu", choices=configs.PRESETS,
                   help="preset of every experiment the figure draws (default cpu)")
    p.add_argument("--seed", type=configs.field_flag("seed"), default=0,
                   help="training seed (default 0)")
    p.add_argument("--results-dir", default="results", metavar="DIR", type=path_flag(),
                   help="where the figure and its tables go (default: results)")
    p.add_argument("--runs-root", default="runs", metavar="DIR", type=path_flag(),
                   help="where runs live: DIR/<experiment>/<preset>/<seed> (default: runs)")
    p.add_argument("--no-train", action="store_true", help=no_train_help)


DESCRIPTIONS = {
    "figure1": "Assemble Figure 1 (one quadrant per experiment: input, hidden z, prediction) "
               "into RESULTS_DIR/figure1.png and one GIF per quadrant, training missing runs "
               "with the given preset. --config.* overrides apply to every run.",
    "waves-table": "Measure the wave metrics of every experiment, untrained and trained, into "
                   "RESULTS_DIR/waves.md, training missing runs with the given preset. "
                   "--config.* overrides apply to every run.",
    "figure2": "Figure 2: orientation maps trained on waves / on noise / untrained "
               "(RESULTS_DIR/figure2.png), and the orientation domain size against the training "
               "wavelength and the coupling kernel size (figure2_sweep.png, figure2.md), "
               "training missing runs with the given preset. --config.* overrides apply to "
               "every run (e.g. --config.train.kl_weight=0.5); a run of another config is "
               "refused, naming the keys.",
    "runs-table": "A Markdown table of finished runs from their files (no checkpoints needed): "
                  "held-out MSE and wave metrics.",
}


def add_arguments(p, name: str) -> None:
    """Give the parser of ``locornn reproduce <name>`` its arguments and function."""
    p.description = DESCRIPTIONS[name]
    if name in ("figure1", "waves-table"):
        _run_arguments(p, "skip experiments without a finished run instead of training them")
        p.add_argument("--experiments", nargs="+", default=list(EXPERIMENTS), metavar="NAME",
                       choices=EXPERIMENTS,
                       help=f"the experiments to draw (default: {' '.join(EXPERIMENTS)})")
        if name == "waves-table":
            p.add_argument("--num-sequences", type=flag(at_least(1), int), default=8,
                           help="held-out sequences per measurement (default 8)")
        p.set_defaults(func=_command, takes_overrides=True)
    elif name == "figure2":
        _run_arguments(p, "skip runs that are not finished instead of training them")
        p.add_argument("--wavelengths", type=configs.field_flag("data.wavelength_min"),
                       nargs="*", default=[5, 10, 16, 24], metavar="PX",
                       help="training wavelengths of the sweep (default 5 10 16 24; none: no "
                            "wavelength sweep)")
        p.add_argument("--kernel-sizes", type=configs.field_flag("model.kernel_size"),
                       nargs="*", default=[3, 5, 7, 9], metavar="K",
                       help="coupling kernel sizes of the sweep (default 3 5 7 9; none: no "
                            "kernel-size sweep)")
        p.set_defaults(func=_figure2_command, takes_overrides=True)
    else:
        p.add_argument("runs", nargs="+", metavar="RUN_DIR", type=path_flag("dir"),
                       help="run directories (summary.json, waves*.json)")
        p.add_argument("--out", required=True, type=path_flag(folder=None),
                       help="the Markdown file to write")
        p.add_argument("--mean-frame", action="store_true",
                       help="also the MSE of predicting the held-out mean pixel value "
                            "(generates each run's held-out data again from its config.json)")
        p.set_defaults(func=lambda args: guarded(lambda: print(runs_table(
            args.runs, args.out, args.mean_frame).read_text())))
