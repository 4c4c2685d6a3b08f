"""Every config field: its default, its domain and its meaning, one section per function.

A field is one line, ``name=Field(default, domain, "meaning")``: the default fixes its type,
the domain (:mod:`locornn.configs.domains`) what values it may take, and the meaning is what
``locornn train --help-config`` and docs/configuration.md print. Rules between fields are in
:mod:`locornn.configs.rules`.
"""

from __future__ import annotations

import functools

import ml_collections

from locornn.configs.domains import (
    Field,
    OneOf,
    Range,
    Switch,
    Text,
    above,
    at_least,
    between,
    finite,
    odd,
    one_of,
)

PRESETS = ("smoke", "cpu", "paper", "reference")
# The generated data sets, which can render a batch's rows on demand (``data.on_demand``).
ON_DEMAND_SETS = ("waves", "retinal", "noise")
# Sequences read from files (always on demand): their sizes are known once the files are read.
FILE_SETS = ("video", "tfds")
# Every set of next-frame prediction sequences (the sequence task; not forecasting).
SEQUENCE_SETS = ("waves", "retinal", "noise", "rotating_mnist", *FILE_SETS)
DATA_SETS = (*SEQUENCE_SETS, "hamiltonian")
# The forecasting baselines, which exist only for the Hamiltonian suite.
FORECASTING_ONLY = ("lstm", "node", "hgn")
SEED = between(0, 2**32 - 1)  # numpy's and jax's seeds are unsigned 32-bit


def run_fields() -> dict[str, Field]:
    """Which run this is (the top-level fields)."""
    return dict(
        experiment=Field("waves", Text(empty=False),
                         "name of the experiment: runs go to runs/<experiment>/<preset>/<seed>"),
        preset=Field("cpu", one_of(*PRESETS), "the experiment's preset (docs/experiments.md)"),
        seed=Field(0, SEED, "model initialisation and data order; the data set itself uses "
                            "data.seed"),
        distributed=Field(False, Switch(),
                          "several processes (hosts): start jax.distributed (also automatic on "
                          "SLURM with several tasks, a TPU pod slice, or with "
                          "LOCORNN_COORDINATOR set; see locornn.sharding)"),
    )


