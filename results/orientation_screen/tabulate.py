"""Tabulate orientation-screen runs from their files: python tabulate.py NAME=RUN_DIR ... > screen.md

Each run: the last held-out MSE (and over the mean frame's, the MSE of predicting the held-out
mean pixel, 0.125 for these sine waves), the last training probe's band-passed phase
(locornn.analysis.waves.phase_map) and, from selectivity.json / selectivity_untrained.json, each
selectivity protocol's fraction selective, neighbour agreement (chance) and domain area.
"""

import json
import sys
from pathlib import Path

MEAN_FRAME_MSE = 0.125
PROTOCOLS = ("phases", "trials", "amplitude")


def last(run: Path, split: str) -> dict:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r.get("split") == split][-1]


def protocol_cells(selectivity: dict) -> list[str]:
    cells = []
    for name in PROTOCOLS:
        p = selectivity["protocols"][name]
        agreement = p["neighbour_agreement"]
        cells.append(f"{p['fraction_selective']:.2f} / " + (
            "-" if agreement is None else
            f"{agreement:.2f} ({p['chance_agreement']:.2f}) / {p['domain_area']:.0f}"))
    return cells


def main(specs: list[str]) -> None:
    head = (["run", "steps", "held-out MSE", "/ mean frame", "phase wavelength",
             "neighbour phase diff."]
            + [f"{p}: selective / agreement (chance) / area" for p in PROTOCOLS]
            + [f"untrained {p}" for p in PROTOCOLS])
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for spec in specs:
        name, run = spec.split("=", 1)
        run = Path(run)
        test, probe = last(run, "test"), last(run, "probe")
        trained = json.loads((run / "selectivity.json").read_text())
        untrained = json.loads((run / "selectivity_untrained.json").read_text())
        row = [name, str(test["step"]), f"{test['mse']:.4f}", f"{test['mse'] / MEAN_FRAME_MSE:.3f}",
               f"{probe['phase_mean_wavelength']:.2f}",
               f"{probe['phase_neighbour_phase_difference']:.2f}"]
        print("| " + " | ".join(row + protocol_cells(trained) + protocol_cells(untrained)) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
