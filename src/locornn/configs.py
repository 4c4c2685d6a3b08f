"""The configuration schema: every field an experiment may set, with its default and type.

An experiment (``locornn/experiments/<name>.py``, or any file of the same shape) starts from
:func:`base_config`, changes fields and applies a preset. :func:`validate` compares any config
against this schema before training, so a misspelt key or a wrong type fails at once with a
message that names the key, instead of being silently ignored. :func:`load` reads an
experiment and applies command-line overrides (``--config.model.lattice=48``) through
``ml_collections.config_flags``. An experiment is named either by its packaged name
(``hamiltonian:cpu``) or by a file path (``path/to/my_experiment.py:cpu``); see
:func:`experiment_path`.

Presets (documented in docs/experiments.md):
  * ``smoke``: seconds, for tests (tiny lattice, a few dozen steps);
  * ``cpu``: minutes on a 2-core laptop (the default of ``make train``);
  * ``paper``: the published sizes, for GPU/TPU.
"""

from __future__ import annotations

import difflib
import importlib.util
import math
import pathlib

import ml_collections
from absl import flags
from ml_collections import config_flags

PRESETS = ("smoke", "cpu", "paper", "reference")
# The experiments that ship with the package (the paper's): addressable by name from any directory.
EXPERIMENTS_DIR = pathlib.Path(__file__).resolve().with_name("experiments")


class ConfigError(ValueError):
    """A config key that does not exist, a value of the wrong type, or an impossible value."""