def data_fields() -> dict[str, Field]:
    """What the network is trained and tested on."""
    return dict(
        name=Field("waves", one_of(*DATA_SETS), "the data set: generated (waves, retinal, "
                                                "noise), "
                                                "rotating_mnist, hamiltonian (forecasting), or "
                                                "your own files: video, tfds"),
        seed=Field(1234, SEED, "fixes the train/test split, shared by all training seeds"),
        image_size=Field(32, at_least(1), "image side in pixels"),
        sequence_length=Field(20, at_least(3), "frames per training sequence (two of context "
                                               "and one to predict at least)"),
        num_train=Field(512, at_least(0), "training sequences (>= 1; video and tfds: windows "
                                          "kept, evenly spaced, 0: all of them)"),
        num_test=Field(64, at_least(0), "held-out sequences (>= 1; video and tfds: windows "
                                        "kept, 0: all of them)"),
        wavelength_min=Field(5.0, above(0), "waves: pixels (the reference used 5, 10, 16, 24)"),
        wavelength_max=Field(24.0, above(0), "waves: longest wavelength in pixels"),
        speed_min=Field(0.5, at_least(0), "waves, retinal: drift speed, pixels per frame"),
        speed_max=Field(2.0, at_least(0), "waves, retinal: fastest drift speed, pixels per "
                                          "frame"),
        retinal_events=Field(4, at_least(1), "retinal: travelling fronts that start and die "
                                             "(data/waves.py), per sequence"),
        retinal_width=Field(1.5, above(0), "retinal: front width (Gaussian s.d., pixels)"),
        retinal_extent=Field(6.0, above(0), "retinal: lateral extent of a front (Gaussian "
                                            "s.d., pixels)"),
        retinal_lifetime=Field(12.0, above(0), "retinal: frames from a front's onset to its "
                                               "death"),
        period_min=Field(0.0, Range(low=2, also=(0.0,)),
                         "waves: temporal period in frames, U[period_min, period_max] per "
                         "sequence, instead of the speed range (speed = wavelength / period); "
                         "0: use the speed range. A lattice follows waves whose period is near "
                         "its oscillators' (2 pi / (dt sqrt(gamma)): ~50 frames at dt 0.125); "
                         "2 frames is the sampling limit"),
        period_max=Field(0.0, Range(low=2, also=(0.0,)), "waves: longest temporal period"),
        on_demand=Field(False, Switch(),
                        "waves/noise: render each batch's sequences when asked instead of the "
                        "whole split up front (a host holds no split; multi-host pods, splits "
                        "larger than RAM); noise is then drawn per sequence: a different draw"),
        test_sequence_length=Field(0, at_least(0),
                                   "held-out sequence length; 0: same as sequence_length"),
        mnist_dir=Field("", Text(), "rotating_mnist: IDX folder (\"\" -> $LOCORNN_MNIST_DIR, "
                                    "tfds, digits)"),
        mnist_source=Field("auto", one_of("auto", "idx", "tfds", "digits"),
                           "rotating_mnist: where the digits come from"),
        rotation_step=Field(20.0, finite(), "rotating_mnist: degrees per frame (18 frames per "
                                            "period)"),
        rotation_start=Field(0.0, finite(), "rotating_mnist: angle of the first frame, degrees"),
        rotation_centre=Field("middle", one_of("middle", "half_size"),
                              "\"middle\": about the image's middle ((H - 1) / 2, (W - 1) / 2) "
                              "in pixel indices, so a quarter turn maps the pixel grid onto "
                              "itself | \"half_size\": about (H / 2, W / 2), half a pixel down "
                              "and right of it (the reference's kornia call)"),
        wrap_target=Field(False, Switch(),
                          "sequence tasks: the last frame's prediction is scored against the "
                          "first frame (the sequence is one period of a cycle, as the "
                          "reference's rotating MNIST)"),
        system=Field("mass_spring", OneOf("locornn.data.hamiltonian.systems:ALL_SYSTEMS"),
                     "hamiltonian: the system"),
        trajectory_length=Field(256, at_least(2), "hamiltonian: frames per training "
                                                  "trajectory"),
        cache_dir=Field("cache/hamiltonian", Text(empty=False),
                        "hamiltonian: generated trajectories are cached here"),
        suite_dir=Field("", Text(), "hamiltonian: read the DeepMind suite's own files from "
                                    "here instead"),
        path=Field("", Text(), "video: your recordings, windowed into sequences: a .npy/.npz "
                               "array (N, T, H, W[, C]), a folder of PNG frames (one recording) "
                               "or of per-recording subfolders / GIF / MP4 files, or one GIF/MP4 "
                               "file"),
        test_path=Field("", Text(), "video: held-out recordings from here instead of "
                                    "data.test_fraction"),
        test_fraction=Field(0.1, between(0, 1, low_open=True, high_open=True),
                            "video, tfds: the last fraction of the frames (in file order) is "
                            "held out, cut into back-to-back windows"),
        window_stride=Field(0, at_least(0), "video, tfds: frames between training windows' "
                                            "starts; 0: sequence_length"),
        scaling=Field("dtype", one_of("dtype", "minmax"),
                      "video, tfds: frames to [0, 1]: \"dtype\" (unsigned integers / their "
                      "maximum, floats must lie in [0, 1]) | \"minmax\" (the data's smallest "
                      "value -> 0, largest -> 1)"),
        feature=Field("", Text(), "the .npz array / tfds feature holding the frames (\"\": the "
                                  "only one)"),
        tfds_name=Field("", Text(), "tfds: a prepared tensorflow-datasets set, e.g. "
                                    "\"moving_mnist\""),
        tfds_split=Field("train", Text(empty=False), "tfds: the split read (slices too: "
                                                     "\"test[:90%]\")"),
        tfds_test_split=Field("", Text(), "tfds: held-out split (\"\": data.test_fraction of "
                                          "tfds_split)"),
        tfds_data_dir=Field("", Text(), "tfds: prepared data (\"\": $TFDS_DATA_DIR, "
                                        "~/tensorflow_datasets)"),
    )


