r"""Can the run's decoder draw the system at all? ``locornn analyze decoder-probe RUN``.

VPT counts the frames whose normalised error (:func:`locornn.metrics.normalised_error`)

.. math:: e_t = \frac{\sum_{h,w,c} (\hat x_{t,hwc} - x_{t,hwc})^2}{\sum_{h,w,c} x_{t,hwc}^2}

stays within ``evaluation.vpt_threshold`` (0.025). A forecaster that scores 0 may fail at any
stage: the encoder, the inference of the initial state, the dynamics, or the decoder. The state
probe (:mod:`locornn.analysis.probes.state`) reads the first three; this probe checks the
codecs, by training fresh copies of the run's own encoder and decoder (its config's
architecture, new parameters) on single frames of its training trajectories, with the
dynamics out of the way:

* ``true state -> decoder``: ``g(s_t)`` with ``s_t`` the system's true state as
  :func:`locornn.analysis.probes.state.probe_targets` gives it (pendulums: ``cos q, sin q`` of
  every angle; otherwise the suite's ``x``): the decoder handed the state it should be drawing;
* ``frame -> encoder -> decoder``: ``g(f(x_t))``, an autoencoder of the frame through the
  run's encoded shape.

Both minimise the mean squared error with Adam (optax) on random frames of the training
trajectories, then draw every frame of the held-out trajectories; the report gives the median
and 90th percentile of ``e_t`` and the share of frames within the VPT threshold, beside the
error of drawing the mean training frame (nothing learned). If the decoder, given the true
state, draws the held-out frames within the threshold, it is not what keeps the forecast's VPT
at 0: the state is (what the state probe then locates). The converse does not hold: a fit
that fails within its budget proves nothing, since drawing objects at positions given as raw
coordinates is slow to learn for a convolutional decoder (two-body, drawn from its 8 raw
coordinates, stays at the mean frame's error after 2000 steps while its forecasters, which
choose their own state, score VPT ~200).
"""

from __future__ import annotations

import json
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

__all__ = ["add_command", "decoder_probe", "format_table", "frame_errors"]


def frame_errors(pictures, frames, batch: int = 4096) -> np.ndarray:
    """VPT's per-frame error (:func:`locornn.metrics.normalised_error`): ``(M, H, W, C)`` twice
    -> ``(M,)``."""
    from locornn.metrics import normalised_error

    return np.concatenate([np.asarray(normalised_error(pictures[i:i + batch],
                                                       frames[i:i + batch]))
                           for i in range(0, len(frames), batch)])


def _fit(apply, params, inputs, frames, *, steps, batch, learning_rate, seed, progress, label):
    """Adam on ``mean((apply(params, inputs[i]) - frames[i])^2)`` over random frames ``i``;
    ``inputs``/``frames`` are flat ``(M, ...)``. Returns the fitted parameters."""
    optimiser = optax.adam(learning_rate)
    opt_state = optimiser.init(params)

    @jax.jit
    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(lambda p: jnp.mean((apply(p, x) - y) ** 2))(params)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    rng = np.random.default_rng(seed)
    for _ in tqdm(range(steps), desc=label, disable=not progress, leave=False):
        rows = rng.integers(0, len(frames), size=batch)
        params, opt_state, _ = step(params, opt_state, inputs[rows], frames[rows])
    return params


def _summary(errors: np.ndarray, threshold: float) -> dict:
    return {"median_error": float(np.median(errors)),
            "p90_error": float(np.percentile(errors, 90)),
            "within_threshold": float(np.mean(errors <= threshold))}