def base_config() -> ml_collections.ConfigDict:
    """All fields with their defaults. Experiments override these; nothing else may be added."""
    c = ml_collections.ConfigDict()
    c.experiment = "waves"  # name of the experiment: runs go to runs/<experiment>/<preset>/<seed>
    c.preset = "cpu"
    c.seed = 0  # model initialisation and data order; the data set itself uses data.seed
    # several processes (hosts): start jax.distributed (also automatic on SLURM with several
    # tasks, a TPU pod slice, or with LOCORNN_COORDINATOR set; see locornn.sharding)
    c.distributed = False

    c.data = ml_collections.ConfigDict()
    # "waves" | "noise" | "rotating_mnist" | "hamiltonian" | "video" (your files) | "tfds"
    c.data.name = "waves"
    c.data.seed = 1234  # fixes the train/test split, shared by all training seeds
    c.data.image_size = 32
    c.data.sequence_length = 20  # frames per training sequence
    c.data.num_train = 512
    c.data.num_test = 64
    c.data.wavelength_min = 5.0  # pixels (the reference used 5, 10, 16, 24)
    c.data.wavelength_max = 24.0
    c.data.speed_min = 0.5  # drift speed, pixels per frame
    c.data.speed_max = 2.0
    # waves: temporal period in frames, U[period_min, period_max] per sequence, instead of the
    # speed range (speed = wavelength / period); 0: use the speed range. A lattice follows waves
    # whose period is near its oscillators' (2 pi / (dt sqrt(gamma)): ~50 frames at dt 0.125)
    c.data.period_min = 0.0
    c.data.period_max = 0.0
    # waves/noise: render each batch's sequences when asked instead of the whole split up front
    # (a host holds no split; multi-host pods, splits larger than RAM). Noise is then drawn per
    # sequence (fold_in(key, i)): a different draw. See data/waves.py.
    c.data.on_demand = False
    c.data.test_sequence_length = 0  # held-out sequence length; 0: same as sequence_length
    c.data.mnist_dir = ""  # rotating_mnist: IDX folder ("" -> $LOCORNN_MNIST_DIR, tfds, digits)
    c.data.mnist_source = "auto"  # "auto" | "idx" | "tfds" | "digits"
    c.data.rotation_step = 20.0  # degrees per frame (18 frames per period)
    c.data.rotation_start = 0.0
    # "middle": about the image's middle ((H - 1) / 2, (W - 1) / 2) in pixel indices, so a
    # quarter turn maps the pixel grid onto itself | "half_size": about (H / 2, W / 2), half a
    # pixel down and right of it (the reference's kornia call)
    c.data.rotation_centre = "middle"
    # sequence tasks: the last frame's prediction is scored against the first frame (the
    # sequence is one period of a cycle, as the reference's rotating MNIST)
    c.data.wrap_target = False
    c.data.system = "mass_spring"  # hamiltonian: one of locornn.data.hamiltonian.SYSTEMS
    c.data.trajectory_length = 256  # hamiltonian: frames per training trajectory
    c.data.cache_dir = "cache/hamiltonian"  # generated trajectories are cached here
    c.data.suite_dir = ""  # read the DeepMind suite's own files from here instead
    # video and tfds (locornn.data.video): your recordings, windowed into sequences. data.num_train
    # and data.num_test > 0 keep that many windows (evenly spaced), 0 all of them.
    # video: a .npy/.npz array (N, T, H, W[, C]), a folder of PNG frames (one recording) or of
    # per-recording subfolders / GIF / MP4 files, or one GIF/MP4 file
    c.data.path = ""
    c.data.test_path = ""  # video: held-out recordings from here instead of data.test_fraction
    # the last fraction of the frames (in file order) is held out, cut into back-to-back windows
    c.data.test_fraction = 0.1
    c.data.window_stride = 0  # frames between training windows' starts; 0: sequence_length
    # frames to [0, 1]: "dtype" (unsigned integers / their maximum, floats must lie in [0, 1])
    # | "minmax" (the data's smallest value -> 0, largest -> 1)
    c.data.scaling = "dtype"
    c.data.feature = ""  # the .npz array / tfds feature holding the frames ("": the only one)
    c.data.tfds_name = ""  # tfds: a prepared tensorflow-datasets set, e.g. "moving_mnist"
    c.data.tfds_split = "train"  # tfds: the split read (slices too: "test[:90%]")
    c.data.tfds_test_split = ""  # tfds: held-out split ("": data.test_fraction of tfds_split)
    c.data.tfds_data_dir = ""  # tfds: prepared data ("": $TFDS_DATA_DIR, ~/tensorflow_datasets)

    c.model = ml_collections.ConfigDict()
    # "locornn" | "cornn" (dense) | forecasting only: "lstm" | "node" | "hgn" (HGN++)
    c.model.kind = "locornn"
    c.model.lattice = 32  # LocoRNN: the hidden state is lattice x lattice x channels
    c.model.channels = 1
    c.model.hidden_units = 256  # coRNN: number of oscillators
    c.model.kernel_size = 3  # coupling kernels Kz, Kv (odd)
    c.model.drive_kernel_size = 3  # input kernel Kx (odd)
    c.model.padding = "circular"  # "circular" | "zero"
    c.model.tie_kernels = False  # True: one kernel K for position and velocity (paper eq. 2)
    c.model.dt = 0.125
    c.model.gamma = 1.0
    c.model.alpha = 0.5
    c.model.learn_constants = True  # dt = sigmoid(raw), gamma/alpha = relu(raw)
    # "lecun" | "smoothing" (1/n + N(0, 0.1^2): the reference's Hamiltonian suite) | "constant"
    # (1 / lattice sites, no noise: the reference's rotating MNIST); also K_x in sequence models
    c.model.coupling_init = "lecun"
    c.model.alpha_max = 0.0  # >0: cap the learned damping alpha (0: no cap)
    c.model.velocity_kernel_sum = "free"  # "free" | "zero" (K_v cannot damp on the whole)
    # "zeros" | "encoded" (z from the first frame's drive K_x * f(x_0)) | "encoder_output"
    # (z = f(x_0) itself, the reference's rotating MNIST; needs encoded_channels == channels)
    c.model.initial_state = "zeros"
    # "mlp" | "conv" | "gaussian" (the reference's VAE encoder: Linear -> mean, log-variance; a
    # sample in training (the mean in evaluation), KL to N(0, I) added to the loss) |
    # "retinotopic" (LocoRNN only: each site reads its own receptive_field x receptive_field
    # image patch at its place, unshared weights; image side = a multiple of the lattice)
    c.model.encoder = "mlp"
    c.model.receptive_field = 9  # retinotopic encoder's patch side in pixels (odd)
    c.model.decoder = "mlp"  # "mlp" | "conv"
    c.model.decoder_hidden = 0  # MLP decoder: leaky-ReLU layer before the image (0: linear)
    c.model.encoded_channels = 1  # channels of f(x) on the lattice (input of Kx)
    c.model.conv_features = 64  # conv encoder/decoder width (DeepMind suite nets)
    c.model.conv_blocks = 3
    c.model.conv_depth = 2
    c.model.drive_layernorm = True  # LayerNorm on the encoded input, as the reference
    c.model.layernorm_eps = 1e-6  # the encoder's LayerNorm (Flax's default; PyTorch's is 1e-5)
    # encoder/decoder linear layers: "flax" (LeCun-normal weights, zero biases) | "pytorch"
    # (weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)), torch.nn.Linear's default: the
    # reference's)
    c.model.linear_init = "flax"
    # Gaussian encoder: extra latent units that are sampled and pay their KL but drive nothing
    # (the reference's encoder outputs twice the lattice and uses the first half: 1296)
    c.model.unused_latents = 0
    # Gaussian encoder with an encoded initial state: z0 from the same sample of frame 0 that
    # drives step 0 ("shared") or from a second, independent one ("independent": the reference
    # encodes frame 0 again in its init_hidden)
    c.model.initial_noise = "shared"
    c.model.output = "sigmoid"  # decoder output: "sigmoid" (images in [0, 1]) | "linear"
    c.model.unroll = 1  # lax.scan unroll
    # Sequence models: > 0 trains block by block inside the scan (each block of this many frames
    # encoded, run and decoded under jax.checkpoint; dynamics.rollout_reduce): memory sub-linear
    # in the sequence length, ~1.4x the time; a Gaussian encoder's noise is drawn per frame
    # (fold_in(key, t)). Must divide data.sequence_length. 0: decode the trajectory after.
    c.model.remat_block = 0
    # forecasting (hamiltonian): initial state inferred by a GRU run backwards over K frames
    c.model.context_frames = 31  # K, as the reference
    # "open_loop": the GRU's state rolls out with no input | "autoregressive" (the reference):
    # every frame drives one step (teacher forcing), forecasts feed the decoded frame back
    c.model.rollout = "open_loop"
    c.model.site_bias = False  # LocoRNN: one bias per lattice site (H, W, C), as the reference
    c.model.decode_velocity = False  # oscillators: the decoder reads [z, v], as the reference
    c.model.state_from_gru = False  # the GRU's hidden state IS (z0, v0), as the reference
    c.model.encoded_units = 128  # encoder output (input of the GRU)
    c.model.gru_units = 256
    c.model.lstm_units = 256  # LSTM baseline
    c.model.node_units = 64  # Neural ODE baseline: state size, MLP vector field width/depth,
    c.model.node_width = 256  # fixed Tsit5 step and time between frames
    c.model.node_depth = 2
    c.model.node_dt = 0.125
    c.model.node_frame_dt = 0.125
    # HGN++ baseline (open loop): H(q, p) = T(p) + V(q), two MLPs, integrated by leapfrog;
    # defaults are the suite's HGN++ (its latent_system_dim 32 is q and p together)
    c.model.hgn_units = 16  # dimension of q, and of p
    c.model.hgn_width = 250  # hidden units of each energy MLP
    c.model.hgn_depth = 4  # hidden layers of each energy MLP (then a linear layer to 1)
    c.model.hgn_activation = "swish"  # "swish" (HGN++) | "softplus" (HGN) | "tanh"
    # kinetic energy T(p): "mlp" (the MLP alone, HGN++) | "quadratic_mlp" (|p|^2/2 + the MLP)
    c.model.hgn_kinetic = "mlp"
    c.model.hgn_dt = 0.125  # leapfrog step
    c.model.hgn_frame_dt = 0.125  # time between frames: a whole number of leapfrog steps

    c.train = ml_collections.ConfigDict()
    c.train.num_steps = 1000
    c.train.batch_size = 16
    c.train.learning_rate = 1e-3
    c.train.optimizer = "adam"  # "adam" | "sgd" (with train.momentum, as the reference's MNIST)
    c.train.momentum = 0.9
    # sequence tasks: "mse" (squared error) | "bce" (Bernoulli likelihood of pixels in [0, 1])
    c.train.loss = "mse"
    # per frame, the loss sums over pixels; over frames it is summed ("sum") or averaged
    # ("mean", as the reference's rotating MNIST), then averaged over the batch
    c.train.time_reduction = "sum"
    c.train.kl_weight = 1.0  # model.encoder = "gaussian": weight of KL(q(s|x) || N(0, I))
    # train.loss = "bce": probabilities clipped to [eps, 1 - eps] (the reference's torch
    # Bernoulli clamps at float32's machine epsilon, 1.19e-7)
    c.train.bce_eps = 1e-6
    c.train.schedule = "constant"  # "constant" | "cosine" (over decay_steps, after warmup)
    c.train.warmup_steps = 0
    c.train.decay_steps = 0  # cosine decay length; 0 means train.num_steps at config time
    c.train.clip_norm = 0.0  # global-norm gradient clipping; 0 disables it
    c.train.log_every = 25
    c.train.eval_every = 100
    c.train.checkpoint_every = 100
    c.train.max_checkpoints = 3
    c.train.eval_batches = 4  # held-out batches per evaluation (all of the test split if 0)
    # forecasting losses: weight of the last frame relative to the first (linear ramp, mean 1)
    c.train.late_weight = 1.0
    # forecasting losses: > 0 adds the same loss on frames blurred by a Gaussian of this
    # standard deviation in pixels (metrics.forecast_loss_blurred), a diagnostic for small
    # objects whose prediction and target stop overlapping; 0 (every preset): the paper's loss
    c.train.blur_sigma = 0.0
    # autoregressive: the last k frames of each window are forecast in closed loop (0: pure
    # teacher forcing, the reference; -1: every frame after the context, as at test time);
    # open loop and autoregressive: curriculum length in steps
    # (open loop: the scored part of the window grows to all of it; autoregressive: k grows
    # from 0 to closed_loop_frames). 0: no curriculum.
    c.train.closed_loop_frames = 0
    c.train.curriculum_steps = 0
    c.train.probe_sequences = 0  # >0: log wave metrics of z on this many held-out sequences

    c.evaluation = ml_collections.ConfigDict()
    c.evaluation.vpt_threshold = 0.025  # forecasting: Valid Prediction Time threshold
    # forecasting: frame at which VPT counting starts (0: the end of the training window, as
    # the paper); set it to compare runs trained on windows of different lengths
    c.evaluation.vpt_start = 0

    c.analysis = ml_collections.ConfigDict()
    c.analysis.waves = False  # after training: wave metrics, trained and untrained (waves.json)
    c.analysis.orientation = False  # after training: orientation maps (analysis.orientation)
    c.analysis.wavelength = 0.0  # grating wavelength in pixels; 0: middle of the training range
    c.analysis.length = 30  # frames each static grating is shown
    c.analysis.transient = 10  # frames dropped before time-averaging z
    c.analysis.threshold = 0.65  # Cohen's d for a neuron to count as selective
    # the selectivity protocol of the orientation map (all are measured and reported; see
    # locornn.analysis.topography.protocols): phases, trials or amplitude
    c.analysis.protocol = "phases"
    c.analysis.trials = 16  # noisy presentations of each grating (protocol trials; 0: off)
    c.analysis.noise = 0.5  # their pixel noise standard deviation (the grating's amplitude)

    c.figures = ml_collections.ConfigDict()
    c.figures.enabled = True
    c.figures.num_frames = 10  # columns of figure1.png
    c.figures.gif_frames = 40  # frames of hidden.gif (rolled out beyond the data if needed)
    return c


