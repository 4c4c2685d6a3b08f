"""Your own sequences: LocoRNN forecasting frames you recorded (or a tensorflow-datasets set).

Name the recordings with ``data.path`` (a ``.npy``/``.npz`` array ``(N, T, H, W[, C])``, a
folder of PNG frames or of per-recording subfolders / GIF / MP4 files, or one video; see
:mod:`locornn.data.video`)::

    locornn train --config video:smoke --config.data.path=frames.npy
    locornn train --config video:cpu --config.data.path=recordings/ --config.data.scaling=minmax

or a prepared tensorflow-datasets set (nothing is downloaded)::

    locornn train --config video:cpu --config.data.name=tfds \\
        --config.data.tfds_name=moving_mnist --config.data.tfds_split=test

Frames are resized to ``data.image_size``, scaled to [0, 1] (``data.scaling``) and cut into
windows of ``data.sequence_length`` frames; the last ``data.test_fraction`` of the frames is
held out. The model is the waves experiment's.

Presets:
  smoke: 8x8 lattice on 12x12 frames, 8-frame windows, batch 8, 20 steps (the waves smoke
         preset's model): seconds, for tests and a first look at whether a file reads.
  cpu:   32x32x1 lattice on 32x32 frames, 20-frame windows, 1500 steps from dt 0.5 (as the waves
         cpu preset), the wave probe logged and the wave report written after training.
"""

from locornn import configs

PRESETS = {
    "smoke": {
        "data.image_size": 12, "data.sequence_length": 8, "data.num_train": 0,
        "data.num_test": 16, "model.lattice": 8, "model.dt": 0.5, "train.num_steps": 20,
        "train.batch_size": 8, "train.learning_rate": 3e-3, "train.log_every": 5,
        "train.eval_every": 10, "train.checkpoint_every": 10, "train.eval_batches": 2,
        "figures.num_frames": 4,
    },
    "cpu": {
        "data.image_size": 32, "data.sequence_length": 20, "data.num_train": 0,
        "data.num_test": 128, "model.lattice": 32, "model.dt": 0.5, "train.num_steps": 1500,
        "train.batch_size": 16, "train.learning_rate": 3e-3, "train.eval_every": 250,
        "train.checkpoint_every": 250, "train.probe_sequences": 2, "analysis.waves": True,
    },
}


def get_config(preset: str = "cpu"):
    config = configs.base_config()
    config.experiment = "video"
    config.data.name = "video"
    return configs.with_preset(config, preset, PRESETS)
