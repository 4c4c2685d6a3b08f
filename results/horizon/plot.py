"""Draw results/horizon/horizon.png from this folder's ablation CSVs.

    python results/horizon/plot.py

Left: the last valid forecast frame (frame 64 + VPT) against the training window's last frame,
one line per system (the 512-frame points from 512/, whole trajectories twice as long, measured
on another machine than the rest: see README.md);
the diagonal is "valid exactly to the window's end", the dashed line the test trajectories'
last frame (VPT's cap). Right: the free
oscillation's decay time of the same runs (drive off; points at the top: no decay within the
999-step horizon).
"""
import csv
import math
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = pathlib.Path(__file__).parent
SYSTEMS = {"mass_spring": "spring", "two_body": "two-body"}

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
for system, label in SYSTEMS.items():
    rows = []
    for table in (HERE / f"ablation_cpu_{system}_locornn_seed0.csv",
                  HERE / "512" / f"ablation_cpu_{system}_locornn_seed0.csv"):
        if table.exists():
            with open(table) as f:
                rows += [r for r in csv.DictReader(f) if r["variant"].startswith("horizon_")]
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
fig.suptitle("LocoRNN, cpu preset, seed 0, 1200 steps, 1000-frame test trajectories", fontsize=9)
fig.tight_layout()
fig.savefig(HERE / "horizon.png", dpi=120)
