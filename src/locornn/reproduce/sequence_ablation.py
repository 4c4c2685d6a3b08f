"""Why a sequence experiment learns nothing at its reference preset: one change at a time.

At the ``reference`` preset (the reference code's rotating-MNIST recipe, DESIGN.md section 2b)
the sine-wave experiments end at the loss of a network that predicts the mean frame (measured
on a GPU at the full 18,750 steps: README "Figures 1 and 2 at the reference preset"). Each
variant below changes one of the recipe's choices back to locornn's default (or doubles down
on it) and trains for a short budget; the table says which change lets the held-out error leave
the mean-frame level. The runs go to ``<root>/sequence_ablation/<variant>/<experiment>/
<preset>/<seed>`` and are reused when finished, so the command can be stopped and restarted.

``locornn reproduce ablation --config waves:reference [--train-steps 1000]`` (``make ablation
EXP=waves PRESET=reference``) writes ``results/sequence_ablation_<experiment>_<preset>.md``
and ``.csv``.
"""

from __future__ import annotations

import gc
import json
import pathlib

import jax
import numpy as np
from tqdm.auto import tqdm

from locornn import configs, data, train
from locornn.analysis.lattice import coupling
from locornn.reproduce import table
from locornn.reproduce.runs import ensure_trained, run_dir

EXPERIMENTS = ("waves", "noise", "orientation", "rotating_mnist")

# name -> (what it changes relative to the preset, fields)
VARIANTS: dict[str, tuple[str, dict]] = {
    "reference": ("nothing: the preset as it is", {}),
    "adam": ("Adam at lr 1e-3 instead of SGD (momentum 0.9) at lr 2.5e-4",
             {"train.optimizer": "adam", "train.learning_rate": 1e-3}),
    "sum_over_frames": ("loss summed over frames instead of averaged (20x the gradient that "
                        "SGD sees: a learning-rate change, Adam would not notice)",
                        {"train.time_reduction": "sum"}),
    "dt_0.5": ("dt 0.5 instead of 0.125 (oscillator period ~13 frames instead of ~50)",
               {"model.dt": 0.5}),
    "deterministic_encoder": ("a linear encoder, no sampling noise and no KL, instead of the "
                              "Gaussian (VAE) encoder",
                              {"model.encoder": "mlp", "model.initial_noise": "shared"}),
    # the Gaussian encoder keeps its sampling noise but pays less for telling the lattice
    # about each frame
    **{f"kl_{weight}": (f"KL weight {weight} instead of 1", {"train.kl_weight": weight})
       for weight in (0.7, 0.5, 0.3, 0.1, 0.01)},
    "lecun_init": ("LeCun-normal K_z, K_v, K_x instead of the constant 1/sites",
                   {"model.coupling_init": "lecun"}),
    "speed_range": ("sine waves drifting at 0.5-2 px a frame (temporal periods 2.5-48 frames) "
                    "instead of periods of 10-30 frames",
                    {"data.period_min": 0.0, "data.period_max": 0.0}),
    "flax_init": ("Flax's linear-layer init (LeCun-normal weights, zero biases) instead of "
                  "PyTorch's (weights and biases U(+-1/sqrt(fan_in)))",
                  {"model.linear_init": "flax"}),
    "locornn_defaults": ("all of the above back to locornn's defaults at once (deterministic "
                         "encoder, Flax's linear init, LeCun couplings, one bias per channel, "
                         "z0 = 0, squared error summed over frames, Adam at 1e-3; dt kept): the "
                         "positive control",
                         {"model.encoder": "mlp", "model.initial_noise": "shared",
                          "model.linear_init": "flax", "model.layernorm_eps": 1e-6,
                          "model.coupling_init": "lecun",
                          "model.site_bias": False, "model.initial_state": "zeros",
                          "train.loss": "mse", "train.time_reduction": "sum",
                          "train.optimizer": "adam", "train.learning_rate": 1e-3}),
}


def describe(variant: str) -> tuple[str, dict]:
    """``(what it changes, its fields)`` of a variant, or of several joined by ``+`` (e.g.
    ``speed_range+dt_0.5``: both changes at once)."""
    parts = variant.split("+")
    for part in parts:
        if part not in VARIANTS:
            raise configs.ConfigError(f"unknown ablation variant {part!r}; choose from "
                                      f"{list(VARIANTS)}, or several joined by '+'")
    fields = {}
    for part in parts:
        fields.update(VARIANTS[part][1])
    return "; ".join(VARIANTS[part][0] for part in parts), fields


