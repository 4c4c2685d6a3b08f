"""``locornn analyze <kind> RUN_DIR``: each analysis module registers its own subcommand.

A module listed in :data:`ANALYSES` provides ``add_command(subparsers)`` which adds one parser
and sets ``func=callable(args) -> int``.
"""

from __future__ import annotations

import importlib

ANALYSES = ("locornn.analysis.orientation", "locornn.analysis.domains",
            "locornn.analysis.wave_report",
            "locornn.analysis.phase_map",
            "locornn.analysis.stability",
            "locornn.analysis.state_probe",
            "locornn.analysis.decoder_probe",
            "locornn.analysis.coupling",
            "locornn.analysis.reach")


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
