r"""Does a forecaster know the true state? A linear probe: ``locornn analyze state-probe RUN``.

A forecasting run scores VPT 0 on the pendulum when its forecast is wrong from the first step;
that alone does not say where the angle was lost. This probe asks each stage of the model,
on held-out trajectories, whether the system's true state can be read off it linearly:

* ``encoder``: the encoder's output ``f(x_t)`` of the true frames ``t`` of the training window
  (:func:`locornn.models.forecasting.encode_frames`): does the encoder see the angle?
* ``state, window``: the model's recorded state ``z_t`` (the oscillators' positions, the LSTM's
  ``h``, the ODE's ``z``) of the forecast that VPT scores (the model reads the first
  ``model.context_frames`` frames, then runs on its own), for ``t`` in the training window,
  ``z_0`` being the inferred initial state: does the state carry the angle where the model was
  trained to reconstruct?
* ``state, beyond``: the same for the frames after the window: does it keep it?

Targets (:func:`probe_targets`): for the pendulums ``(cos q, sin q)`` of every angle (an angle
wraps; its sine and cosine do not), for the other systems the suite's state ``x`` itself
(``(q, p)``, or the games' strategies). The true states come with the data
(:attr:`locornn.data.hamiltonian.HamiltonianData.test_states`, ``(N, T, D)`` per frame).

The fit (:func:`ridge_r2`): the test trajectories are split in two halves, the first to fit,
the second to score (frames of one trajectory are not independent, so trajectories, not
frames, are split). Features are standardised with the fitting half's mean and standard
deviation; ridge regression

.. math:: W = (X^\top X + \lambda n I)^{-1} X^\top (Y - \bar Y), \qquad \lambda = \text{ridge}

(``n`` fitting samples, so ``ridge`` is relative to the data term); the score is the
coefficient of determination on the scoring half, per target and averaged over targets:

.. math:: R^2 = 1 - \frac{\sum (y - \hat y)^2}{\sum (y - \bar y)^2}

(``\bar y`` the scoring half's own mean). ``R^2 = 1``: read off exactly; ``0``: no better than
the mean; negative: worse (an overfit probe of features that carry nothing).
"""

from __future__ import annotations

import json
import pathlib
import sys

import jax
import numpy as np

__all__ = ["ANGLE_SYSTEMS", "add_command", "format_table", "probe_targets", "ridge_r2",
           "state_probe"]

ANGLE_SYSTEMS = {"pendulum": 1, "double_pendulum": 2}  # system -> number of angles in q


