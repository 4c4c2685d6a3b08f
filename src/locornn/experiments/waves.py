"""Sine waves ("simulated retinal waves"): LocoRNN forecasting drifting plane waves.

The paper trains on periodic plane waves of random orientation and phase; Figure 1b shows the
trained lattice carrying diffuse, interacting waves, and Figure 2 finds orientation-selective,
topographically organised neurons after this training (72x72 lattice).

Presets:
  smoke: 8x8 lattice, 12x12 images, 30 steps: seconds, for tests.
  cpu:   32x32x1 lattice on 32x32 frames, 1500 steps, dt from 0.5: minutes on a 2-core laptop.
  paper: 72x72x1 lattice (the orientation-map experiment), batch 128, 20k steps: GPU/TPU.
  reference: the reference code's rotating-MNIST choices (locornn/experiments/rotating_mnist.py)
         applied to these sequences: VAE encoder, 1/sites couplings, per-site bias,
         z0 = f(x_0), Bernoulli loss averaged over frames, SGD momentum 0.9 at lr 2.5e-4,
         dt 0.125, batch 128, 18,750 steps (the paper gives no sine-wave budget: MNIST's), and
         the details of the reference code (configs.REFERENCE_CODE_DETAILS: PyTorch's linear
         init, z0 from its own sample, LayerNorm eps 1e-5, raw dt -1.95, the Bernoulli clamp).
         No wrap-around target: a drifting wave is not one period of a cycle. 32x32 lattice
         (orientation: the paper's 72x72).

The paper and reference presets draw each wave's temporal period from 10-30 frames
(``data.period_min/max``; speed = wavelength / period) instead of the speed range 0.5-2 px a
frame, whose periods run from 2.5 to 48 frames: an oscillator at dt 0.125 has a period of ~50
steps, and the rotating digits that the reference recipe learns turn once in 18 frames.
"""

from locornn import configs

PRESETS = {
    "smoke": {
        "data.image_size": 12, "data.sequence_length": 8, "data.num_train": 64,
        "data.num_test": 16, "data.wavelength_min": 4.0, "data.wavelength_max": 8.0,
        "model.lattice": 8, "model.dt": 0.5, "train.num_steps": 30, "train.batch_size": 8,
        "train.learning_rate": 3e-3, "train.log_every": 5, "train.eval_every": 10,
        "train.checkpoint_every": 10, "train.eval_batches": 2, "figures.num_frames": 4,
    },
    "cpu": {
        # dt starts at 0.5 (reference: 0.125): an oscillator period of ~13 frames sits inside the
        # waves' temporal periods (2.5 to 48 frames), which a few minutes of training needs; at
        # dt = 0.125 (period ~50 frames) the held-out error barely moves in 1500 steps.
        "model.dt": 0.5, "data.num_train": 1024, "data.num_test": 128,
        "train.num_steps": 1500, "train.batch_size": 16, "train.learning_rate": 3e-3,
        "train.eval_every": 250, "train.checkpoint_every": 250, "train.probe_sequences": 2,
        "analysis.waves": True,
    },
    "paper": {
        "data.num_train": 20000, "data.num_test": 1000, "data.sequence_length": 50,
        "model.lattice": 72, "train.num_steps": 20000, "train.batch_size": 128,
        "train.learning_rate": 1e-3, "train.schedule": "cosine", "train.warmup_steps": 500,
        "train.clip_norm": 1.0, "train.eval_every": 1000, "train.checkpoint_every": 1000,
        "train.log_every": 100, "train.eval_batches": 0,
        "data.period_min": 10.0, "data.period_max": 30.0,
    },
    "reference": {
        "data.num_train": 48000, "data.num_test": 1000, "data.sequence_length": 20,
        "model.lattice": 32, "model.coupling_init": "constant",
        "model.site_bias": True, "model.encoder": "gaussian", "model.drive_layernorm": True,
        "model.initial_state": "encoder_output",
        "train.optimizer": "sgd", "train.momentum": 0.9, "train.learning_rate": 2.5e-4,
        "train.batch_size": 128, "train.num_steps": 18750, "train.loss": "bce",
        "train.time_reduction": "mean", "train.log_every": 50, "train.eval_every": 750,
        "train.checkpoint_every": 750, "train.eval_batches": 4, "train.probe_sequences": 4,
        "analysis.waves": True, "data.period_min": 10.0, "data.period_max": 30.0,
        **configs.REFERENCE_CODE_DETAILS,
    },
}


def get_config(preset: str = "cpu"):
    config = configs.base_config()
    config.experiment = "waves"
    config.data.name = "waves"
    return configs.with_preset(config, preset, PRESETS)
