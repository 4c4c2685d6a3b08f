"""Orientation selectivity and topographic maps from simulated retinal waves (Figure 2).

LocoRNN is trained on drifting sine waves (as ``locornn/experiments/waves.py``), then shown static
gratings at 8 orientations; each neuron's time-averaged response gives Cohen's d per
orientation, a preferred orientation and a map (``orientation_map.png``,
``orientation_histogram.png``, ``selectivity.json``, for the trained and the untrained network).
The paper finds orientation domains that grow with the training wavelength and the coupling
kernel size; trained on noise (``make train EXP=noise ARGS=--config.analysis.orientation=True``)
none should appear.

Knobs: ``model.kernel_size`` (3, 5, 7, 9), the training wavelength
(``data.wavelength_min`` = ``data.wavelength_max`` for one wavelength: 5, 10, 16 or 24 px) and
``analysis.wavelength`` for the gratings (0: the middle of the training range).

Presets: as waves (smoke, cpu: 32x32 lattice; paper and reference: 72x72 lattice, as in the
paper), with the analysis on. At the paper's dt = 0.125 an oscillator period is ~50 steps, so
the paper and reference presets show each grating for 100 frames. The cpu preset draws each
wave's temporal period from 10-30 frames, as the paper and reference presets do, instead of the
waves cpu preset's speed range (periods 2.5-48 frames): measured at 1500 steps, seed 0, the
held-out MSE falls from 0.023 to 0.0046 (the mean frame's is 0.125), so the maps are read from
a network that has learned its sequences.
"""

from locornn.experiments import waves as _WAVES


def get_config(preset: str = "cpu"):
    config = _WAVES.get_config(preset)
    config.experiment = "orientation"
    config.analysis.orientation = True
    if preset == "reference":  # the paper's 72x72 lattice
        config.model.lattice = 72
    if preset in ("paper", "reference"):
        config.analysis.length, config.analysis.transient = 100, 20
    if preset == "cpu":
        config.data.period_min, config.data.period_max = 10.0, 30.0
    if preset == "smoke":
        config.analysis.length, config.analysis.transient = 8, 2
    return config