# The reference code's own details (DESIGN.md 2b), each a field: the `reference` presets of the
# sequence experiments set them. Rotating MNIST's preset also has the two that are artefacts of
# that code: the encoder's unused half (sampled, with its KL: twice the encoder's cost for
# latents that drive nothing) and digits turned about (H/2, W/2).
REFERENCE_CODE_DETAILS = {
    "model.linear_init": "pytorch",  # nn.Linear: weights and biases U(+-1/sqrt(fan_in))
    "model.initial_noise": "independent",  # init_hidden encodes frame 0 again
    "model.layernorm_eps": 1e-5,  # torch.nn.LayerNorm
    "model.dt": 1.0 / (1.0 + math.exp(1.95)),  # raw dt -1.95 exactly: sigmoid(-1.95) = 0.12455
    "train.bce_eps": 1.1920928955078125e-07,  # float32 epsilon: torch Bernoulli's clamp
}

# The generated data sets, which can render a batch's rows on demand (``data.on_demand``).
ON_DEMAND_SETS = ("waves", "noise")
# Sequences read from files (always on demand): their sizes are known once the files are read.
FILE_SETS = ("video", "tfds")
# Every set of next-frame prediction sequences (the sequence task; not forecasting).
SEQUENCE_SETS = ("waves", "noise", "rotating_mnist", *FILE_SETS)

