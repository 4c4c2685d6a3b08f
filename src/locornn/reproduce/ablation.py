"""Which change moves LocoRNN's VPT: one command, one table (``locornn reproduce ablation``).

Each variant is a named set of config fields applied on top of an experiment preset
(``locornn/experiments/hamiltonian.py:<preset>``); every variant spells out *all* the fields the
ablation varies, so a variant means the same thing whatever the preset's defaults are. The
windows are the cpu preset's (64 frames, or 128 for the long-window variants, VPT counted from
frame 64 in both); on another preset pass ``--config.data.sequence_length`` and
``--config.evaluation.vpt_start``, which apply after the variant's fields. Runs go
to ``runs/ablation/<variant>/hamiltonian/<preset>/<system>/<model>/<seed>/`` and are reused
when finished (:func:`locornn.reproduce.table.run_cell`), so the command can be interrupted and
restarted. The table (``results/ablation_<preset>_<system>_<model>_seed<seeds>.md`` and
``.csv``, e.g. ``ablation_cpu_mass_spring_locornn_seed0-1-2.md``) gives per variant: VPT of
every seed and their mean (and, in one sentence, the largest VPT each variant's protocol can
measure: :func:`locornn.tasks.vpt_cap`), held-out window MSE, the learned damping (``alpha``
and the velocity kernel's sum, the two ways the open-loop lattice was measured to damp itself
out), the free decay time of the lattice (:mod:`locornn.analysis.lattice.free_decay`) and the
training time.
"""

from __future__ import annotations

import pathlib

import numpy as np
from tqdm.auto import tqdm

from locornn import configs
from locornn.reproduce import table

# The fields every variant sets (the open-loop model of the first Table 1 unless changed: its
# 64-frame windows, VPT from their end). Windows are in frames of the cpu preset's trajectories;
# on another preset override data.sequence_length / evaluation.vpt_start after the variant.
_OPEN_LOOP = {
    "data.sequence_length": 64, "evaluation.vpt_start": 0,
    "model.rollout": "open_loop", "model.coupling_init": "lecun", "model.site_bias": False,
    "model.decode_velocity": False, "model.state_from_gru": False, "model.alpha": 0.5,
    "model.alpha_max": 0.0, "model.velocity_kernel_sum": "free", "train.late_weight": 1.0,
    "train.curriculum_steps": 0, "train.closed_loop_frames": 0,
}
# The reference's autoregressive model (DESIGN.md section 2a), trained by teacher forcing.
_REFERENCE = {
    **_OPEN_LOOP, "model.rollout": "autoregressive", "model.coupling_init": "smoothing",
    "model.site_bias": True, "model.decode_velocity": True, "model.state_from_gru": True,
}
# The horizon study: the training window alone varies, on 256-frame training trajectories (so
# the longest window is a whole trajectory), VPT from frame 64 on the paper's 1000-frame test
# trajectories, so that a forecast valid far past the longest window can show it (cap 936).
_HORIZON = {**_OPEN_LOOP, "data.trajectory_length": 256, "data.test_sequence_length": 1000,
            "evaluation.vpt_start": 64}

# name -> (what it changes, fields)
VARIANTS: dict[str, tuple[str, dict]] = {
    "open_loop": ("open loop, as the first Table 1 (GRU -> (z0, v0), no input after)",
                  _OPEN_LOOP),
    "zero_sum_kv": ("open loop, K_v constrained to sum 0 (no net damping through tanh)",
                    {**_OPEN_LOOP, "model.velocity_kernel_sum": "zero"}),
    "alpha_cap": ("open loop, alpha capped at its initial 0.5",
                  {**_OPEN_LOOP, "model.alpha_max": 0.5}),
    "no_net_damping": ("open loop, both: K_v sums to 0 and alpha <= 0.5",
                       {**_OPEN_LOOP, "model.velocity_kernel_sum": "zero",
                        "model.alpha_max": 0.5}),
    "small_damping": ("open loop, K_v sums to 0 and alpha starts and stays <= 0.05",
                      {**_OPEN_LOOP, "model.velocity_kernel_sum": "zero", "model.alpha": 0.05,
                       "model.alpha_max": 0.05}),
    "undamped": ("open loop, alpha = 0 (relu'(0) = 0 keeps it there) and K_v sums to 0",
                 {**_OPEN_LOOP, "model.velocity_kernel_sum": "zero", "model.alpha": 0.0}),
    "late_weight": ("open loop, the last frame of the window weighs 4x the first",
                    {**_OPEN_LOOP, "train.late_weight": 4.0}),
    "window_curriculum": ("open loop, scored window grows from the context to 64 frames over "
                          "the first half of training",
                          {**_OPEN_LOOP, "train.curriculum_steps": 600}),
    "long_window": ("open loop, 128-frame windows (two spring periods; VPT still counted "
                    "from frame 64, so it is comparable; cpu preset only)",
                    {**_OPEN_LOOP, "data.sequence_length": 128, "evaluation.vpt_start": 64}),
    "curriculum_long_window": ("window curriculum over 128-frame windows (VPT from frame 64)",
                               {**_OPEN_LOOP, "train.curriculum_steps": 600,
                                "data.sequence_length": 128, "evaluation.vpt_start": 64}),
    # 512: one step further, on whole trajectories twice the suite's 256 frames, so the window
    # doubles again while the test protocol stays the same.
    **{f"horizon_{window}": (f"open loop, {window}-frame windows of "
                             f"{max(window, 256)}-frame trajectories, "
                             f"VPT from frame 64 on 1000-frame test trajectories",
                             {**_HORIZON, "data.trajectory_length": max(window, 256),
                              "data.sequence_length": window})
       for window in (64, 128, 256, 512)},
    "curriculum_full": ("open loop, the window curriculum spread over all 1200 steps",
                        {**_OPEN_LOOP, "train.curriculum_steps": 1200}),
    "decode_velocity": ("open loop, decoder reads [z, v]",
                        {**_OPEN_LOOP, "model.decode_velocity": True}),
    "reference_init": ("open loop with the reference's init and per-site bias",
                       {**_OPEN_LOOP, "model.coupling_init": "smoothing",
                        "model.site_bias": True}),
    "autoregressive": ("the reference: autoregressive, teacher forcing, smoothing init, per-site "
                       "bias, [z, v] decoder, GRU state = (z0, v0)", _REFERENCE),
    "autoregressive_closed_loop": (
        "the reference + closed-loop training: the last k frames fed back, k growing to all "
        "frames after the context over the first half of training",
        {**_REFERENCE, "train.closed_loop_frames": -1,
                                   "train.curriculum_steps": 600}),
}


