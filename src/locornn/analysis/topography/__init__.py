"""Are the lattice's sites tuned to orientations, and are the tunings laid out in domains?

* :mod:`~locornn.analysis.topography.stimuli`: static oriented gratings.
* :mod:`~locornn.analysis.topography.responses`: time-averaged responses of a model to static
  stimuli.
* :mod:`~locornn.analysis.topography.protocols`: what the samples of Cohen's d are (phases,
  noisy trials, a phase-invariant amplitude) and the preferred-phase map.
* :mod:`~locornn.analysis.topography.selectivity`: Cohen's d, preferred orientations and
  topographic-map statistics.
* :mod:`~locornn.analysis.topography.domains`: neighbour agreement and domain areas of label
  maps, also read off a picture of maps.
* :mod:`~locornn.analysis.topography.orientation`: all of it for a model or a run directory
  (``locornn analyze orientation RUN``), drawn by
  :mod:`~locornn.analysis.topography.map_figures`.
* :mod:`~locornn.analysis.topography.map_match`: do the orientation map and the phase map share
  their domains?
* :mod:`~locornn.analysis.topography.gradient_sharing`: do neighbouring sites receive alike
  encoder gradients (the shared-error route to domains)?
"""