def model_fields() -> dict[str, Field]:
    """The network."""
    return dict(
        kind=Field("locornn", one_of("locornn", "cornn", *FORECASTING_ONLY),
                   "\"locornn\" | \"cornn\" (dense) | forecasting only: \"lstm\" | \"node\" | "
                   "\"hgn\" (HGN++)"),
        lattice=Field(32, at_least(1), "LocoRNN: the hidden state is lattice x lattice x "
                                       "channels"),
        channels=Field(1, at_least(1), "LocoRNN: oscillators per lattice site"),
        hidden_units=Field(256, at_least(1), "coRNN: number of oscillators"),
        kernel_size=Field(3, odd(), "coupling kernels Kz, Kv"),
        drive_kernel_size=Field(3, odd(), "input kernel Kx"),
        padding=Field("circular", one_of("circular", "zero"), "the lattice's boundary"),
        tie_kernels=Field(False, Switch(), "one kernel K for position and velocity (paper "
                                           "eq. 2)"),
        dt=Field(0.125, above(0), "time step"),
        gamma=Field(1.0, at_least(0), "oscillator stiffness"),
        alpha=Field(0.5, at_least(0), "oscillator damping"),
        learn_constants=Field(True, Switch(), "learn dt = sigmoid(raw), gamma/alpha = "
                                              "relu(raw)"),
        coupling_init=Field("lecun", one_of("lecun", "smoothing", "constant", "wave"),
                            "\"lecun\" | \"smoothing\" (1/n + N(0, 0.1^2): the reference's "
                            "Hamiltonian suite) | \"constant\" (1 / lattice sites, no noise: the "
                            "reference's rotating MNIST) | \"wave\" (K_z a discrete Laplacian "
                            "carrying waves at model.wave_speed sites a step, K_v zero, K_x "
                            "LeCun); also K_x in sequence models"),
        wave_speed=Field(0.5, between(0, 2 ** -0.5, low_open=True),
                         "coupling_init \"wave\": sites per step (at most 1/sqrt(2): faster "
                         "waves are unstable)"),
        freeze_coupling=Field(False, Switch(), "K_z and K_v keep their initial values: only "
                                               "the codecs, drive, bias (and constants) learn"),
        alpha_max=Field(0.0, at_least(0), "> 0: cap the learned damping alpha (0: no cap)"),
        velocity_kernel_sum=Field("free", one_of("free", "zero"),
                                  "\"zero\": K_v cannot damp on the whole"),
        initial_state=Field("zeros", one_of("zeros", "encoded", "encoder_output"),
                            "\"encoded\": z from the first frame's drive K_x * f(x_0) | "
                            "\"encoder_output\": z = f(x_0) itself, the reference's rotating "
                            "MNIST (needs encoded_channels == channels)"),
        encoder=Field("mlp", one_of("mlp", "conv", "gaussian", "retinotopic"),
                      "\"gaussian\": the reference's VAE encoder (Linear -> mean, log-variance; "
                      "a sample in training, the mean in evaluation, KL to N(0, I) added to the "
                      "loss) | \"retinotopic\": LocoRNN only, each site reads its own "
                      "receptive_field x receptive_field image patch at its place, unshared "
                      "weights; image side = a multiple of the lattice"),
        receptive_field=Field(9, odd(), "retinotopic encoder's patch side in pixels"),
        decoder=Field("mlp", one_of("mlp", "conv", "retinotopic"),
                      "\"retinotopic\": LocoRNN only, each site draws its own image block from "
                      "its own state, unshared weights; with the retinotopic encoder only the "
                      "coupling moves a pattern across the lattice"),
        decoder_hidden=Field(0, at_least(0), "MLP decoder: leaky-ReLU layer before the image "
                                             "(0: linear)"),
        encoded_channels=Field(1, at_least(1), "channels of f(x) on the lattice (input of "
                                               "Kx)"),
        conv_features=Field(64, at_least(1), "conv encoder/decoder width (DeepMind suite "
                                             "nets)"),
        conv_blocks=Field(3, at_least(0), "conv encoder/decoder blocks (>= 1 for conv codecs)"),
        conv_depth=Field(2, at_least(1), "conv layers per block"),
        drive_layernorm=Field(True, Switch(), "LayerNorm on the encoded input, as the "
                                              "reference"),
        layernorm_eps=Field(1e-6, above(0), "the encoder's LayerNorm (Flax's default; "
                                            "PyTorch's is 1e-5)"),
        linear_init=Field("flax", one_of("flax", "pytorch"),
                          "encoder/decoder linear layers: \"flax\" (LeCun-normal weights, zero "
                          "biases) | \"pytorch\" (weights and biases U(-1/sqrt(fan_in), "
                          "1/sqrt(fan_in)), torch.nn.Linear's default: the reference's)"),
        unused_latents=Field(0, at_least(0),
                             "Gaussian encoder: extra latent units that are sampled and pay "
                             "their KL but drive nothing (the reference's: 1296)"),
        initial_noise=Field("shared", one_of("shared", "independent"),
                            "Gaussian encoder with an encoded initial state: z0 from the same "
                            "sample of frame 0 that drives step 0 (\"shared\") or from a second "
                            "one (\"independent\": the reference encodes frame 0 again)"),
        output=Field("sigmoid", one_of("sigmoid", "linear"),
                     "decoder output: \"sigmoid\" (images in [0, 1]) | \"linear\""),
        unroll=Field(1, at_least(1), "lax.scan unroll"),
        remat_block=Field(0, at_least(0),
                          "sequence models: > 0 trains block by block inside the scan (each "
                          "block of this many frames under jax.checkpoint): memory sub-linear "
                          "in the sequence length, ~1.4x the time. Must divide "
                          "data.sequence_length. 0: decode the trajectory after"),
        context_frames=Field(31, at_least(1), "forecasting: initial state inferred by a GRU "
                                              "run backwards over K frames (as the reference)"),
        rollout=Field("open_loop", one_of("open_loop", "autoregressive"),
                      "\"open_loop\": the GRU's state rolls out with no input | "
                      "\"autoregressive\" (the reference): every frame drives one step "
                      "(teacher forcing), forecasts feed the decoded frame back"),
        site_bias=Field(False, Switch(), "LocoRNN: one bias per lattice site (H, W, C), as the "
                                         "reference"),
        decode_velocity=Field(False, Switch(), "oscillators: the decoder reads [z, v], as the "
                                               "reference"),
        state_from_gru=Field(False, Switch(), "the GRU's hidden state IS (z0, v0), as the "
                                              "reference"),
        encoded_units=Field(128, at_least(1), "forecasting: encoder output (input of the GRU)"),
        gru_units=Field(256, at_least(1), "forecasting: GRU width"),
        lstm_units=Field(256, at_least(1), "LSTM baseline: width"),
        node_units=Field(64, at_least(1), "Neural ODE baseline: state size"),
        node_width=Field(256, at_least(1), "Neural ODE baseline: MLP vector field width"),
        node_depth=Field(2, at_least(0), "Neural ODE baseline: MLP vector field depth"),
        node_dt=Field(0.125, above(0), "Neural ODE baseline: fixed Tsit5 step"),
        node_frame_dt=Field(0.125, above(0), "Neural ODE baseline: time between frames (a "
                                             "whole number of steps)"),
        hgn_units=Field(16, at_least(1), "HGN++ baseline (open loop, H(q, p) = T(p) + V(q) by "
                                         "leapfrog): dimension of q, and of p"),
        hgn_width=Field(250, at_least(1), "HGN++: hidden units of each energy MLP"),
        hgn_depth=Field(4, at_least(0), "HGN++: hidden layers of each energy MLP"),
        hgn_activation=Field("swish", one_of("swish", "softplus", "tanh"),
                             "\"swish\" (HGN++) | \"softplus\" (HGN) | \"tanh\""),
        hgn_kinetic=Field("mlp", one_of("mlp", "quadratic_mlp"),
                          "kinetic energy T(p): \"mlp\" (HGN++) | \"quadratic_mlp\" (|p|^2/2 + "
                          "the MLP)"),
        hgn_dt=Field(0.125, above(0), "HGN++: leapfrog step"),
        hgn_frame_dt=Field(0.125, above(0), "HGN++: time between frames (a whole number of "
                                            "leapfrog steps)"),
    )


