"""Which detail of the reference code turns rotating MNIST's phase into stripes: a factor screen.

The ``reference`` preset of ``rotating_mnist`` (:mod:`locornn.experiments.rotating_mnist`) sets
every detail of the reference code (``REFERENCE_CODE_DETAILS``: PyTorch's linear init, z0 from
its own sample of frame 0, LayerNorm eps 1e-5, raw dt -1.95, the encoder's unused half with its
KL, the Bernoulli clamp, rotation about (H/2, W/2)). A full-budget run without them (locornn's
defaults, the ``details_off`` variant) ended with its band-passed phase a checkerboard,
neighbours in anti-phase, where the authors' videos show plane-wave stripes several sites
apart. Each variant here turns one group of details on from ``details_off`` (or changes the
batch); ``reference`` has them all. Every variant is trained on each data source
(``SOURCES``: an MNIST-format IDX folder such as Fashion-MNIST's, and the built-in scikit-learn
digits) at a short screening budget, then measured with
:func:`locornn.analysis.waves.phase_map.phase_map_metrics` on held-out sequences (the wave report).

The screening budget (``SCREEN``) is the reference's batch (128) for the first 1000 of its
18,750 steps, on 8192 training sequences, so that a dozen runs fit on two CPU cores; the table
names it. The full reference run's probes show its lattice pattern formed within 750 steps. Runs go
to ``<root>/phase_screen/<source>/<variant>/rotating_mnist/reference/<seed>`` and are reused when
finished, so the command can be stopped and restarted.

``locornn reproduce phase-screen --mnist-dir DIR`` writes
``results/phase_screen_rotating_mnist_seed<seed>.md`` and ``.csv``.
"""

from __future__ import annotations

import gc
import json
import pathlib

import jax

from locornn import configs
from locornn.reproduce import table
from locornn.reproduce.runs import ensure_trained, run_dir
from locornn.reproduce.sequence_ablation import mean_frame_mse

EXPERIMENT = "rotating_mnist"

# locornn's defaults for each field the rotating-MNIST reference preset takes from the
# reference code (configs.REFERENCE_CODE_DETAILS and its two artefacts): what `details_off` sets
DETAILS_OFF = {key: configs.flatten(configs.base_config())[key]
               for key in (*configs.REFERENCE_CODE_DETAILS, "model.unused_latents",
                           "data.rotation_centre")}

# name -> (what it changes, the fields it keeps at the reference's value, other fields)
VARIANTS: dict[str, tuple[str, tuple[str, ...], dict]] = {
    "details_off": ("none of the reference code's details (locornn's defaults)", (), {}),
    "details_off_batch32": ("none of the details, batch 32 instead of 128", (),
                            {"train.batch_size": 32}),
    "pytorch_init": ("PyTorch's linear-layer init (weights and biases U(+-1/sqrt(fan_in)))",
                     ("model.linear_init",), {}),
    "independent_z0": ("z0 from its own sample of frame 0", ("model.initial_noise",), {}),
    "half_size_centre": ("digits rotated about (H/2, W/2)", ("data.rotation_centre",), {}),
    "small_details": ("LayerNorm eps 1e-5, raw dt -1.95, the unused latents with their KL, "
                      "the Bernoulli clamp at 1.19e-7",
                      ("model.layernorm_eps", "model.dt", "model.unused_latents",
                       "train.bce_eps"), {}),
    "reference": ("all of them (the reference preset)", tuple(DETAILS_OFF), {}),
}

SOURCES = ("idx", "digits")

# The screening budget: the reference's batch, the first 1000 of its 18,750 steps (a lattice
# pattern forms within the first 750: the full run's probes), 8192 training sequences
SCREEN = {"train.num_steps": 1000, "train.batch_size": 128, "data.num_train": 8192,
          "data.num_test": 256, "train.eval_every": 500, "train.checkpoint_every": 500,
          "train.log_every": 50}


