"""Unstructured noise: the control experiment (same model and presets as ``waves``).

I.i.d. uniform frames carry nothing predictable, so the paper expects no waves and no
orientation maps to emerge; anything that does is an artefact of the model, not of the data.
"""

from locornn.experiments import waves as _WAVES


def get_config(preset: str = "cpu"):
    config = _WAVES.get_config(preset)
    config.experiment = "noise"
    config.data.name = "noise"
    return config
