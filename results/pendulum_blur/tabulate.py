"""Tabulate the pendulum blurred-loss screen: VPT and held-out MSE at each budget, the first
forecast frame's error and the state probe at the last budget.

    python results/pendulum_blur/tabulate.py "label=RUN_DIR" ... > results/pendulum_blur/screen.md

RUN_DIR: a `locornn reproduce budget` run (summary_<steps>.json) or a `locornn train` run
(summary.json), with vpt.json and state_probe.json (from `locornn analyze state-probe RUN_DIR`).
"""

import json
import pathlib
import sys


def row(label: str, run: pathlib.Path) -> str:
    files = {int(p.stem.split("_")[1]): p for p in run.glob("summary_*.json")}
    if not files:  # a single `locornn train` run: its summary is at its last step
        summary = json.loads((run / "summary.json").read_text())
        files = {summary["steps"]: run / "summary.json"}
    budgets = sorted(files)
    summaries = {b: json.loads(files[b].read_text())["test"] for b in budgets}
    vpt = " / ".join(f"{summaries[b]['vpt']:g}" for b in budgets)
    mse = " / ".join(f"{summaries[b]['mse']:.4f}" for b in budgets)
    first = json.loads((run / "vpt.json").read_text())["median_error_per_step"][0]
    probe_file = run / "state_probe.json"
    probe = "not run"
    if probe_file.exists():
        probes = {p["features"]: p["r2"] for p in json.loads(probe_file.read_text())["probes"]}
        probe = " / ".join(f"{probes[k]:.2f}" for k in ("encoder", "state, window",
                                                        "state, beyond") if k in probes)
    steps = " / ".join(f"{b:,}" for b in budgets)
    return f"| {label} | {steps} | {vpt} | {mse} | {first:.3f} | {probe} |"


def main(pairs: list[str]) -> None:
    print("| run | steps | VPT | held-out MSE | first forecast frame error (last budget) | "
          "state probe R^2: encoder / state in window / after (last budget) |")
    print("|---|---|---|---|---:|---|")
    for pair in pairs:
        label, path = pair.split("=", 1)
        print(row(label, pathlib.Path(path)))


if __name__ == "__main__":
    main(sys.argv[1:])
