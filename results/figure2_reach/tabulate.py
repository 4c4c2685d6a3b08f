"""Reach of sine-wave runs beside their orientation domains:
python tabulate.py NAME=RUN_DIR ... > reach.md

Each run: held-out MSE over the mean frame's (0.125 for these sine waves, 1/12 for uniform
noise frames; "-" for other data), the learned
constants and the reach (reach.json, `locornn analyze reach`), and the `trials` protocol's
neighbour agreement (chance) and domain area from selectivity.json, with the radius of a disc
of that area, sqrt(area / pi), to set beside the reach. The untrained network's reach follows.
"""

import json
import math
import sys
from pathlib import Path

# MSE of predicting the mean pixel: sine waves 0.5 + 0.5 cos (variance 1/8), uniform noise 1/12
MEAN_FRAME_MSE = {"waves": 0.125, "noise": 1 / 12}


def last_test(run: Path) -> dict:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r.get("split") == "test"][-1]


def data_name(run: Path) -> str:
    return json.loads((run / "config.json").read_text())["data"]["name"]


def mse_over_mean_frame(run: Path) -> str:
    """"-" for data whose mean frame's MSE is not a known constant (rotating MNIST)."""
    mean_frame = MEAN_FRAME_MSE.get(data_name(run))
    return "-" if mean_frame is None else f"{last_test(run)['mse'] / mean_frame:.2f}"


def main(specs: list[str]) -> None:
    head = ["run", "lattice", "MSE / mean frame", "dt", "gamma", "alpha",
            "R over the training sequence (sites)", "R over a presentation",
            "energy on the poked site", "`trials` agreement (chance)", "`trials` domain area",
            "disc radius of that area", "untrained R"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for spec in specs:
        name, run = spec.split("=", 1)
        run = Path(run)
        reach = json.loads((run / "reach.json").read_text())
        untrained = json.loads((run / "reach_untrained.json").read_text())
        trials = json.loads((run / "selectivity.json").read_text())["protocols"]["trials"]
        agreement, area = trials["neighbour_agreement"], trials["domain_area"]
        row = [name, f"{reach['lattice']}x{reach['lattice']}",
               mse_over_mean_frame(run),
               f"{reach['dt']:.3f}", f"{reach['gamma']:.2f}", f"{reach['alpha']:.2f}",
               f"{reach['reach_training']:.2f} ({reach['sequence_length']} steps)",
               f"{reach['reach_analysis']:.2f} ({reach['analysis_length']} steps)",
               f"{reach['centre_share_training']:.2f}",
               "-" if agreement is None else f"{agreement:.2f} ({trials['chance_agreement']:.2f})",
               "-" if area is None else f"{area:.0f}",
               "-" if area is None else f"{math.sqrt(area / math.pi):.2f}",
               f"{untrained['reach_training']:.2f}"]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
