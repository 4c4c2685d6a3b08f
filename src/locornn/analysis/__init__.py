"""Analysis of trained networks (NumPy/SciPy only: no JAX training, no Flax).

* :mod:`~locornn.analysis.waves`: instantaneous phase, synchrony, traveling/standing-wave
  metrics and spatial autocorrelation of lattice trajectories ``(T, H, W, C)``.
* :mod:`~locornn.analysis.stimuli`: static oriented gratings.
* :mod:`~locornn.analysis.selectivity`: Cohen's d, preferred orientations and
  topographic-map statistics.
* :mod:`~locornn.analysis.protocols`: what the samples of d are (phases, noisy trials, a
  phase-invariant amplitude) and the preferred-phase map.
* :mod:`~locornn.analysis.domains`: neighbour agreement and domain areas of label maps, also
  read off a picture of maps.

Angles everywhere are radians measured from the lattice/image column axis (x) towards the row
axis (y); see :mod:`locornn.analysis.stimuli`.
"""

from .selectivity import (
    cohens_d,
    domain_size,
    neighbour_orientation_correlation,
    pinwheel_charges,
    pinwheel_density,
    preferred,
    selectivity_summary,
    time_averaged_responses,
    topography_zscore,
)
from .stimuli import gratings, orientation_angles
from .waves import (
    autocorrelation_length,
    correlation_length,
    dominant_frequency,
    global_synchrony,
    instantaneous_phase,
    kuramoto_order_parameter,
    local_order_parameter,
    local_synchrony,
    phase_gradient,
    radial_profile,
    spatial_autocorrelation,
    standing_wave_index,
    svd_variance_fractions,
    traveling_wave_statistics,
    wave_metrics,
    wrap_angle,
)

__all__ = [
    "autocorrelation_length",
    "cohens_d",
    "correlation_length",
    "domain_size",
    "dominant_frequency",
    "global_synchrony",
    "gratings",
    "instantaneous_phase",
    "kuramoto_order_parameter",
    "local_order_parameter",
    "local_synchrony",
    "neighbour_orientation_correlation",
    "orientation_angles",
    "phase_gradient",
    "pinwheel_charges",
    "pinwheel_density",
    "preferred",
    "radial_profile",
    "selectivity_summary",
    "spatial_autocorrelation",
    "standing_wave_index",
    "svd_variance_fractions",
    "time_averaged_responses",
    "topography_zscore",
    "traveling_wave_statistics",
    "wave_metrics",
    "wrap_angle",
]