def overrides(variant: str, steps: int) -> list[str]:
    """``--config.*`` overrides of a variant trained for ``steps`` steps."""
    fields = {**describe(variant)[1], "train.num_steps": steps}
    if steps < 750:  # evaluate and checkpoint at least twice
        fields.update({"train.eval_every": max(steps // 2, 1),
                       "train.checkpoint_every": max(steps // 2, 1)})
    return [f"--config.{key}={value}" for key, value in fields.items()]


def mean_frame_mse(config) -> float:
    """Held-out MSE of predicting every frame as the held-out set's mean pixel value: the level
    a network sits at when it has learned nothing about the sequences' motion."""
    # the generated sets' test split is fold_in(seed, 1) alone: skip the train split
    if config.data.name in ("waves", "retinal", "noise"):
        config = configs.override(configs.from_dict(config.to_dict()),
                                  {"data.num_train": config.train.batch_size})
    test = data.load(config.data).test
    return float(np.var(test[:, 1:]))


def _row(variant: str, summary: dict, baseline: float, coupled: dict) -> dict:
    waves = summary.get("waves", {})
    trained, untrained = waves.get("trained", {}), waves.get("untrained", {})
    return {"variant": variant, "mse": summary["test"]["mse"],
            "mse_over_mean_frame": summary["test"]["mse"] / baseline,
            "loss": summary["test"]["loss"],
            "traveling_trained": trained.get("traveling_wave_strength", float("nan")),
            "traveling_untrained": untrained.get("traveling_wave_strength", float("nan")),
            "wavelength_sites": trained.get("autocorrelation_length", float("nan")),
            "phase_wavelength": trained.get("phase_mean_wavelength", float("nan")),
            "neighbour_phase_difference": trained.get("phase_neighbour_phase_difference",
                                                      float("nan")),
            "plane_wave_fraction": trained.get("phase_plane_wave_fraction", float("nan")),
            "position_spread": coupled["spread"].get("position", float("nan")),
            "encoder_topography": coupled["encoder_topography"],
            "train_seconds": summary["train_seconds_this_session"],
            "description": describe(variant)[0], "data": table.data_label([summary])}


def _diverged_row(variant: str, message: str) -> dict:
    nan = float("nan")
    return {"variant": variant, "mse": nan, "mse_over_mean_frame": nan, "loss": nan,
            "traveling_trained": nan, "traveling_untrained": nan, "wavelength_sites": nan,
            "phase_wavelength": nan, "neighbour_phase_difference": nan,
            "plane_wave_fraction": nan, "position_spread": nan, "encoder_topography": nan,
            "train_seconds": nan,
            "description": f"{describe(variant)[0]}. DIVERGED: {message.split(';')[0]}",
            "data": ""}


def run_ablation(experiment: str = "waves", preset: str = "reference", *, steps: int = 1000,
                 variants=tuple(VARIANTS), seed: int = 0, root="runs", results="results",
                 extra_overrides=(), experiments_dir=None,
                 progress: bool = True) -> pathlib.Path:
    """Train (or reuse) every variant; write ``results/sequence_ablation_<experiment>_<preset>``
    ``.md`` and ``.csv``; return the markdown path."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"the sequence ablation is for {EXPERIMENTS}, not {experiment!r} (the "
                         f"Hamiltonian ablation: locornn reproduce ablation --config "
                         f"hamiltonian:PRESET)")
    name = experiment if experiments_dir is None else pathlib.Path(experiments_dir) / \
        f"{experiment}.py"
    spec = f"{name}:{preset}"
    rows, baseline = [], None
    loaded = {variant: configs.load(spec, [*overrides(variant, steps), f"--config.seed={seed}",
                                           *extra_overrides])
              for variant in variants}  # every variant's config checked before any trains
    for number, variant in enumerate(variants, 1):
        config = loaded[variant]
        if baseline is None:
            baseline = mean_frame_mse(config)
        if progress:
            tqdm.write(f"ablation [{number}/{len(variants)}] {variant}: {describe(variant)[0]}")
        workdir = run_dir(pathlib.Path(root) / "sequence_ablation" / variant, config)
        try:
            ensure_trained(variant, config, workdir, progress=progress)
        except train.NonFiniteLossError as error:  # a result too: this change diverges
            rows.append(_diverged_row(variant, str(error)))
            continue
        summary = json.loads((workdir / "summary.json").read_text())
        rows.append(_row(variant, summary, baseline, coupling.coupling_report(workdir)))
        gc.collect()  # each variant builds its own data set (4 GB at the reference preset):
        jax.clear_caches()  # drop compiled programs holding the last one before the next
    stem = pathlib.Path(results) / f"sequence_ablation_{experiment}_{preset}"
    table.write_csv(stem.with_suffix(".csv"), rows)
    lines = [
        f"# Ablation: {experiment} at the `{preset}` preset, {steps} steps, seed {seed}", "",
        *([f"Every variant also has `{' '.join(extra_overrides)}`.", ""]
          if extra_overrides else []),
        f"Each variant changes one choice of the preset (`a+b`: both). MSE: held-out next-frame "
        f"MSE per pixel; "
        f"/ mean frame: that MSE over the MSE of predicting the held-out mean pixel value "
        f"({baseline:.4f}), so 1.00 means nothing was learned; traveling-wave strength of the "
        f"hidden z on held-out sequences, trained and untrained; autocorrelation length of z in "
        f"lattice sites; phase wavelength (sites), neighbour phase difference (rad) and "
        f"plane-wave fraction of the band-passed phase (locornn.analysis.waves.phase_map); K_z "
        f"spread: the share of the position kernel's |weight| off its centre tap (0: every "
        f"site on its own; 1 - 1/k^2 at initialisation, 0.89 for 3x3) and encoder topography: "
        f"the correlation of "
        f"neighbouring sites' encoder weights (0: independent; locornn.analysis.lattice.coupling); "
        f"train s: wall time here.", "",
        "| variant | held-out MSE | / mean frame | held-out loss | traveling (trained) | "
        "traveling (untrained) | autocorr. length | phase wavelength | neighbour phase diff. | "
        "plane-wave fraction | K_z spread | encoder topography | train s | what it changes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['mse']:.4f} | {r['mse_over_mean_frame']:.2f} | "
                     f"{r['loss']:.1f} | {r['traveling_trained']:.2f} | "
                     f"{r['traveling_untrained']:.2f} | {r['wavelength_sites']:.2f} | "
                     f"{r['phase_wavelength']:.2f} | {r['neighbour_phase_difference']:.2f} | "
                     f"{r['plane_wave_fraction']:.2f} | {r['position_spread']:.2f} | "
                     f"{r['encoder_topography']:+.3f} | "
                     f"{r['train_seconds']:.0f} | {r['description']} |")
    md = stem.with_suffix(".md")
    md.write_text("\n".join(lines) + "\n")
    return md
