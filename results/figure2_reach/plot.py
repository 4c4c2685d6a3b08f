"""Reach R(T) of sine-wave runs against the disc radii of the authors' domains:
python plot.py OUT.png NAME=RUN_DIR ...

Each run's curve is read from its reach.json (`locornn analyze reach`); the shaded band spans
the radius sqrt(area / pi) of the authors' domain areas as locornn measures their figure
(locornn.analysis.topography.domains.AUTHORS_NUMBERS, 87-339 sites), the dotted lines each run's own
`trials` domain radius, in the run's colour.
"""

import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from locornn.analysis.topography.domains import AUTHORS_NUMBERS  # noqa: E402


def main(out: str, specs: list[str]) -> None:
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    radii = [math.sqrt(area / math.pi) for _, area in AUTHORS_NUMBERS.values()]
    ax.axhspan(min(radii), max(radii), color="0.85",
               label="authors' domains: disc radius of their area")
    lengths = set()
    for i, spec in enumerate(specs):
        name, run = spec.split("=", 1)
        reach = json.loads((Path(run) / "reach.json").read_text())
        trials = json.loads((Path(run) / "selectivity.json").read_text())["protocols"]["trials"]
        colour = f"C{i}"
        curve = reach["reach_curve"]
        ax.plot(range(1, len(curve) + 1), curve, color=colour, label=name)
        if trials["domain_area"] is not None:
            ax.axhline(math.sqrt(trials["domain_area"] / math.pi), color=colour, ls=":", lw=1)
        lengths.add(reach["sequence_length"])
    for length in sorted(lengths):
        ax.axvline(length, color="k", ls="--", lw=1, label=f"training sequence ({length} frames)")
    ax.set_xlabel("steps after an impulse in one site's drive")
    ax.set_ylabel("reach R (sites, RMS)")
    ax.set_ylim(0, 1.1 * max(radii))
    ax.legend(fontsize=7, loc="center right")
    ax.set_title("how far one site's input spreads through the trained lattice", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