def probe_targets(system: str, states: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """What the probe reads: ``states (N, T, D) -> (targets (N, T, k), names)``.

    Pendulums: ``cos`` and ``sin`` of each angle ``q_i = x[..., i]``; other systems ``x``.
    """
    states = np.asarray(states, np.float64)
    angles = ANGLE_SYSTEMS.get(system)
    if angles is None:
        return states, [f"x[{i}]" for i in range(states.shape[-1])]
    q = states[..., :angles]
    suffix = [""] if angles == 1 else [str(i + 1) for i in range(angles)]
    names = [f"cos q{s}" for s in suffix] + [f"sin q{s}" for s in suffix]
    return np.concatenate([np.cos(q), np.sin(q)], axis=-1), names


def _flat(x: np.ndarray) -> np.ndarray:
    """``(N, T, ...) -> (N * T, features)``."""
    x = np.asarray(x, np.float64)
    return x.reshape(x.shape[0] * x.shape[1], -1)


def ridge_r2(fit_features, fit_targets, score_features, score_targets,
             ridge: float = 1e-3) -> dict:
    """Fit the ridge probe on one set, score ``R^2`` on the other (module docstring).

    Args:
      fit_features, score_features: ``(N, T, ...)`` (trajectories, frames, any feature axes).
      fit_targets, score_targets: ``(N, T, k)``.
      ridge: ``lambda``, relative to the number of fitting samples (> 0).

    Returns:
      ``{"r2": mean over targets, "r2_per_target": [k floats]}``; a target constant on the
      scoring half has no ``R^2`` (NaN, left out of the mean).
    """
    if ridge <= 0:
        raise ValueError(f"ridge must be > 0, got {ridge}")
    x, y, x_score, y_score = map(_flat, (fit_features, fit_targets, score_features,
                                         score_targets))
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)  # a constant feature carries nothing: left at 0
    x, x_score = (x - mean) / scale, (x_score - mean) / scale
    y_mean = y.mean(axis=0)
    gram = x.T @ x + ridge * len(x) * np.eye(x.shape[1])
    weights = np.linalg.solve(gram, x.T @ (y - y_mean))
    residual = np.sum((y_score - (x_score @ weights + y_mean)) ** 2, axis=0)
    spread = np.sum((y_score - y_score.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_target = np.where(spread > 0, 1.0 - residual / spread, np.nan)
    defined = per_target[np.isfinite(per_target)]
    return {"r2": float(defined.mean()) if defined.size else float("nan"),
            "r2_per_target": [float(r) for r in per_target]}


def _in_batches(function, params, images, batch: int) -> np.ndarray:
    """``function(params, images[i:i + batch])`` over every batch, jitted, concatenated."""
    jitted = jax.jit(function)
    return np.concatenate([np.asarray(jitted(params, np.asarray(images[i:i + batch])))
                           for i in range(0, len(images), batch)])


def _forecast_states(model, params, images, context: int, batch: int) -> np.ndarray:
    """The recorded state ``z`` of the forecast VPT scores: ``(N, T, *state_shape)``."""
    steps = images.shape[1] - context
    return _in_batches(lambda p, x: model.apply({"params": p}, x, num_steps=steps)["z"],
                       params, images[:, :context], batch)


def _encodings(model, params, images, batch: int) -> np.ndarray:
    from locornn.models.forecasting import encode_frames

    return _in_batches(lambda p, x: encode_frames(model, p, x), params, images, batch)


def state_probe(run_dir, *, ridge: float = 1e-3, max_trajectories: int = 64,
                write: bool = True) -> dict:
    """Probe a trained forecasting run (newest intact checkpoint) for the true state.

    Uses the first ``max_trajectories`` (even) test trajectories: half to fit, half to score.
    Writes ``state_probe.json`` into ``run_dir`` (unless ``write`` is False).

    Returns:
      ``{"run", "experiment", "system", "model", "step", "targets", "ridge",
      "fit_trajectories", "score_trajectories", "window", "test_frames", "probes": [{"features",
      "frames": [first, last + 1], "dims", "r2", "r2_per_target"}]}``.

    Raises:
      FileNotFoundError: not a run directory, or no checkpoint.
      ValueError: not a forecasting (Hamiltonian) run, too few test trajectories, or
        ``ridge <= 0``.
    """
    from locornn.checkpoints import load_run, read_config

    run_dir = pathlib.Path(run_dir)
    if ridge <= 0:
        raise ValueError(f"--ridge must be > 0, got {ridge}")
    if read_config(run_dir).data.name != "hamiltonian":
        raise ValueError(f"{run_dir} is not a Hamiltonian forecasting run; state-probe needs "
                         f"one (its data have true states)")
    config, task, train_state = load_run(run_dir)
    data, params = task.dataset, train_state.params
    count = min(len(data.test_images), max_trajectories) // 2 * 2
    if count < 4:
        raise ValueError(f"{run_dir}: the probe needs at least 4 test trajectories (2 to fit, 2 "
                         f"to score), the run has {len(data.test_images)}")
    images = np.asarray(data.test_images[:count])
    targets, names = probe_targets(config.data.system, data.test_states[:count])
    window, test_frames = config.data.sequence_length, images.shape[1]
    batch = config.train.batch_size
    states = _forecast_states(task.model, params, images, config.model.context_frames, batch)
    feature_sets = [("encoder", _encodings(task.model, params, images[:, :window], batch),
                     (0, window)),
                    ("state, window", states[:, :window], (0, window))]
    if test_frames > window:
        feature_sets.append(("state, beyond", states[:, window:], (window, test_frames)))
    half = count // 2
    probes = []
    for label, features, (first, last) in feature_sets:
        truth = targets[:, first:last]
        probes.append({"features": label, "frames": [first, last],
                       "dims": int(np.prod(features.shape[2:])),
                       **ridge_r2(features[:half], truth[:half], features[half:], truth[half:],
                                  ridge)})
    report = {"run": str(run_dir), "experiment": config.experiment,
              "system": config.data.system, "model": config.model.kind,
              "step": int(train_state.step), "targets": names, "ridge": ridge,
              "fit_trajectories": half, "score_trajectories": count - half, "window": window,
              "test_frames": test_frames, "probes": probes}
    if write:
        (run_dir / "state_probe.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def format_table(report: dict) -> str:
    """One line per probe: features, frames, dimensions, R^2 (mean and per target)."""
    names = report["targets"]
    lines = [f"  {'features':<15} {'frames':>11} {'dims':>5} {'R^2':>7}  "
             + "  ".join(f"{n:>8}" for n in names)]
    for probe in report["probes"]:
        first, last = probe["frames"]
        lines.append(f"  {probe['features']:<15} {f'{first}-{last - 1}':>11} {probe['dims']:>5} "
                     f"{probe['r2']:>7.3f}  "
                     + "  ".join(f"{r:>8.3f}" for r in probe["r2_per_target"]))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Command line: ``locornn analyze state-probe``
# ----------------------------------------------------------------------------------------------


def _command(args) -> int:
    try:
        report = state_probe(args.run_dir, ridge=args.ridge,
                             max_trajectories=args.trajectories)
    except (FileNotFoundError, ValueError) as error:  # (config, data, checkpoint errors too)
        print(f"locornn: {error}", file=sys.stderr)
        return 2
    print(f"linear probe for the true state ({report['system']}, {report['model']}, step "
          f"{report['step']}; ridge {report['ridge']:g}; fit on {report['fit_trajectories']} "
          f"held-out trajectories, R^2 on {report['score_trajectories']} others; training "
          f"window frames 0-{report['window'] - 1}):")
    print(format_table(report))
    print(f"wrote {pathlib.Path(args.run_dir) / 'state_probe.json'}")
    return 0


def add_command(subparsers) -> None:
    """Register ``state-probe`` under ``locornn analyze``."""
    from locornn.configs.domains import above, at_least, flag, path_flag

    p = subparsers.add_parser(
        "state-probe", help="R^2 of a linear probe for the true state (pendulum: cos q, sin q)",
        description="Fit a ridge regression from a forecasting run's encoder output and state "
                    "to the true state of its held-out trajectories (pendulums: cos and sin "
                    "of the angle) on half of them and report R^2 on the other half; write "
                    "state_probe.json into RUN_DIR.")
    p.add_argument("run_dir", type=path_flag(),
                   help="a Hamiltonian forecasting run (config.json, checkpoints)")
    p.add_argument("--ridge", type=flag(above(0), float), default=1e-3,
                   help="ridge penalty relative to the number of samples (default 1e-3)")
    p.add_argument("--trajectories", type=flag(at_least(1)), default=64,
                   help="held-out trajectories to use, half to fit and half to score "
                        "(default 64)")
    p.set_defaults(func=_command)
