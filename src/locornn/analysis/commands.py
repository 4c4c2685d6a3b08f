"""``locornn analyze <kind> RUN_DIR``: each analysis module registers its own subcommand.

A module listed in :data:`ANALYSES` provides ``add_command(subparsers)`` which adds one parser
and sets ``func=callable(args) -> int``.
"""

from __future__ import annotations

import importlib

ANALYSES = ("locornn.analysis.topography.orientation",
            "locornn.analysis.topography.domains",
            "locornn.analysis.waves.report",
            "locornn.analysis.waves.phase_map",
            "locornn.analysis.lattice.stability",
            "locornn.analysis.probes.state",
            "locornn.analysis.probes.decoder",
            "locornn.analysis.lattice.coupling",
            "locornn.analysis.lattice.reach",
            "locornn.analysis.topography.map_match",
            "locornn.analysis.topography.gradient_sharing")


def add_analyze_commands(subparsers) -> None:
    parser = subparsers.add_parser("analyze", help="analyse a trained run (waves, orientation)",
                                   description="Analyse a trained run (or the lattice alone).")
    inner = parser.add_subparsers(dest="analysis", required=True, metavar="ANALYSIS")
    for name in ANALYSES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:  # a real missing dependency, not a missing analysis
                raise
            continue
        module.add_command(inner)
