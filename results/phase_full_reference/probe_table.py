"""Tabulate the phase probes and held-out MSE a run logged (metrics.jsonl) as Markdown.

    python results/phase_full_reference/probe_table.py RUN_DIR > results/phase_full_reference/probes.md
"""
import json
import pathlib
import sys

run = pathlib.Path(sys.argv[1])
rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]
mse = {r["step"]: r["mse"] for r in rows if r["split"] == "test"}
print("| step | held-out MSE | mean wavelength (sites) | peak wavelength | neighbour phase "
      "difference (rad) | plane-wave fraction | traveling-wave strength |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    if r["split"] == "probe":
        m = f"{mse[r['step']]:.4f}" if r["step"] in mse else "-"
        print(f"| {r['step']} | {m} | {r['phase_mean_wavelength']:.2f} | "
              f"{r['phase_peak_wavelength']:.2f} | {r['phase_neighbour_phase_difference']:.2f} | "
              f"{r['phase_plane_wave_fraction']:.2f} | {r['traveling_wave_strength']:.2f} |")
