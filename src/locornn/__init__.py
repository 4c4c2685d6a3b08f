"""locornn: Locally Coupled Oscillatory Recurrent Networks in JAX/Flax.

`locornn.dynamics` is the pure-JAX oscillator step (no Flax); `locornn.models` holds the Flax
modules; `locornn.train.train_and_evaluate(config, workdir)` trains one experiment.
"""

__version__ = "0.1.0"