def train_fields() -> dict[str, Field]:
    """The optimisation."""
    return dict(
        num_steps=Field(1000, at_least(1), "training steps"),
        batch_size=Field(16, at_least(1), "sequences per step"),
        learning_rate=Field(1e-3, above(0), "peak learning rate"),
        optimizer=Field("adam", one_of("adam", "sgd"),
                        "\"adam\" | \"sgd\" (with train.momentum, as the reference's MNIST)"),
        momentum=Field(0.9, at_least(0), "sgd momentum"),
        loss=Field("mse", one_of("mse", "bce"),
                   "sequence tasks: \"mse\" (squared error) | \"bce\" (Bernoulli likelihood of "
                   "pixels in [0, 1])"),
        time_reduction=Field("sum", one_of("sum", "mean"),
                             "per frame the loss sums over pixels; over frames it is summed or "
                             "averaged (\"mean\", the reference's rotating MNIST)"),
        kl_weight=Field(1.0, at_least(0), "model.encoder = \"gaussian\": weight of "
                                          "KL(q(s|x) || N(0, I))"),
        bce_eps=Field(1e-6, between(0, 0.5, low_open=True, high_open=True),
                      "train.loss = \"bce\": probabilities clipped to [eps, 1 - eps] (the "
                      "reference's torch Bernoulli clamps at float32 epsilon, 1.19e-7)"),
        schedule=Field("constant", one_of("constant", "cosine"),
                       "\"cosine\": over decay_steps, after warmup"),
        warmup_steps=Field(0, at_least(0), "linear warmup steps"),
        decay_steps=Field(0, at_least(0), "cosine decay length; 0 means train.num_steps"),
        clip_norm=Field(0.0, at_least(0), "global-norm gradient clipping; 0 disables it"),
        log_every=Field(25, at_least(1), "steps between logged training losses"),
        eval_every=Field(100, at_least(1), "steps between held-out evaluations"),
        checkpoint_every=Field(100, at_least(1), "steps between checkpoints"),
        max_checkpoints=Field(3, at_least(1), "checkpoints kept"),
        eval_batches=Field(4, at_least(0), "held-out batches per evaluation (all of the test "
                                           "split if 0)"),
        late_weight=Field(1.0, above(0), "forecasting losses: weight of the last frame "
                                         "relative to the first (linear ramp, mean 1)"),
        blur_sigma=Field(0.0, at_least(0),
                         "forecasting losses: > 0 adds the same loss on frames blurred by a "
                         "Gaussian of this standard deviation in pixels, a diagnostic for small "
                         "objects; 0 (every preset): the paper's loss"),
        closed_loop_frames=Field(0, at_least(-1),
                                 "autoregressive: the last k frames of each window are "
                                 "forecast in closed loop (0: pure teacher forcing, the "
                                 "reference; -1: every frame after the context)"),
        curriculum_steps=Field(0, at_least(0),
                               "curriculum length in steps (open loop: the scored part of the "
                               "window grows to all of it; autoregressive: k grows from 0 to "
                               "closed_loop_frames); 0: no curriculum"),
        probe_sequences=Field(0, at_least(0), "> 0: log wave metrics of z on this many "
                                              "held-out sequences"),
        free_frames=Field(0, at_least(0), "sequence tasks: the last free_frames frames of "
                                          "every sequence are forecast with the drive withheld "
                                          "(the lattice runs free from its state), in training "
                                          "and held-out evaluation"),
    )