_CHOICES = {
    "preset": PRESETS,
    "data.name": ("waves", "noise", "rotating_mnist", "hamiltonian", *FILE_SETS),
    "data.scaling": ("dtype", "minmax"),
    "data.mnist_source": ("auto", "idx", "tfds", "digits"),
    "data.rotation_centre": ("middle", "half_size"),
    "model.linear_init": ("flax", "pytorch"),
    "model.initial_noise": ("shared", "independent"),
    "model.kind": ("locornn", "cornn", "lstm", "node", "hgn"),
    "model.hgn_activation": ("swish", "softplus", "tanh"),
    "model.hgn_kinetic": ("mlp", "quadratic_mlp"),
    "model.padding": ("circular", "zero"),
    "model.initial_state": ("zeros", "encoded", "encoder_output"),
    "model.encoder": ("mlp", "conv", "gaussian", "retinotopic"),
    "model.decoder": ("mlp", "conv"),
    "model.output": ("sigmoid", "linear"),
    "model.rollout": ("open_loop", "autoregressive"),
    "model.coupling_init": ("lecun", "smoothing", "constant"),
    "model.velocity_kernel_sum": ("free", "zero"),
    "train.schedule": ("constant", "cosine"),
    "train.optimizer": ("adam", "sgd"),
    "train.loss": ("mse", "bce"),
    "train.time_reduction": ("sum", "mean"),
    "analysis.protocol": ("phases", "trials", "amplitude"),
}


