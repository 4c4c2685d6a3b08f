"""Does the lattice carry traveling waves, and what are they like?

* :mod:`~locornn.analysis.waves.phase`: dominant frequency, band-pass and Hilbert phase of a
  trajectory ``(T, H, W, C)``.
* :mod:`~locornn.analysis.waves.statistics`: synchrony, traveling/standing-wave metrics and the
  spatial autocorrelation length (:func:`~locornn.analysis.waves.statistics.wave_metrics`).
* :mod:`~locornn.analysis.waves.phase_map`: the phase field at one step: wavelength, neighbour
  phase difference and plane-wave fraction.
* :mod:`~locornn.analysis.waves.report`: all of it for a run directory, trained and untrained
  (``locornn analyze waves RUN``).
"""
