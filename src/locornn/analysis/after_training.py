"""What runs after training, by name: ``AFTER_TRAINING[name](config, workdir) -> dict``.

An experiment asks for an analysis by turning on its flag ``analysis.<name>`` in its presets
(``locornn/experiments/waves.py`` sets ``analysis.waves``, ``locornn/experiments/orientation.py``
``analysis.orientation``); :func:`locornn.train.finish_run` runs each one asked for on the saved
run and stores its result under ``summary.json[name]``. The analyses read the run back through
:mod:`locornn.checkpoints`, so training never depends on analysis code beyond this table, and
analysis never imports training. A new analysis is one function here and one flag in
``configs.schema.analysis_fields``.

The analysis modules are imported when their entry runs: they draw figures (matplotlib), which
training without analyses does not need.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import ml_collections


def waves(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict:
    """Wave metrics and phase maps of the trained and the untrained network,
    synchrony_vs_loss.png."""
    from locornn.analysis.waves import report as wave_report

    return {state: wave_report.flat_metrics(
                wave_report.wave_report(workdir, untrained=state == "untrained"))
            for state in ("untrained", "trained")}


def orientation_options(config: ml_collections.ConfigDict) -> dict:
    """The ``orientation.run_analysis`` options a run's ``analysis.*`` fields give."""
    return dict(wavelength=config.analysis.wavelength or None,
                threshold=config.analysis.threshold, length=config.analysis.length,
                transient=config.analysis.transient, seed=config.seed,
                protocol=config.analysis.protocol, trials=config.analysis.trials,
                noise=config.analysis.noise)


def orientation(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict:
    """Orientation maps of the trained and the untrained network."""
    from locornn.analysis.topography import orientation as orientation_maps

    return {state: orientation_maps.run_analysis(workdir, untrained=state == "untrained",
                                                 **orientation_options(config))
            for state in ("trained", "untrained")}


AFTER_TRAINING: dict[str, Callable[[ml_collections.ConfigDict, pathlib.Path], dict]] = {
    "waves": waves,
    "orientation": orientation,
}
