"""Draw results/horizon/budget_spring.png: spring VPT against training steps, LocoRNN with
whole-trajectory windows (the cpu preset's) beside the LSTM (64-frame windows, the cpu
preset's), three seeds each, on the same 1000-frame test trajectories (VPT from frame 64); and
LocoRNN with a cosine learning rate decayed to 0 at each budget (one run per budget and seed).

    python results/horizon/plot_budget.py

LocoRNN: this folder's ``horizon_256`` ablation CSVs (1200 steps: ``.``, 4800: ``4800/``,
12,000: ``12000/``); LSTM: ``lstm_budget/vpt_vs_steps_cpu.csv`` (one run per seed, read at
every budget); cosine: ``../lr_decay/runs.csv`` (``results/lr_decay/collect.py``).
"""
import csv
import pathlib

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = pathlib.Path(__file__).parent
LOCORNN = {1200: HERE / "ablation_cpu_mass_spring_locornn_seed0-1-2.csv",
           4800: HERE / "4800" / "ablation_cpu_mass_spring_locornn_seed0-1-2.csv",
           12000: HERE / "12000" / "ablation_cpu_mass_spring_locornn_seed0-1-2.csv"}
LSTM = HERE / "lstm_budget" / "vpt_vs_steps_cpu.csv"
COSINE = HERE.parent / "lr_decay" / "runs.csv"


def locornn_vpts() -> dict[int, list[float]]:
    out = {}
    for steps, path in LOCORNN.items():
        with open(path) as f:
            row = next(r for r in csv.DictReader(f) if r["variant"] == "horizon_256")
        out[steps] = [float(v) for v in row["vpts"].split()]
    return out


def lstm_vpts() -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    with open(LSTM) as f:
        for r in csv.DictReader(f):
            if r["system"] == "mass_spring" and r["model"] == "lstm":
                out.setdefault(int(r["steps"]), []).append(float(r["vpt"]))
    return out


def cosine_vpts() -> dict[int, dict[int, float]]:
    """{steps: {seed: VPT}} of the spring's cosine-schedule runs."""
    out: dict[int, dict[int, float]] = {}
    with open(COSINE) as f:
        for r in csv.DictReader(f):
            if r["system"] == "mass_spring" and r["schedule"] == "cosine":
                out.setdefault(int(r["steps"]), {})[int(r["seed"])] = float(r["vpt"])
    return out


fig, ax = plt.subplots(figsize=(5.2, 4.4))
for name, vpts, colour in (("LocoRNN (whole trajectories)", locornn_vpts(), "C0"),
                           ("LSTM (64-frame windows)", lstm_vpts(), "C1")):
    steps = sorted(vpts)
    for i in range(max(len(vpts[s]) for s in steps)):
        ax.plot(steps, [vpts[s][i] for s in steps], "o", color=colour, alpha=0.35, ms=4)
    ax.plot(steps, [np.mean(vpts[s]) for s in steps], "-", color=colour, lw=2,
            label=f"{name}, mean of {len(vpts[steps[0]])} seeds")
cosine = cosine_vpts()
for steps, by_seed in cosine.items():
    ax.plot([steps] * len(by_seed), list(by_seed.values()), "^", color="C2", alpha=0.5, ms=5)
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
ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18))  # below: data fill the axes
fig.tight_layout()
fig.savefig(HERE / "budget_spring.png", dpi=120)