def overrides(variant: str) -> list[str]:
    """``--config.*`` overrides of a variant."""
    if variant not in VARIANTS:
        raise configs.ConfigError(f"unknown ablation variant {variant!r}; choose from "
                                  f"{list(VARIANTS)}")
    return [f"--config.{key}={value}" for key, value in VARIANTS[variant][1].items()]


def _row(variant: str, runs: list[dict]) -> dict:
    vpts = [r["test"]["vpt"] for r in runs]
    core = [r["test"].get("core", {}) for r in runs]
    def mean(key):  # over the runs that recorded it (runs older than test.core did not)
        values = [c[key] for c in core if key in c]
        return float(np.mean(values)) if values else float("nan")

    protocol = {key: runs[0][key] for key in ("window", "test_frames", "vpt_start", "vpt_cap")}
    return {"variant": variant, "vpt_mean": float(np.mean(vpts)),
            "vpt_std": float(np.std(vpts)), "vpts": " ".join(f"{v:g}" for v in vpts),
            **protocol, "mse": float(np.mean([r["test"]["mse"] for r in runs])),
            **table.core_diagnostics(runs),
            "velocity_kernel_sum": mean("velocity_kernel_sum"),
            "train_seconds": float(np.mean([r["train_seconds_this_session"] for r in runs])),
            "description": VARIANTS[variant][0], "data": table.data_label(runs)}


def run_ablation(preset: str, *, variants=tuple(VARIANTS), system="mass_spring",
                 model="locornn", seeds=(0,), root="runs", results="results",
                 extra_overrides=(), progress=True) -> pathlib.Path:
    """Train (or reuse) every variant's runs; write
    ``results/ablation_<preset>_<system>_<model>_seed<seeds>.md`` and ``.csv``; return the
    markdown path."""
    rows = []
    for variant in variants:  # every variant's config is checked before the first one trains
        for seed in seeds:
            table.cell_config(preset, system, model, seed, table.EXPERIMENT,
                              [*overrides(variant), *extra_overrides])
    for number, variant in enumerate(variants, 1):
        if progress:
            tqdm.write(f"ablation [{number}/{len(variants)}] {variant}: {VARIANTS[variant][0]}")
        runs = table.run_cell(preset, system, model, seeds, root=f"{root}/ablation/{variant}",
                              overrides=[*overrides(variant), *extra_overrides],
                              progress=progress)
        rows.append(_row(variant, runs))
    tag = "seed" + "-".join(map(str, seeds))  # scans over different seeds do not overwrite
    stem = pathlib.Path(results) / f"ablation_{preset}_{system}_{model}_{tag}"
    table.write_csv(stem.with_suffix(".csv"), rows)
    lines = [f"# Ablation: {table.MODEL_NAMES.get(model, model)} on "
             f"{table.SYSTEM_NAMES.get(system, system)}, preset `{preset}`, seeds {list(seeds)}",
             "", "VPT: each run's median over its held-out test trajectories, in steps counted "
             "from frame `evaluation.vpt_start` (or the end of the training window). "
             + table.cap_note({r["variant"]: r for r in rows})
             + " MSE: held-out window MSE per pixel; alpha and sum(K_v): the learned damping "
             "and the velocity kernel's sum, mean over the runs that recorded them (NaN for "
             "cores without them); free decay: steps for the lattice's free oscillation (drive "
             "off, from the inferred initial states) to fall to 1/e of its starting amplitude, "
             "median over test trajectories and runs (`> N`: not within the N-step horizon, "
             "`end r x`: the amplitude there is r times the start; `-`: not recorded; "
             "`locornn.analysis.lattice.free_decay`); train s/run: wall time, with "
             "whatever else ran on the machine.", "",
             "| variant | VPT mean (std) | VPT per seed | held-out MSE | alpha | sum(K_v) | "
             "free decay | train s/run | what it changes |",
             "|---|---:|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['vpt_mean']:.1f} ({r['vpt_std']:.1f}) | {r['vpts']} "
                     f"| {r['mse']:.2e} | {r['alpha']:.3f} | {r['velocity_kernel_sum']:.3f} | "
                     f"{table.decay_cell(r)} | {r['train_seconds']:.0f} | {r['description']} |")
    md = stem.with_suffix(".md")
    md.write_text("\n".join(lines) + "\n")
    return md