def evaluation_fields() -> dict[str, Field]:
    """The held-out measurements."""
    return dict(
        vpt_threshold=Field(0.025, above(0), "forecasting: Valid Prediction Time threshold"),
        vpt_start=Field(0, at_least(0),
                        "forecasting: frame at which VPT counting starts (0: the end of the "
                        "training window, as the paper); set it to compare runs trained on "
                        "windows of different lengths"),
    )


def analysis_fields() -> dict[str, Field]:
    """What runs on the trained network after training."""
    return dict(
        waves=Field(False, Switch(), "after training: wave metrics, trained and untrained "
                                     "(waves.json)"),
        orientation=Field(False, Switch(), "after training: orientation maps "
                                           "(analysis.orientation)"),
        wavelength=Field(0.0, Range(low=2, also=(0.0,)),
                         "grating wavelength in pixels; 0: middle of the training range"),
        length=Field(30, at_least(1), "frames each static grating is shown"),
        transient=Field(10, at_least(0), "frames dropped before time-averaging z"),
        threshold=Field(0.65, above(0), "Cohen's d for a neuron to count as selective"),
        protocol=Field("phases", one_of("phases", "trials", "amplitude"),
                       "the selectivity protocol of the orientation map (all are measured and "
                       "reported; see locornn.analysis.topography.protocols)"),
        trials=Field(16, Range(low=2, also=(0,)),
                     "noisy presentations of each grating (protocol trials; 0: off)"),
        noise=Field(0.5, at_least(0), "their pixel noise standard deviation (the grating's "
                                      "amplitude)"),
    )


