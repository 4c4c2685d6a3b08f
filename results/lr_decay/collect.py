"""Collect finished `locornn train` runs into results/lr_decay/runs.csv and a markdown table.

    python results/lr_decay/collect.py RUN_DIR ... > results/lr_decay/runs.md

Each run describes itself: system, seed, schedule and steps come from its config.json; VPT,
held-out MSE and the learned core from its summary.json (`test`); the first forecast frame's
median error from its vpt.json.
"""

import csv
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).parent
COLUMNS = ("system", "seed", "schedule", "steps", "vpt", "vpt_mean", "vpt_at_cap", "cap",
           "vpt_start", "trajectories", "mse", "first_frame_error", "alpha", "dt", "gamma",
           "free_end_amplitude")


def record(run: pathlib.Path) -> dict:
    config = json.loads((run / "config.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    test, core = summary["test"], summary["test"]["core"]
    first = json.loads((run / "vpt.json").read_text())["median_error_per_step"][0]
    return dict(system=config["data"]["system"], seed=config["seed"],
                schedule=config["train"]["schedule"], steps=summary["steps"], vpt=test["vpt"],
                vpt_mean=test["vpt_mean"], vpt_at_cap=test["vpt_at_cap"],
                cap=test["extrapolation_steps"], vpt_start=test["vpt_start"],
                trajectories=test["vpt_trajectories"], mse=test["mse"], first_frame_error=first,
                alpha=core["alpha"], dt=core["dt"], gamma=core["gamma"],
                free_end_amplitude=core["free_end_amplitude"])


def main(runs: list[str]) -> None:
    rows = sorted((record(pathlib.Path(r)) for r in runs),
                  key=lambda r: (r["system"], r["steps"], r["seed"]))
    with open(HERE / "runs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print("| system | seed | schedule | steps | VPT (median) | VPT (mean) | at cap | held-out MSE "
          "| first forecast frame error | alpha | dt | gamma | free amplitude at step 999 |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['system']} | {r['seed']} | {r['schedule']} | {r['steps']:,} | {r['vpt']:g} | "
              f"{r['vpt_mean']:.1f} | {r['vpt_at_cap']} | {r['mse']:.2e} | "
              f"{r['first_frame_error']:.4f} | {r['alpha']:.3f} | {r['dt']:.3f} | "
              f"{r['gamma']:.3f} | {r['free_end_amplitude']:.2f} |")
    first = rows[0]
    print(f"\nVPT: steps from frame {first['vpt_start']} of {first['trajectories']} held-out "
          f"trajectories of {first['vpt_start'] + first['cap']} frames, capped at "
          f"{first['cap']} steps.")


if __name__ == "__main__":
    main(sys.argv[1:])