def _walk(config, prefix=""):
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, (ml_collections.ConfigDict, dict)):
            yield from _walk(value, path + ".")
        else:
            yield path, value


def flatten(config) -> dict:
    """``{"section.key": value}`` of every leaf field."""
    return dict(_walk(config))


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise :class:`ConfigError` naming the first key that is unknown, mistyped or invalid."""
    schema = dict(_walk(base_config()))
    for path, value in _walk(config):
        if path not in schema:
            close = difflib.get_close_matches(path, schema, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown config key {path!r}{hint}")
        expected = type(schema[path])
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise ConfigError(f"config key {path!r} must be {expected.__name__}, "
                              f"got {type(value).__name__} {value!r}")
        if path in _CHOICES and value not in _CHOICES[path]:
            raise ConfigError(f"config key {path!r} must be one of {_CHOICES[path]}, got {value!r}")
    for path in ("model.kernel_size", "model.drive_kernel_size"):
        size = config.get(path.split(".")[0]).get(path.split(".")[1])
        if size % 2 != 1 or size < 1:
            raise ConfigError(f"config key {path!r} must be a positive odd number, got {size}")
    _validate_ranges(config)
    _validate_sizes(config)
    train = config.train
    if train.warmup_steps < 0 or train.decay_steps < 0:
        raise ConfigError(f"'train.warmup_steps' ({train.warmup_steps}) and 'train.decay_steps' "
                          f"({train.decay_steps}) must be >= 0")
    if train.schedule == "cosine" and train.warmup_steps >= (train.decay_steps
                                                              or train.num_steps):
        raise ConfigError(f"'train.warmup_steps' ({train.warmup_steps}) must be shorter than the "
                          f"cosine schedule ('train.decay_steps' or else 'train.num_steps' = "
                          f"{train.decay_steps or train.num_steps})")
    if config.data.name == "hamiltonian":
        from locornn.data.hamiltonian import ALL_SYSTEMS

        if config.data.system not in ALL_SYSTEMS:
            raise ConfigError(f"config key 'data.system' must be one of {ALL_SYSTEMS}, "
                              f"got {config.data.system!r}")
        _validate_forecasting(config)
    elif config.model.kind in ("lstm", "node", "hgn"):
        raise ConfigError(f"config key 'model.kind' = {config.model.kind!r} is a forecasting "
                          f"baseline: it needs data.name = 'hamiltonian'")
    if config.data.name != "hamiltonian" and config.train.blur_sigma:
        raise ConfigError("config key 'train.blur_sigma' is a forecasting loss option: it "
                          "needs data.name = 'hamiltonian' (0 for the sequence tasks)")
    if config.data.sequence_length < 3:
        raise ConfigError("config key 'data.sequence_length' must be >= 3 (two frames of "
                          "context and one to predict)")
    model = config.model
    if (model.initial_state == "encoder_output" and model.kind == "locornn"
            and model.encoded_channels != model.channels):
        raise ConfigError(f"model.initial_state = 'encoder_output' starts z at f(x_0): it needs "
                          f"'model.encoded_channels' ({model.encoded_channels}) == "
                          f"'model.channels' ({model.channels})")
    _validate_encoder_noise(config)
    # (a Gaussian encoder is refused for forecasting by the forecasting model's own check)
    if config.data.name == "hamiltonian" and (model.initial_state == "encoder_output"
                                              or config.train.loss != "mse"
                                              or config.data.wrap_target):
        raise ConfigError("model.initial_state = 'encoder_output', train.loss = 'bce' and "
                          "data.wrap_target are for the sequence tasks (waves, noise, "
                          "rotating_mnist), not forecasting")
    _validate_files(config.data)
    counted = config.data.name not in FILE_SETS  # files: windows are counted when read
    if (counted and config.data.name != "hamiltonian"
            and config.data.num_train < config.train.batch_size):
        raise ConfigError(f"'data.num_train' ({config.data.num_train}) must be at least "
                          f"'train.batch_size' ({config.train.batch_size})")
    if counted and config.data.num_test < config.train.batch_size and config.train.eval_batches:
        raise ConfigError(f"'data.num_test' ({config.data.num_test}) must be at least "
                          f"'train.batch_size' ({config.train.batch_size})")


# Numeric fields and the smallest value each may take ((low, inclusive); floats must be finite).
_AT_LEAST_ONE = ("train.num_steps", "train.batch_size", "train.log_every", "train.eval_every",
                 "train.checkpoint_every", "train.max_checkpoints", "data.sequence_length",
                 "data.num_train", "data.num_test", "data.image_size", "model.lattice",
                 "model.channels", "model.hidden_units", "model.encoded_channels",
                 "model.conv_features", "model.conv_depth", "model.encoded_units",
                 "model.gru_units", "model.lstm_units", "model.node_units", "model.node_width",
                 "model.hgn_units", "model.hgn_width", "model.unroll")
_AT_LEAST_ZERO = ("train.eval_batches", "train.curriculum_steps", "train.probe_sequences",
                  "train.momentum", "train.kl_weight", "model.remat_block",
                  "model.unused_latents",
                  "model.decoder_hidden", "model.gamma", "model.alpha", "model.alpha_max",
                  "train.clip_norm", "train.late_weight", "train.blur_sigma", "data.speed_min",
                  "data.speed_max")
_POSITIVE = ("train.learning_rate", "model.dt", "model.layernorm_eps", "train.bce_eps",
             "model.node_dt", "model.node_frame_dt", "model.hgn_dt", "model.hgn_frame_dt",
             "data.wavelength_min", "data.wavelength_max")


def _validate_ranges(config: ml_collections.ConfigDict) -> None:
    """Sizes >= 1, rates and constants in range and finite (a NaN learning rate is refused)."""
    def value(path):
        section, key = path.split(".")
        return config[section][key] if key in config[section] else None

    for paths, ok, wording in ((_AT_LEAST_ONE, lambda x: x >= 1, ">= 1"),
                               (_AT_LEAST_ZERO, lambda x: x >= 0, ">= 0"),
                               (_POSITIVE, lambda x: x > 0, "> 0")):
        for path in paths:
            if path in ("data.num_train", "data.num_test") and config.data.name in FILE_SETS:
                continue  # 0 keeps every window (_validate_files)
            x = value(path)
            if x is not None and not (math.isfinite(x) and ok(x)):
                raise ConfigError(f"config key {path!r} must be finite and {wording}, got {x}")
    model = config.model
    if model.learn_constants and model.dt >= 1:  # learned as sigmoid(raw): dt in (0, 1)
        raise ConfigError(f"config key 'model.dt' must be < 1 when model.learn_constants "
                          f"(dt = sigmoid(raw)), got {model.dt}")
    data = config.data
    if model.remat_block and (config.data.name == "hamiltonian"
                              or data.sequence_length % model.remat_block):
        raise ConfigError(f"config key 'model.remat_block' ({model.remat_block}) must divide "
                          f"'data.sequence_length' ({data.sequence_length}) and is for the "
                          f"sequence experiments (not {config.data.name!r})")
    if data.get("on_demand") and data.name not in ON_DEMAND_SETS:
        raise ConfigError(f"config key 'data.on_demand' is for the generated sets "
                          f"({', '.join(ON_DEMAND_SETS)}), not {data.name!r}")
    periods = (data.get("period_min", 0.0), data.get("period_max", 0.0))
    if any(periods) and not (2.0 <= periods[0] <= periods[1] and math.isfinite(periods[1])):
        raise ConfigError(f"'data.period_min' ({periods[0]}) and 'data.period_max' "
                          f"({periods[1]}) must both be 0 (use the speed range) or satisfy "
                          f"2 <= period_min <= period_max (frames; 2 is the sampling limit)")
    for low, high in (("wavelength_min", "wavelength_max"), ("speed_min", "speed_max")):
        if low in data and data[low] > data[high]:
            raise ConfigError(f"'data.{low}' ({data[low]}) must not exceed 'data.{high}' "
                              f"({data[high]})")


def _validate_files(data: ml_collections.ConfigDict) -> None:
    """The fields of the sets read from files (video, tfds)."""
    if data.name not in FILE_SETS:
        return
    if data.name == "video" and not data.path:
        raise ConfigError("data.name = 'video' reads your recordings: set 'data.path' to a "
                          ".npy/.npz array, a folder of frames or a GIF/MP4 video")
    if data.name == "tfds" and not data.tfds_name:
        raise ConfigError("data.name = 'tfds' reads a prepared tensorflow-datasets set: name it "
                          "by 'data.tfds_name' (e.g. moving_mnist)")
    explicit = data.test_path if data.name == "video" else data.tfds_test_split
    if not explicit and not (math.isfinite(data.test_fraction)
                             and 0 < data.test_fraction < 1):
        raise ConfigError(f"config key 'data.test_fraction' must lie in (0, 1) (the held-out "
                          f"share of the frames), got {data.test_fraction}")
    if data.window_stride < 0:
        raise ConfigError(f"config key 'data.window_stride' must be >= 0 (0: windows back to "
                          f"back), got {data.window_stride}")
    for key in ("num_train", "num_test"):
        if data[key] < 0:
            raise ConfigError(f"config key 'data.{key}' must be >= 0 for data.name = "
                              f"{data.name!r} (0: every window), got {data[key]}")


def _validate_encoder_noise(config: ml_collections.ConfigDict) -> None:
    """The reference's encoder details exist for the sequence models' codecs only."""
    model, defaults = config.model, base_config().model
    if model.encoder != "gaussian":
        for key in ("unused_latents", "initial_noise"):
            if model[key] != defaults[key]:
                raise ConfigError(f"config key 'model.{key}' ({model[key]!r}) is for "
                                  f"model.encoder = 'gaussian', not {model.encoder!r}")
    if model.initial_noise == "independent" and model.initial_state == "zeros":
        raise ConfigError("model.initial_noise = 'independent' draws z0 from frame 0: it needs "
                          "model.initial_state = 'encoded' or 'encoder_output', not 'zeros'")
    if config.data.name == "hamiltonian" and model.linear_init != defaults.linear_init:
        raise ConfigError("config key 'model.linear_init' is for the sequence tasks' codecs "
                          "(waves, noise, rotating_mnist), not forecasting")
    if config.train.bce_eps >= 0.5:
        raise ConfigError(f"config key 'train.bce_eps' must be < 0.5, got {config.train.bce_eps}")


def _validate_sizes(config: ml_collections.ConfigDict) -> None:
    """Kernels that fit the lattice, images the conv codecs can take."""
    model = config.model
    if model.kind == "locornn":
        for key in ("kernel_size", "drive_kernel_size"):
            if model[key] > model.lattice:
                raise ConfigError(f"config key 'model.{key}' ({model[key]}) is larger than the "
                                  f"lattice 'model.lattice' ({model.lattice})")
    side = 32 if config.data.name == "hamiltonian" else config.data.image_size
    if model.encoder == "retinotopic":
        if model.kind != "locornn":
            raise ConfigError(f"model.encoder = 'retinotopic' maps the image onto a lattice: it "
                              f"needs model.kind = 'locornn', not {model.kind!r}")
        if side % model.lattice:
            raise ConfigError(f"model.encoder = 'retinotopic' needs an image side that is a "
                              f"multiple of the lattice: data.image_size = {side}, "
                              f"model.lattice = {model.lattice}")
        if model.receptive_field < 1 or model.receptive_field % 2 == 0:
            raise ConfigError(f"config key 'model.receptive_field' must be a positive odd "
                              f"number of pixels, got {model.receptive_field}")
    if model.decoder == "conv" and model.conv_blocks >= 1:
        scale = 2 ** (model.conv_blocks - 1)
        if side % scale:
            raise ConfigError(f"the conv decoder with 'model.conv_blocks' = {model.conv_blocks} "
                              f"needs an image side divisible by {scale}, got {side} "
                              f"(set data.image_size, model.conv_blocks or model.decoder='mlp')")
    if model.conv_blocks < 1 and "conv" in (model.encoder, model.decoder):
        raise ConfigError(f"'model.conv_blocks' must be >= 1 for conv codecs, got "
                          f"{model.conv_blocks}")


def _validate_forecasting(config: ml_collections.ConfigDict) -> None:
    """The Hamiltonian forecasting fields that must agree with each other."""
    window, context = config.data.sequence_length, config.model.context_frames
    test_frames = config.data.test_sequence_length or window
    if window <= context:
        raise ConfigError(f"'data.sequence_length' ({window}) must exceed "
                          f"'model.context_frames' ({context})")
    if test_frames <= window:
        raise ConfigError(f"'data.test_sequence_length' ({test_frames}) must exceed the training "
                          f"window 'data.sequence_length' ({window}) to measure VPT")
    if window > config.data.trajectory_length:
        raise ConfigError(f"'data.sequence_length' ({window}) must not exceed "
                          f"'data.trajectory_length' ({config.data.trajectory_length})")
    start = config.evaluation.vpt_start
    if start and not context <= start < test_frames:
        raise ConfigError(f"'evaluation.vpt_start' ({start}) must lie in [model.context_frames "
                          f"= {context}, data.test_sequence_length = {test_frames})")
    from locornn.models.forecasting import check_config

    try:  # the model section's own rules (recurrent core for autoregressive, damping fields)
        check_config(config.model)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if config.train.closed_loop_frames and config.model.rollout != "autoregressive":
        raise ConfigError("'train.closed_loop_frames' needs 'model.rollout' = 'autoregressive'")
    if not -1 <= config.train.closed_loop_frames <= window - context:
        raise ConfigError(f"'train.closed_loop_frames' ({config.train.closed_loop_frames}) must "
                          f"lie in [0, data.sequence_length - model.context_frames = "
                          f"{window - context}], or be -1 (all frames after the context)")
    if config.train.late_weight <= 0:
        raise ConfigError(f"'train.late_weight' must be > 0, got {config.train.late_weight}")
    if config.train.curriculum_steps < 0:
        raise ConfigError(f"'train.curriculum_steps' must be >= 0, got "
                          f"{config.train.curriculum_steps}")


def from_dict(values: dict) -> ml_collections.ConfigDict:
    """A config from plain values (e.g. a run's ``config.json``), on top of the defaults.

    Keys missing from ``values`` (a run written before a field existed) take their default;
    unknown keys and wrong types raise :class:`ConfigError`.
    """
    config = base_config()
    schema = dict(_walk(config))
    for path, value in _walk(values):
        if path not in schema:
            raise ConfigError(f"unknown config key {path!r}")
        if isinstance(schema[path], float) and type(value) is int:
            value = float(value)
        try:
            override(config, {path: value})
        except TypeError:
            raise ConfigError(f"config key {path!r} must be {type(schema[path]).__name__}, "
                              f"got {type(value).__name__} {value!r}") from None
    validate(config)
    return config


def experiment_names() -> tuple[str, ...]:
    """The packaged experiments, by name (``hamiltonian``, ``waves``, ...)."""
    return tuple(sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.py") if p.stem != "__init__"))


def experiment_path(name_or_path: str | pathlib.Path) -> pathlib.Path:
    """The file of an experiment given by packaged name or by path.

    ``hamiltonian`` names the packaged experiment. A path that exists is taken as it is (your
    own experiment file). ``experiments/hamiltonian.py`` (the repository's old layout), when no
    such file exists, also names the packaged one, so scripts written for it keep working from
    any directory. Anything else raises :class:`ConfigError`.
    """
    path = pathlib.Path(name_or_path)
    if path.is_file():
        return path
    packaged = EXPERIMENTS_DIR / f"{path.stem}.py"
    bare_name = path.suffix == "" and len(path.parts) == 1
    old_layout = path.suffix == ".py" and path.parent.name == "experiments"
    if (bare_name or old_layout) and path.stem in experiment_names():
        return packaged
    raise ConfigError(f"no experiment {str(name_or_path)!r}: give a packaged name "
                      f"({', '.join(experiment_names())}) or an existing file, e.g. "
                      f"hamiltonian:cpu or path/to/mine.py:cpu")


def load(spec: str, overrides: list[str] | tuple[str, ...] = ()) -> ml_collections.ConfigDict:
    """Load ``NAME[:preset]`` or ``path/to/experiment.py[:preset]``; apply overrides.

    Overrides (``--config.a.b=value``) are parsed by ``ml_collections.config_flags`` (types
    follow the field's default; unknown keys raise). The result is validated against
    :func:`base_config`.
    """
    name, _, preset = str(spec).partition(":")
    path = experiment_path(name)
    spec = f"{path}:{preset}" if preset else str(path)
    argv = ["locornn", f"--config={spec}", *overrides]
    flag_values = flags.FlagValues()
    config_flags.DEFINE_config_file("config", None, "experiment config", flag_values=flag_values,
                                    lock_config=True, sys_argv=argv)
    try:
        flag_values(argv)
        config = flag_values.config
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as error:
        message = " ".join(str(error).replace("\\n", " ").replace("\\'", "'").split())
        ours = message.rfind("locornn.configs.ConfigError: ")
        if ours >= 0:  # raised by the experiment file itself (e.g. a preset it lacks): say that
            raise ConfigError(message[ours + len("locornn.configs.ConfigError: "):]) from None
        if len(message) > 1 and message[0] == message[-1] and message[0] in "'\"":
            message = message[1:-1]
        raise ConfigError(f"bad config key or value in {' '.join(overrides) or spec}: "
                          f"{message}") from None
    validate(config)
    return config


def experiment_module(name_or_path: str | pathlib.Path):
    """Import an experiment by packaged name or file (for tools that call ``get_config``)."""
    path = experiment_path(name_or_path)
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def override(config: ml_collections.ConfigDict, updates: dict) -> ml_collections.ConfigDict:
    """Set dotted keys (``{"model.lattice": 72}``) on ``config``; unknown keys raise."""
    for path, value in updates.items():
        *sections, key = path.split(".")
        node = config
        for section in sections:
            node = node[section]
        if key not in node:
            raise ConfigError(f"unknown config key {path!r}")
        node[key] = value
    return config


def with_preset(config: ml_collections.ConfigDict, preset: str,
                presets: dict[str, dict]) -> ml_collections.ConfigDict:
    """Apply one of an experiment's presets (``smoke``, ``cpu``, ``paper``, ``reference``)."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {PRESETS}")
    if preset not in presets:  # e.g. "reference" exists only where the reference code ran
        raise ConfigError(f"experiment {config.experiment!r} has no {preset!r} preset; it has "
                          f"{tuple(presets)}")
    config.preset = preset
    return override(config, presets[preset])
