"""The rules between config fields, each declared once, in the order they are checked.

A rule is a :class:`~locornn.configs.domains.Rule` (a test, the message, the fix, and an
example that breaks it, which the tests check) or an
:class:`~locornn.configs.domains.Order` (``low < high``, whose violations the fuzz test draws
by itself). The domain of each single field is declared beside its default in
:mod:`locornn.configs.schema`; a rule is for what one field cannot say alone.
"""

from __future__ import annotations

from locornn.configs.domains import Order, Rule
from locornn.configs.schema import FILE_SETS, FORECASTING_ONLY, ON_DEMAND_SETS


def _forecasting(c) -> bool:
    return c.data.name == "hamiltonian"


def _sequences(c) -> bool:
    return c.data.name != "hamiltonian"


def _counted(c) -> bool:
    """Generated or downloaded sequences, counted by data.num_train / num_test (files are
    windowed when read, and 0 keeps every window)."""
    return _sequences(c) and c.data.name not in FILE_SETS


def _side(c) -> int:
    """The image side the codecs see (the Hamiltonian suite renders 32x32 frames)."""
    return 32 if _forecasting(c) else c.data.image_size


def _whole_multiple(frame_dt: float, step: float) -> bool:
    ratio = frame_dt / step
    return round(ratio) >= 1 and abs(ratio - round(ratio)) <= 1e-6 * ratio


def _whole_frames(core: str, what: str) -> Rule:
    """A forecasting core's time between frames is a whole number of its integrator steps."""
    frame_dt, step = f"model.{core}_frame_dt", f"model.{core}_dt"
    return Rule(
        f"{what} frames", (frame_dt, step),
        holds=lambda c: _whole_multiple(c.model[f"{core}_frame_dt"], c.model[f"{core}_dt"]),
        applies=_forecasting,
        says=f"{frame_dt} ({{{frame_dt}}}) must be a whole multiple of {step} ({{{step}}})",
        fix="the state is read at step end points",
        breaks=("hamiltonian:smoke", {frame_dt: 0.2, step: 0.125}))


def _test_frames(c) -> int:
    return c.data.test_sequence_length or c.data.sequence_length


def _fits_lattice(kernel: str, what: str) -> Order:
    return Order.of(
        f"model.{kernel}", "<=", "model.lattice", applies=lambda c: c.model.kind == "locornn",
        says=f"'model.{kernel}' ({{model.{kernel}}}) is larger than the lattice "
             f"'model.lattice' ({{model.lattice}})",
        fix=f"the {what} must fit the lattice: set a smaller model.{kernel} or a larger "
            f"model.lattice")


def _retinotopic(codec: str, verb: str) -> tuple[Rule, Rule]:
    """A retinotopic encoder or decoder needs a lattice whose side divides the image's."""
    field = f"model.{codec}"

    def used(c) -> bool:
        return c.model[codec] == "retinotopic"

    return (
        Rule(f"retinotopic {codec} needs a lattice", (field, "model.kind"),
             holds=lambda c: c.model.kind == "locornn", applies=used,
             says=f"{field} = 'retinotopic' {verb} a lattice: it needs model.kind = "
                  f"'locornn', not {{model.kind!r}}",
             fix=f"set model.kind=locornn or another {field}",
             breaks=("waves:smoke", {field: "retinotopic", "model.kind": "cornn",
                                     "data.image_size": 16})),
        Rule(f"retinotopic {codec} image side", ("data.image_size", "model.lattice", field),
             holds=lambda c: _side(c) % c.model.lattice == 0, applies=used,
             says=f"{field} = 'retinotopic' needs an image side that is a multiple of the "
                  f"lattice: data.image_size = {{data.image_size}}, model.lattice = "
                  f"{{model.lattice}}",
             fix="set data.image_size to a multiple of model.lattice",
             breaks=("waves:smoke", {field: "retinotopic", "data.image_size": 12})))