def figures_fields() -> dict[str, Field]:
    """What training draws at the end."""
    return dict(
        enabled=Field(True, Switch(), "draw figure1.png and hidden.gif after training"),
        num_frames=Field(10, at_least(1), "columns of figure1.png"),
        gif_frames=Field(40, at_least(1), "frames of hidden.gif (rolled out beyond the data "
                                          "if needed)"),
    )


# section name ("" for the top level) -> its fields
SECTIONS = {"": run_fields, "data": data_fields, "model": model_fields, "train": train_fields,
            "evaluation": evaluation_fields, "analysis": analysis_fields,
            "figures": figures_fields}


@functools.cache
def _schema() -> tuple[tuple[str, Field], ...]:
    return tuple((f"{section}.{key}" if section else key, field)
                 for section, fields in SECTIONS.items() for key, field in fields().items())


def all_fields() -> dict[str, Field]:
    """``{"section.key": Field}`` of every field, in declaration order."""
    return dict(_schema())


def base_config() -> ml_collections.ConfigDict:
    """All fields with their defaults. Experiments override these; nothing else may be added."""
    config = ml_collections.ConfigDict()
    for section, fields in SECTIONS.items():
        node = ml_collections.ConfigDict() if section else config
        for key, field in fields().items():
            node[key] = field.default
        if section:
            config[section] = node
    return config


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def fields_markdown() -> str:
    """One Markdown table per section: every field's default, domain and meaning (the
    generated part of docs/configuration.md; a test keeps the page equal to it)."""
    lines = []
    for section, fields in SECTIONS.items():
        lines += [f"### `{section or 'top level'}`", "", (fields.__doc__ or "").strip(), "",
                  "| field | default | allowed | meaning |", "|---|---|---|---|"]
        lines += [f"| `{f'{section}.{key}' if section else key}` | `{field.default!r}` | "
                  f"{_cell(field.describe())} | {_cell(field.doc)} |"
                  for key, field in fields().items()]
        lines.append("")
    return "\n".join(lines)


def fields_text(width: int = 100) -> str:
    """Every field with its default, domain and meaning, for ``locornn train --help-config``."""
    import textwrap

    out = []
    for section, fields in SECTIONS.items():
        out.append(f"{section or 'top level'}: {(fields.__doc__ or '').strip()}")
        for key, field in fields().items():
            path = f"{section}.{key}" if section else key
            out.append(f"  --config.{path}={field.default!r}    ({field.describe()})")
            out += textwrap.wrap(field.doc, width, initial_indent=" " * 6,
                                 subsequent_indent=" " * 6)
        out.append("")
    return "\n".join(out)