def decoder_probe(config, dataset, *, steps: int = 2000, batch: int = 64,
                  learning_rate: float = 1e-3, max_trajectories: int = 64, seed: int = 0,
                  progress: bool = True) -> dict:
    """Train the run's codecs afresh on single frames and score held-out frames (module doc).

    Args:
      config: a Hamiltonian forecasting config (its ``model`` names the codecs).
      dataset: its :class:`locornn.data.hamiltonian.HamiltonianData` (frames and true states).
      steps, batch, learning_rate: Adam's budget for each of the two fits.
      max_trajectories: held-out trajectories scored (every frame of each).

    Returns:
      ``{"system", "model", "threshold", "steps", "batch", "learning_rate", "targets",
      "train_frames", "test_frames", "mean_frame": {...}, "probes": [{"input", "median_error",
      "p90_error", "within_threshold"}]}``.
    """
    from locornn.analysis.probes.state import _in_batches, probe_targets
    from locornn.models.forecasting import build_codecs, build_forecast_model

    if steps < 1 or batch < 1:
        raise ValueError(f"steps and batch must be >= 1, got {steps} and {batch}")
    system, threshold = config.data.system, float(config.evaluation.vpt_threshold)
    flat = lambda x: np.asarray(x).reshape(-1, *np.asarray(x).shape[2:])  # noqa: E731
    train_frames = flat(dataset.images("train")).astype(np.float32)
    test_frames = flat(dataset.images("test")[:max_trajectories]).astype(np.float32)
    train_states, names = probe_targets(system, dataset.train_states)
    test_states, _ = probe_targets(system, dataset.test_states[:max_trajectories])
    train_states, test_states = (flat(s).astype(np.float32) for s in (train_states, test_states))
    image_shape = train_frames.shape[1:]
    model = build_forecast_model(config.model, image_shape)
    encoder, decoder = build_codecs(model.config, image_shape, model.encoded_shape)

    key_decoder, key_encoder = jax.random.split(jax.random.PRNGKey(seed))
    encoder_params = encoder.init(key_encoder, train_frames[:1])["params"]
    codes = encoder.apply({"params": encoder_params}, train_frames[:1])
    fits = {  # label: (apply, initial parameters, training inputs, held-out inputs)
        "true state -> decoder": (
            lambda p, s: decoder.apply({"params": p}, s),
            decoder.init(key_decoder, train_states[:1])["params"], train_states, test_states),
        "frame -> encoder -> decoder": (
            lambda p, x: decoder.apply({"params": p["decoder"]},
                                       encoder.apply({"params": p["encoder"]}, x)),
            {"encoder": encoder_params,
             "decoder": decoder.init(key_decoder, codes)["params"]},
            train_frames, test_frames),
    }
    probes = []
    for label, (apply, params, train_inputs, test_inputs) in fits.items():
        params = _fit(apply, params, train_inputs, train_frames, steps=steps, batch=batch,
                      learning_rate=learning_rate, seed=seed, progress=progress, label=label)
        errors = frame_errors(_in_batches(apply, params, test_inputs, 256), test_frames)
        probes.append({"input": label, **_summary(errors, threshold)})
    mean_frame = train_frames.mean(axis=0, keepdims=True)
    return {"system": system, "model": config.model.kind, "threshold": threshold,
            "steps": steps, "batch": batch, "learning_rate": learning_rate, "targets": names,
            "train_frames": len(train_frames), "test_frames": len(test_frames),
            "mean_frame": _summary(frame_errors(np.broadcast_to(mean_frame, test_frames.shape),
                                                test_frames), threshold),
            "probes": probes}


def format_table(report: dict) -> str:
    """One line per fit, and the mean frame's line: median, p90, share within threshold."""
    rows = [*report["probes"], {"input": "mean training frame", **report["mean_frame"]}]
    lines = [f"  {'input':<29} {'median e':>9} {'p90 e':>9} {'within':>7}"]
    lines += [f"  {r['input']:<29} {r['median_error']:>9.4f} {r['p90_error']:>9.4f} "
              f"{r['within_threshold']:>7.1%}" for r in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Command line: ``locornn analyze decoder-probe``
# ----------------------------------------------------------------------------------------------


def _command(args) -> int:
    from locornn import checkpoints, tasks

    run_dir = pathlib.Path(args.run_dir)
    try:
        config = checkpoints.read_config(run_dir)
        if config.data.name != "hamiltonian":
            raise ValueError(f"{run_dir} is not a Hamiltonian forecasting run; decoder-probe "
                             f"needs one (its data have true states)")
        dataset = tasks.build_task(config, progress=not args.quiet).dataset
        report = decoder_probe(config, dataset, steps=args.steps, batch=args.batch,
                               learning_rate=args.learning_rate,
                               max_trajectories=args.trajectories, progress=not args.quiet)
    except (FileNotFoundError, ValueError) as error:  # (config and data errors too)
        print(f"locornn: {error}", file=sys.stderr)
        return 2
    print(f"the run's codecs trained afresh on single frames ({report['system']}, "
          f"{report['model']}; {report['steps']} Adam steps of {report['batch']} frames; "
          f"{report['test_frames']} held-out frames; VPT threshold {report['threshold']:g}; "
          f"state input: {', '.join(report['targets'])}):")
    print(format_table(report))
    (run_dir / "decoder_probe.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {run_dir / 'decoder_probe.json'}")
    return 0


def add_command(subparsers) -> None:
    """Register ``decoder-probe`` under ``locornn analyze``."""
    from locornn.configs import field_flag
    from locornn.configs.domains import at_least, flag, path_flag

    p = subparsers.add_parser(
        "decoder-probe", help="can the run's decoder draw the held-out frames from the true "
                              "state? (VPT's error per frame)",
        description="Train fresh copies of a forecasting run's decoder (from the true state: "
                    "pendulums cos and sin of the angle) and of its encoder + decoder (from the "
                    "frame) on single training frames; report VPT's per-frame error on held-out "
                    "frames and the share within the VPT threshold; write decoder_probe.json "
                    "into RUN_DIR.")
    p.add_argument("run_dir", type=path_flag(),
                   help="a Hamiltonian forecasting run (config.json; no checkpoint needed)")
    p.add_argument("--steps", type=flag(at_least(1)), default=2000,
                   help="Adam steps per fit (default 2000)")
    p.add_argument("--batch", type=flag(at_least(1)), default=64,
                   help="frames per step (default 64)")
    p.add_argument("--learning-rate", type=field_flag("train.learning_rate"), default=1e-3,
                   help="Adam's learning rate (default 1e-3)")
    p.add_argument("--trajectories", type=flag(at_least(1)), default=64,
                   help="held-out trajectories scored, every frame (default 64)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_command)
