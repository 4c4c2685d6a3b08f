"""Where does a forecaster lose the system's state: its encoder, its state or its decoder?

* :mod:`~locornn.analysis.probes.state`: a linear probe of the true state from the encoder's
  output and the model's state, in the training window and beyond it.
* :mod:`~locornn.analysis.probes.decoder`: can the run's decoder draw the system from its true
  state at all?
"""