def overrides(variant: str, source: str, mnist_dir: str = "", steps: int = 0,
              budget: dict | None = None) -> list[str]:
    """``--config.*`` overrides of one screen run on top of the reference preset (``budget``:
    fields in place of :data:`SCREEN`, e.g. a tiny one in tests)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown phase-screen variant {variant!r}; choose from {list(VARIANTS)}")
    if source not in SOURCES:
        raise ValueError(f"unknown digit source {source!r}; choose from {SOURCES}")
    if source == "idx" and not mnist_dir:
        raise ValueError("the 'idx' source needs --mnist-dir (a folder of MNIST-format IDX "
                         "files, e.g. Fashion-MNIST's)")
    _, kept, extra = VARIANTS[variant]
    fields = {key: value for key, value in DETAILS_OFF.items() if key not in kept}
    fields.update({**(SCREEN if budget is None else budget), **extra})
    if steps:
        fields["train.num_steps"] = steps
    fields["data.mnist_source"] = source
    if source == "idx":
        fields["data.mnist_dir"] = str(mnist_dir)
    return [f"--config.{key}={value}" for key, value in fields.items()]


def _row(variant: str, source: str, summary: dict, waves: dict, baseline: float,
         batch_size: int) -> dict:
    row = {"variant": variant, "source": source, "steps": summary["steps"],
           "batch_size": batch_size,
           "mse": summary["test"]["mse"], "mse_over_mean_frame": summary["test"]["mse"] / baseline,
           "loss": summary["test"]["loss"],
           "traveling": waves["metrics_reference_band"]["traveling_wave_strength"]}
    for state, report in (("trained", waves), ("untrained", waves.get("untrained", {}))):
        phase = report.get("phase_map", {})
        for key in ("mean_wavelength", "peak_wavelength", "neighbour_phase_difference",
                    "plane_wave_fraction"):
            row[f"{key}_{state}"] = phase.get(key, float("nan"))
    row["description"] = VARIANTS[variant][0]
    return row


def _wave_reports(workdir: pathlib.Path) -> dict:
    """The run's trained wave report with the untrained one under ``"untrained"``, computed
    when missing or older than the phase-map measurement."""
    from locornn.analysis.waves.report import output_paths, wave_report

    reports = {}
    for untrained in (False, True):
        path = output_paths(workdir, untrained)["json"]
        report = json.loads(path.read_text()) if path.is_file() else {}
        if "phase_map" not in report:
            report = wave_report(workdir, untrained=untrained)
        reports[untrained] = report
    return {**reports[False], "untrained": reports[True]}


def run_screen(*, mnist_dir: str = "", sources=SOURCES, variants=tuple(VARIANTS),
               seed: int = 0, steps: int = 0, root="runs", results="results",
               progress: bool = True, budget: dict | None = None,
               train_missing: bool = True) -> pathlib.Path:
    """Train (or reuse) every variant on every source; write the table; return its path.
    Without ``train_missing`` the table has the finished runs only (and says which are
    missing)."""
    rows, missing = [], []
    for source in sources:
        baseline = None
        for variant in variants:
            config = configs.load(f"{EXPERIMENT}:reference",
                                  [*overrides(variant, source, mnist_dir, steps, budget),
                                   f"--config.seed={seed}"])
            workdir = run_dir(pathlib.Path(root) / "phase_screen" / source / variant, config)
            if not ensure_trained(f"{source}/{variant}", config, workdir,
                                  train_missing=train_missing, progress=progress):
                missing.append(f"{source}/{variant}")
                continue
            if baseline is None:
                baseline = mean_frame_mse(config)
            summary = json.loads((workdir / "summary.json").read_text())
            rows.append(_row(variant, source, summary, _wave_reports(workdir), baseline,
                             config.train.batch_size))
            gc.collect()
            jax.clear_caches()
    if not rows:
        raise FileNotFoundError(f"no finished phase-screen run under {root} (missing: "
                                f"{', '.join(missing)})")
    return write_table(rows, pathlib.Path(results), seed, SCREEN if budget is None else budget,
                       missing)


def write_table(rows: list[dict], results: pathlib.Path, seed: int,
                budget: dict | None = None, missing=()) -> pathlib.Path:
    budget = SCREEN if budget is None else budget
    stem = results / f"phase_screen_rotating_mnist_seed{seed}"
    table.write_csv(stem.with_suffix(".csv"), rows)
    size = (f"batch {budget['train.batch_size']} (where the variant does not say otherwise), "
            f"{budget['data.num_train']} training sequences")
    lines = [
        f"# Phase screen: rotating MNIST at the `reference` preset, seed {seed}", "",
        f"Screening budget: {rows[0]['steps'] if rows else '-'} steps, {size} (the reference: "
        f"18,750 steps at batch 128). Each variant turns a group of the reference code's details "
        f"on from locornn's defaults. Phase metrics on the reference band (Butterworth 0.2-0.4 "
        f"of Nyquist, Hilbert phase), last 18 frames of held-out 72-frame sequences: mean "
        f"wavelength (sites; 1 / power-weighted mean spatial frequency of e^(i phase)), "
        f"neighbour phase difference (rad; random phases pi/2, a checkerboard pi), plane-wave "
        f"fraction (sites whose 5x5 patch fits a plane wave of wavelength >= 3 sites). The "
        f"authors' trained videos: wavelength 4.5-5.0, neighbour difference 0.78-0.89; "
        f"before training 2.7 and 1.52.", "",
        "| data | variant | batch | held-out MSE / mean frame | traveling | wavelength (trained) | "
        "neighbour diff. (trained) | plane-wave fraction (trained) | wavelength (untrained) | "
        "neighbour diff. (untrained) | what it turns on |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(
            f"| {r['source']} | {r['variant']} | {r['batch_size']} | "
            f"{r['mse_over_mean_frame']:.2f} | "
            f"{r['traveling']:.2f} | {r['mean_wavelength_trained']:.2f} | "
            f"{r['neighbour_phase_difference_trained']:.2f} | "
            f"{r['plane_wave_fraction_trained']:.2f} | {r['mean_wavelength_untrained']:.2f} | "
            f"{r['neighbour_phase_difference_untrained']:.2f} | {r['description']} |")
    if missing:
        lines += ["", f"Not run: {', '.join(missing)}."]
    md = stem.with_suffix(".md")
    md.write_text("\n".join(lines) + "\n")
    return md