RULES: tuple[Rule, ...] = (
    _fits_lattice("kernel_size", "coupling kernel"),
    _fits_lattice("drive_kernel_size", "input kernel"),
    *(rule for codec, verb in (("encoder", "maps the image onto"),
                               ("decoder", "draws the image from"))
      for rule in _retinotopic(codec, verb)),
    Rule("wave coupling needs a lattice", ("model.coupling_init", "model.kind",
                                           "model.kernel_size", "model.tie_kernels"),
         holds=lambda c: (c.model.kind == "locornn" and c.model.kernel_size >= 3
                          and not c.model.tie_kernels),
         applies=lambda c: c.model.coupling_init == "wave",
         says="model.coupling_init = 'wave' sets K_z to a lattice Laplacian and K_v to zero: "
              "it needs model.kind = 'locornn', model.kernel_size >= 3 and model.tie_kernels "
              "= False",
         fix="set those, or another model.coupling_init",
         breaks=("waves:smoke", {"model.coupling_init": "wave", "model.tie_kernels": True})),
    Order.of("train.free_frames", "<=", "data.sequence_length",
             high_of=lambda c: c.data.sequence_length - 2, applies=_sequences,
             says="'train.free_frames' ({train.free_frames}) must leave two driven frames: at "
                  "most data.sequence_length - 2",
             fix="set fewer free frames or longer sequences",
             breaks=("waves:smoke", {"train.free_frames": 7})),
    Rule("free frames are for the sequence tasks", ("train.free_frames", "data.name",
                                                     "model.remat_block"),
         holds=lambda c: not _forecasting(c) and not c.model.remat_block,
         applies=lambda c: c.train.free_frames > 0,
         says="'train.free_frames' ({train.free_frames}) is for the sequence tasks without "
              "model.remat_block (data.name = {data.name!r}, model.remat_block = "
              "{model.remat_block})",
         fix="set train.free_frames=0 or model.remat_block=0",
         breaks=("hamiltonian:smoke", {"train.free_frames": 2})),
    Rule("conv decoder image side", ("model.conv_blocks", "data.image_size", "model.decoder"),
         holds=lambda c: _side(c) % 2 ** (c.model.conv_blocks - 1) == 0,
         applies=lambda c: c.model.decoder == "conv" and c.model.conv_blocks >= 1,
         says=lambda c: f"the conv decoder with 'model.conv_blocks' = {c.model.conv_blocks} "
                        f"needs an image side divisible by {2 ** (c.model.conv_blocks - 1)}, "
                        f"got {_side(c)}",
         fix="set data.image_size, model.conv_blocks or model.decoder=mlp",
         breaks=("waves:smoke", {"model.decoder": "conv", "model.conv_blocks": 3,
                                 "data.image_size": 14, "model.lattice": 7})),
    Rule("conv codecs need blocks", ("model.conv_blocks", "model.encoder", "model.decoder"),
         holds=lambda c: c.model.conv_blocks >= 1,
         applies=lambda c: "conv" in (c.model.encoder, c.model.decoder),
         says="'model.conv_blocks' must be >= 1 for conv codecs, got {model.conv_blocks}",
         fix="set model.conv_blocks >= 1 or mlp codecs",
         breaks=("waves:smoke", {"model.decoder": "conv", "model.conv_blocks": 0})),
    Rule("learned dt below 1", ("model.dt", "model.learn_constants"),
         holds=lambda c: c.model.dt < 1, applies=lambda c: c.model.learn_constants,
         says="config key 'model.dt' must be < 1 when model.learn_constants (dt = "
              "sigmoid(raw)), got {model.dt}",
         fix="set model.dt in (0, 1) or model.learn_constants=False",
         breaks=("waves:smoke", {"model.dt": 1.5})),
    Rule("remat block divides the sequence", ("model.remat_block", "data.sequence_length"),
         holds=lambda c: _sequences(c) and c.data.sequence_length % c.model.remat_block == 0,
         applies=lambda c: c.model.remat_block > 0,
         says="config key 'model.remat_block' ({model.remat_block}) must divide "
              "'data.sequence_length' ({data.sequence_length}) and is for the sequence "
              "experiments (not {data.name!r})",
         fix="set model.remat_block to a divisor of data.sequence_length, or 0",
         breaks=("waves:smoke", {"model.remat_block": 3})),
    Rule("on-demand sets", ("data.on_demand", "data.name"),
         holds=lambda c: c.data.name in ON_DEMAND_SETS, applies=lambda c: c.data.on_demand,
         says="config key 'data.on_demand' is for the generated sets "
              f"({', '.join(ON_DEMAND_SETS)}), not {{data.name!r}}",
         fix="set data.on_demand=False",
         breaks=("rotating_mnist:smoke", {"data.on_demand": True})),
    Rule("period range", ("data.period_min", "data.period_max"),
         holds=lambda c: (c.data.period_min == c.data.period_max == 0)
         or (c.data.period_min > 0 and c.data.period_min <= c.data.period_max),
         says="'data.period_min' ({data.period_min}) and 'data.period_max' ({data.period_max}) "
              "must both be 0 (use the speed range) or satisfy 2 <= period_min <= period_max",
         fix="frames; 2 is the sampling limit",
         breaks=("waves:smoke", {"data.period_min": 0.0, "data.period_max": 10.0})),
    Order.of("data.wavelength_min", "<=", "data.wavelength_max",
             fix="swap them, or set one wavelength twice"),
    Order.of("data.speed_min", "<=", "data.speed_max", fix="swap them, or set one speed twice"),
    Rule("gaussian encoder's unused latents", ("model.unused_latents", "model.encoder"),
         holds=lambda c: c.model.unused_latents == 0,
         applies=lambda c: c.model.encoder != "gaussian",
         says="config key 'model.unused_latents' ({model.unused_latents!r}) is for "
              "model.encoder = 'gaussian', not {model.encoder!r}",
         fix="set model.unused_latents=0 or model.encoder=gaussian",
         breaks=("waves:smoke", {"model.unused_latents": 4})),
    Rule("gaussian encoder's initial noise", ("model.initial_noise", "model.encoder"),
         holds=lambda c: c.model.initial_noise == "shared",
         applies=lambda c: c.model.encoder != "gaussian",
         says="config key 'model.initial_noise' ({model.initial_noise!r}) is for "
              "model.encoder = 'gaussian', not {model.encoder!r}",
         fix="set model.initial_noise=shared or model.encoder=gaussian",
         breaks=("waves:smoke", {"model.initial_noise": "independent",
                                 "model.initial_state": "encoded"})),
    Rule("independent initial noise needs an encoded state",
         ("model.initial_noise", "model.initial_state"),
         holds=lambda c: c.model.initial_state != "zeros",
         applies=lambda c: c.model.initial_noise == "independent",
         says="model.initial_noise = 'independent' draws z0 from frame 0: it needs "
              "model.initial_state = 'encoded' or 'encoder_output', not 'zeros'",
         fix="set model.initial_state=encoded",
         breaks=("waves:smoke", {"model.initial_noise": "independent",
                                 "model.encoder": "gaussian"})),
    Rule("pytorch linear init is for sequence codecs", ("model.linear_init", "data.name"),
         holds=lambda c: c.model.linear_init == "flax", applies=_forecasting,
         says="config key 'model.linear_init' is for the sequence tasks' codecs (waves, "
              "noise, rotating_mnist), not forecasting",
         fix="set model.linear_init=flax",
         breaks=("hamiltonian:smoke", {"model.linear_init": "pytorch"})),
    Rule("encoder output as initial state", ("model.initial_state", "model.encoded_channels",
                                             "model.channels"),
         holds=lambda c: c.model.encoded_channels == c.model.channels,
         applies=lambda c: c.model.initial_state == "encoder_output"
         and c.model.kind == "locornn",
         says="model.initial_state = 'encoder_output' starts z at f(x_0): it needs "
              "'model.encoded_channels' ({model.encoded_channels}) == 'model.channels' "
              "({model.channels})",
         fix="set both to the same number",
         breaks=("waves:smoke", {"model.initial_state": "encoder_output",
                                 "model.encoded_channels": 2})),
    Rule("zero-sum velocity kernel", ("model.velocity_kernel_sum", "model.tie_kernels"),
         holds=lambda c: not c.model.tie_kernels,
         applies=lambda c: c.model.velocity_kernel_sum == "zero",
         says="model.velocity_kernel_sum = 'zero' needs a velocity kernel of its own, but "
              "model.tie_kernels = True",
         fix="set model.tie_kernels=False or model.velocity_kernel_sum=free",
         breaks=("waves:smoke", {"model.velocity_kernel_sum": "zero",
                                 "model.tie_kernels": True})),
    Rule("cosine warmup", ("train.warmup_steps", "train.decay_steps", "train.num_steps"),
         holds=lambda c: c.train.warmup_steps < (c.train.decay_steps or c.train.num_steps),
         applies=lambda c: c.train.schedule == "cosine",
         says="'train.warmup_steps' ({train.warmup_steps}) must be shorter than the cosine "
              "schedule ('train.decay_steps' ({train.decay_steps}) or else 'train.num_steps' "
              "({train.num_steps}))",
         fix="set a shorter train.warmup_steps or a longer train.decay_steps",
         breaks=("waves:smoke", {"train.schedule": "cosine", "train.warmup_steps": 100})),
    Rule("forecasting baselines need the Hamiltonian suite", ("model.kind", "data.name"),
         holds=lambda c: c.model.kind not in FORECASTING_ONLY, applies=_sequences,
         says="config key 'model.kind' = {model.kind!r} is a forecasting baseline: it needs "
              "data.name = 'hamiltonian'",
         fix="use --config hamiltonian:PRESET or model.kind=locornn",
         breaks=("waves:smoke", {"model.kind": "lstm"})),
    Rule("blurred loss is for forecasting", ("train.blur_sigma", "data.name"),
         holds=lambda c: c.train.blur_sigma == 0, applies=_sequences,
         says="config key 'train.blur_sigma' is a forecasting loss option: it needs "
              "data.name = 'hamiltonian'",
         fix="set 0 for the sequence tasks",
         breaks=("waves:smoke", {"train.blur_sigma": 2.0})),
    Rule("sequence-task options", ("model.initial_state", "train.loss", "data.wrap_target"),
         holds=lambda c: not (c.model.initial_state == "encoder_output"
                              or c.train.loss != "mse" or c.data.wrap_target),
         applies=_forecasting,
         says="model.initial_state = 'encoder_output', train.loss = 'bce' and "
              "data.wrap_target are for the sequence tasks (waves, noise, rotating_mnist), "
              "not forecasting",
         fix="use the defaults (zeros, mse, False) for hamiltonian",
         breaks=("hamiltonian:smoke", {"train.loss": "bce"})),
    Rule("video needs a path", ("data.path", "data.name"),
         holds=lambda c: c.data.path != "", applies=lambda c: c.data.name == "video",
         says="data.name = 'video' reads your recordings: set 'data.path'",
         fix="a .npy/.npz array, a folder of frames or a GIF/MP4 video",
         breaks=("video:smoke", {"data.path": ""})),
    Rule("tfds needs a set", ("data.tfds_name", "data.name"),
         holds=lambda c: c.data.tfds_name != "", applies=lambda c: c.data.name == "tfds",
         says="data.name = 'tfds' reads a prepared tensorflow-datasets set: name it by "
              "'data.tfds_name'",
         fix="e.g. --config.data.tfds_name=moving_mnist",
         breaks=("video:smoke", {"data.name": "tfds", "data.tfds_name": ""})),
    Rule("counted sets need sequences", ("data.num_train", "data.num_test", "data.name"),
         holds=lambda c: c.data.num_train >= 1 and c.data.num_test >= 1, applies=_counted,
         says="'data.num_train' ({data.num_train}) and 'data.num_test' ({data.num_test}) must "
              "be >= 1 for data.name = {data.name!r}",
         fix="0 (every window) is for the sets read from files (video, tfds)",
         breaks=("waves:smoke", {"data.num_test": 0, "train.eval_batches": 0})),
    Order.of("train.batch_size", "<=", "data.num_train", applies=_counted,
             fix="a batch is drawn from the training sequences: set a larger data.num_train "
                 "or a smaller train.batch_size"),
    Order.of("train.batch_size", "<=", "data.num_test",
             applies=lambda c: _counted(c) and c.train.eval_batches > 0,
             fix="held-out batches are drawn from the test sequences: set a larger "
                 "data.num_test, a smaller train.batch_size, or train.eval_batches=0"),
    # forecasting (data.name = "hamiltonian")
    Order.of("model.context_frames", "<", "data.sequence_length", applies=_forecasting,
             says="'data.sequence_length' ({data.sequence_length}) must exceed "
                  "'model.context_frames' ({model.context_frames})",
             fix="the training window must hold the GRU's context and frames to forecast",
             breaks=("hamiltonian:smoke", {})),
    Order.of("data.sequence_length", "<", "data.test_sequence_length", applies=_forecasting,
             high_of=_test_frames,
             says=lambda c: f"'data.test_sequence_length' ({_test_frames(c)}) must exceed the "
                            f"training window 'data.sequence_length' ({c.data.sequence_length})",
             fix="VPT is measured on held-out frames beyond the "
             "training window: set a longer data.test_sequence_length",
             breaks=("hamiltonian:smoke", {})),
    Order.of("data.sequence_length", "<=", "data.trajectory_length", applies=_forecasting,
             fix="windows are cut from the training trajectories",
             breaks=("hamiltonian:smoke", {})),
    Rule("VPT start", ("evaluation.vpt_start", "model.context_frames",
                       "data.test_sequence_length"),
         holds=lambda c: c.model.context_frames <= c.evaluation.vpt_start < _test_frames(c),
         applies=lambda c: _forecasting(c) and c.evaluation.vpt_start > 0,
         says="'evaluation.vpt_start' ({evaluation.vpt_start}) must lie in "
              "[model.context_frames = {model.context_frames}, the test length)",
         fix="set it between them, or 0 (the end of the training window)",
         breaks=("hamiltonian:smoke", {"evaluation.vpt_start": 1})),
    Rule("autoregressive needs a recurrent core", ("model.rollout", "model.kind"),
         holds=lambda c: c.model.kind in ("locornn", "cornn", "lstm"),
         applies=lambda c: _forecasting(c) and c.model.rollout == "autoregressive",
         says="model.rollout = 'autoregressive' needs a recurrent core (locornn, cornn, "
              "lstm), got model.kind = {model.kind!r}",
         fix="set model.rollout=open_loop",
         breaks=("hamiltonian:smoke", {"model.rollout": "autoregressive",
                                       "model.kind": "node"})),
    Rule("constant coupling is rotating MNIST's", ("model.coupling_init", "data.name"),
         holds=lambda c: c.model.coupling_init != "constant", applies=_forecasting,
         says="model.coupling_init must be one of ('lecun', 'smoothing') for forecasting, got "
              "{model.coupling_init!r}",
         fix="set model.coupling_init=lecun or smoothing",
         breaks=("hamiltonian:smoke", {"model.coupling_init": "constant"})),
    Rule("forecasting codecs", ("model.encoder", "model.decoder", "data.name"),
         holds=lambda c: c.model.encoder in ("mlp", "conv") and c.model.decoder in ("mlp",
                                                                                  "conv"),
         applies=_forecasting,
         says="model.encoder and model.decoder must be 'mlp' or 'conv' for forecasting, got "
              "{model.encoder!r} and {model.decoder!r}",
         fix="set model.encoder=mlp (or conv)",
         breaks=("hamiltonian:smoke", {"model.encoder": "gaussian"})),
    _whole_frames("node", "Neural ODE"),
    _whole_frames("hgn", "HGN"),
    Rule("closed loop needs autoregressive", ("train.closed_loop_frames", "model.rollout"),
         holds=lambda c: c.model.rollout == "autoregressive",
         applies=lambda c: _forecasting(c) and c.train.closed_loop_frames != 0,
         says="'train.closed_loop_frames' needs 'model.rollout' = 'autoregressive'",
         fix="set model.rollout=autoregressive or train.closed_loop_frames=0",
         breaks=("hamiltonian:smoke", {"train.closed_loop_frames": 2})),
    Rule("closed-loop frames fit the window", ("train.closed_loop_frames",
                                              "data.sequence_length", "model.context_frames"),
         holds=lambda c: c.train.closed_loop_frames <= c.data.sequence_length
         - c.model.context_frames, applies=_forecasting,
         says="'train.closed_loop_frames' ({train.closed_loop_frames}) must lie in [0, "
              "data.sequence_length - model.context_frames], or be -1",
         fix="-1: all frames after the context",
         breaks=("hamiltonian:smoke", {"model.rollout": "autoregressive",
                                       "train.closed_loop_frames": 1000})),
    # the analyses after training, checked before it
    Order.of("analysis.transient", "<", "analysis.length",
             fix="the frames averaged are those after the transient: set a longer "
                 "analysis.length or a shorter analysis.transient"),
    Rule("trials protocol needs trials", ("analysis.protocol", "analysis.trials"),
         holds=lambda c: c.analysis.trials > 0,
         applies=lambda c: c.analysis.protocol == "trials",
         says="analysis.protocol = 'trials' needs analysis.trials > 0, got {analysis.trials}",
         fix="set analysis.trials >= 2 or another analysis.protocol",
         breaks=("orientation:smoke", {"analysis.protocol": "trials",
                                       "analysis.trials": 0})),
)


def rules_markdown() -> str:
    """The rules as a Markdown table (the generated part of docs/robustness.md)."""
    lines = ["| rule | fields | how to fix |", "|---|---|---|"]
    lines += [f"| {rule.name} | {', '.join(f'`{f}`' for f in rule.fields)} | "
              f"{rule.fix.replace('|', chr(92) + '|')} |" for rule in RULES]
    return "\n".join(lines) + "\n"
