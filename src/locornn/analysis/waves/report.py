"""Wave report of a run: wave metrics of the hidden state, trained and untrained (Figure 1).

``locornn analyze waves RUN_DIR [--untrained] [--num-sequences N]`` runs the model of a run on
held-out sequences, measures the waves on its hidden position ``z`` with
:func:`locornn.analysis.waves.statistics.wave_metrics` (global and local synchrony, traveling-wave
strength, standing-wave index, dominant frequency, ...) and writes, into ``RUN_DIR``:

* ``waves.json`` (trained parameters, the run's latest checkpoint) or ``waves_untrained.json``
  (``--untrained``: freshly initialised parameters from the run's seed, the control);
* ``synchrony_vs_loss.png``: the loss (train and held-out) and the probe's wave metrics logged
  during training (``"probe"`` records of ``metrics.jsonl``, present when
  ``train.probe_sequences > 0``, including step 0) on one shared step axis, so that "the loss
  drops when synchronous dynamics emerge" can be read off (or seen not to hold);
* ``waves_phase.gif`` (the authors' wave video: z, band-passed z, Hilbert phase as hue),
  ``waves_phase_sites.gif`` (the phase alone, one pixel a site, in the authors' own video
  format: ``locornn analyze phase-video`` measures both the same way) and ``phase_map.png``
  beside them (the phase's wavelength, neighbour phase difference and
  plane-wave fraction, :mod:`locornn.analysis.waves.phase_map`; ``_untrained`` for the control).

Held-out sequences: the first ``num_sequences`` of the test split (the probe logged during
training uses the first ``train.probe_sequences`` of the same split) for the sequence tasks
(waves, noise, rotating_mnist, video, tfds); for other tasks, the task's ``figure_sequence``.
Metrics use :func:`~locornn.analysis.waves.statistics.wave_metrics` with its defaults (one step
is the unit of time, non-circular boundaries), as the probe does, so the numbers are comparable
with the plot; a batch gives the NaN-ignoring mean over sequences. A model without a lattice
(the dense coRNN) has no spatial metrics: every value is NaN.
"""

from __future__ import annotations

import functools
import json
import math
import pathlib
import sys

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from locornn import plots  # noqa: E402
from locornn.analysis.waves import phase_map  # noqa: E402
from locornn.analysis.waves import statistics as analysis_waves  # noqa: E402
from locornn.analysis.waves.phase import reference_phase  # noqa: E402
from locornn.configs import SEQUENCE_SETS  # noqa: E402

__all__ = [
    "METRIC_KEYS",
    "PLOTTED_METRICS",
    "add_command",
    "held_out_sequences",
    "hidden_states",
    "output_paths",
    "synchrony_vs_loss",
    "wave_report",
]

# Every key of wave_metrics, in its order (the keys of "metrics" in waves.json).
METRIC_KEYS = analysis_waves._METRIC_KEYS
# The probe metrics drawn against the loss (all in [0, 1]).
PLOTTED_METRICS = {
    "global_synchrony": "global synchrony",
    "local_synchrony": "local synchrony",
    "traveling_wave_strength": "traveling-wave strength",
    # stripes (near 1) or a checkerboard / confetti (0): analysis.waves.phase_map, reference band
    "phase_plane_wave_fraction": "plane-wave fraction",
    "standing_wave_index": "standing-wave index",
}


def output_paths(run_dir, untrained: bool = False) -> dict[str, pathlib.Path]:
    """Where :func:`wave_report` writes: ``json``, ``plot``, ``video`` (the phase GIF),
    ``phase_map`` (its still) and ``phase_sites`` (the phase, one pixel a site)."""
    run_dir = pathlib.Path(run_dir)
    suffix = "_untrained" if untrained else ""
    return {"json": run_dir / f"waves{suffix}.json", "plot": run_dir / "synchrony_vs_loss.png",
            "video": run_dir / f"waves_phase{suffix}.gif",
            "phase_map": run_dir / f"phase_map{suffix}.png",
            "phase_sites": run_dir / f"waves_phase_sites{suffix}.gif"}


def flat_metrics(report: dict) -> dict[str, float]:
    """A report's wave metrics and its phase map in one flat dict (the phase map's keys
    prefixed ``phase_``, as in the training probes)."""
    return {**report["metrics"], **{f"phase_{key}": value
                                    for key, value in report.get("phase_map", {}).items()
                                    if key != "frames"}}


def phase_map_report(z: np.ndarray, out=None, title: str = "",
                     circular: bool = True) -> dict[str, float]:
    """:func:`~locornn.analysis.waves.phase_map.band_passed_phase_map` of a batch
    ``(B, T, H, W, C)``; with ``out``, the still of the first sequence
    (:func:`locornn.plots.phase_map_figure`). ``circular``: the lattice wraps (circular padding)."""
    metrics, phases = phase_map.band_passed_phase_map(z, circular)
    if out is not None:
        first = phases[0, ..., 0]  # (frames, H, W): channel 0, as the video
        fit, _ = phase_map.local_plane_waves(first[-1:], circular=circular)
        plots.phase_map_figure(first[-1], fit[0], phase_map.phase_spectrum(first)[0], metrics,
                               out, title)
    return metrics


# ----------------------------------------------------------------------------------------------
# Hidden states
# ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _z_function(model):
    """A jitted ``(params, frames) -> z`` per model (equal models share it, and its compiled
    code: reports of the same run, trained and untrained, compile once)."""
    return jax.jit(lambda params, frames: model.apply({"params": params}, frames)["z"])


def hidden_states(task, params, sequences, batch_size: int = 16) -> np.ndarray:
    """Hidden position ``z`` of ``task.model`` on ``sequences``.

    Args:
      task: a :class:`locornn.tasks.Task` (its ``model`` is applied).
      params: the model's parameters (``state.params``).
      sequences: ``(B, T, h, w, c)`` frames.
      batch_size: sequences per model call (bounds memory).

    Returns:
      numpy ``z`` of shape ``(B, T, H, W, C)`` for a LocoRNN (``(B, T, N)`` for a dense state),
      ``z[:, t]`` the position after reading frame ``t``.
    """
    sequences = np.asarray(sequences)
    if sequences.ndim != 5:
        raise ValueError(f"expected sequences (B, T, h, w, c), got shape {sequences.shape}")
    apply = _z_function(task.model)
    size = min(batch_size, len(sequences))
    parts = []
    for i in range(0, len(sequences), size):
        batch = sequences[i:i + size]
        count = len(batch)
        if count < size:  # pad the last batch: one compiled shape for all calls
            batch = np.concatenate([batch, np.repeat(batch[-1:], size - count, axis=0)])
        parts.append(np.asarray(apply(params, jnp.asarray(batch)))[:count])
    return np.concatenate(parts, axis=0)


def held_out_sequences(config, task, num_sequences: int) -> np.ndarray:
    """The first ``num_sequences`` held-out sequences of a run (see the module docstring)."""
    if num_sequences < 1:
        raise ValueError(f"num_sequences must be >= 1, got {num_sequences}")
    if config.data.name in SEQUENCE_SETS:
        return _test_split(config.data.to_json(), num_sequences)
    return np.asarray(task.figure_sequence)


@functools.lru_cache(maxsize=4)
def _test_split(data_config_json: str, num_sequences: int) -> np.ndarray:
    """The first held-out sequences of a data config (a pure function of it: cached per
    config; a split read on demand renders only these)."""
    import ml_collections

    from locornn import data

    test = np.asarray(data.load(ml_collections.ConfigDict(json.loads(data_config_json)))
                      .test[:num_sequences])
    test.flags.writeable = False
    return test


# ----------------------------------------------------------------------------------------------
# The loss against the probe's wave metrics
# ----------------------------------------------------------------------------------------------


def derivative_lag(metric_steps, metric, loss_steps, loss, max_lag: int | None = None) -> dict:
    r"""How far a wave metric's changes lead (or trail) the loss's, in training steps.

    Both series are put on the metric's steps (the loss interpolated in ``log``), differenced,
    standardised, and cross-correlated: ``c(k) = mean_t m'(t) l'(t + k)`` for lags ``|k| <=
    max_lag`` evaluation intervals (default: a third of the points). The lag is the ``k`` of the
    largest ``|c(k)|``, converted to steps; **positive: the metric changes first** (the loss
    follows ``lag`` steps later), negative: the loss changes first. ``correlation`` is
    ``c(lag)`` with its sign (negative when the loss drops as the metric rises).

    Returns:
      ``{"lag_steps", "correlation", "lags_steps": [...], "correlations": [...]}``; NaN lag with
      fewer than 4 common points or a constant series.
    """
    m_steps, m = np.asarray(metric_steps, float), np.asarray(metric, float)
    keep = np.isfinite(m)
    m_steps, m = m_steps[keep], m[keep]
    l_steps, l_values = np.asarray(loss_steps, float), np.asarray(loss, float)
    inside = (m_steps >= l_steps.min()) & (m_steps <= l_steps.max()) if l_steps.size else keep[:0]
    m_steps, m = m_steps[inside], m[inside]
    nan = {"lag_steps": float("nan"), "correlation": float("nan"), "lags_steps": [],
           "correlations": []}
    if m.size < 4:
        return nan
    log_loss = np.interp(m_steps, l_steps, np.log(np.maximum(l_values, 1e-30)))
    dm, dl = np.diff(m), np.diff(log_loss)
    if dm.std() == 0 or dl.std() == 0:
        return nan
    dm, dl = (dm - dm.mean()) / dm.std(), (dl - dl.mean()) / dl.std()
    n = dm.size
    max_lag = max(1, n // 3) if max_lag is None else max_lag
    lags = np.arange(-max_lag, max_lag + 1)
    corr = np.array([np.mean(dm[max(0, -k):n - max(0, k)] * dl[max(0, k):n - max(0, -k)])
                     for k in lags])
    best = int(np.argmax(np.abs(corr)))
    interval = float(np.median(np.diff(m_steps)))
    return {"lag_steps": float(lags[best] * interval), "correlation": float(corr[best]),
            "lags_steps": [float(k * interval) for k in lags],
            "correlations": [float(c) for c in corr]}


def synchrony_vs_loss(records: list[dict], out, title: str = "") -> dict[str, tuple]:
    """Loss (top) and the probe's wave metrics (bottom) against training step, shared x axis.

    Args:
      records: the records of ``metrics.jsonl`` (:func:`locornn.plots.read_metrics`).
      out: PNG path.

    Returns:
      the curves drawn, ``{label: (steps, values)}``: ``"train loss"``, ``"held-out loss"`` and
      the labels of :data:`PLOTTED_METRICS` (non-finite values drawn as gaps). The legend
      gives each metric's :func:`probe_loss_lags`.
    """
    series = {}
    fig, (ax_loss, ax_waves) = plt.subplots(2, 1, figsize=(7, 6), sharex=True,
                                            gridspec_kw={"height_ratios": [1, 1]})
    for split, style, label in (("train", "-", "train loss"), ("test", "o-", "held-out loss")):
        rows = [r for r in records if r.get("split") == split and _finite(r.get("loss"))]
        if rows:
            series[label] = ([r["step"] for r in rows], [r["loss"] for r in rows])
            ax_loss.plot(*series[label], style, label=label, markersize=3)
    if ax_loss.lines:
        ax_loss.set_yscale("log")
        ax_loss.legend(fontsize=8)
    ax_loss.set_ylabel("forward-prediction loss")
    ax_loss.grid(alpha=0.3)

    probes = sorted((r for r in records if r.get("split") == "probe"), key=lambda r: r["step"])
    for key, label in PLOTTED_METRICS.items():
        rows = [r for r in probes if key in r]
        if rows:
            series[label] = ([r["step"] for r in rows],
                             [r[key] if _finite(r[key]) else float("nan") for r in rows])
            ax_waves.plot(*series[label], "o-", label=label, markersize=3)
    lags = probe_loss_lags(series)
    for line in ax_waves.lines:
        lag = lags.get(line.get_label(), {}).get("lag_steps", float("nan"))
        if math.isfinite(lag):
            line.set_label(f"{line.get_label()} (leads the loss by {lag:+.0f} steps, "
                           f"r={lags[line.get_label()]['correlation']:+.2f})")
    if ax_waves.lines:
        ax_waves.legend(fontsize=7)
        ax_waves.set_ylim(-0.02, 1.02)
    else:
        ax_waves.text(0.5, 0.5, "no probe records in metrics.jsonl\n"
                      "(train with train.probe_sequences > 0)", ha="center", va="center",
                      transform=ax_waves.transAxes)
    ax_waves.set_ylabel("wave metrics of z\n(held-out probe)")
    ax_waves.set_xlabel("training step")
    ax_waves.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    plots.save(fig, out)
    return series


def probe_loss_lags(series: dict[str, tuple], loss: str = "held-out loss") -> dict[str, dict]:
    """:func:`derivative_lag` of each probed wave metric against ``loss`` (``"held-out loss"``,
    else the train loss; or ``"train loss"``: the logged step's batch loss, which can be
    smoother over training than a held-out loss on long sequences), from the curves
    :func:`synchrony_vs_loss` returns."""
    loss_label = loss if loss in series else "train loss"
    if loss_label not in series:
        return {}
    return {label: derivative_lag(*series[label], *series[loss_label])
            for label in PLOTTED_METRICS.values() if label in series}


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


# ----------------------------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------------------------


def _load(run_dir: pathlib.Path, untrained: bool):
    """``(config, task, params, step)``: the run's latest checkpoint, or its initial params."""
    from locornn import tasks
    from locornn.checkpoints import load_run, read_config
    from locornn.optim import create_train_state

    if not (run_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json); pass a "
                                f"directory written by `locornn train`, e.g. runs/waves/cpu/0")
    if not untrained:
        config, task, state = load_run(run_dir)
        return config, task, state.params, int(state.step)
    config = read_config(run_dir)
    task = tasks.build_task(config)
    return config, task, create_train_state(config, task).params, 0


def wave_report(run_dir, *, untrained: bool = False, num_sequences: int = 8) -> dict:
    """Wave metrics of a run's hidden state on held-out sequences; writes JSON and a plot.

    Args:
      run_dir: a run directory (``config.json`` and, unless ``untrained``, a checkpoint).
      untrained: use freshly initialised parameters from the run's seed
        (:func:`locornn.optim.create_train_state`) instead of the latest checkpoint.
      num_sequences: held-out sequences to average over (sequence tasks; see the module
        docstring).

    Returns:
      ``{"run_dir", "experiment", "preset", "seed", "state": "trained"|"untrained", "step",
      "num_sequences", "sequence_length", "lattice": bool, "metrics": {key: float},
      "metrics_reference_band": {key: float}, "phase_map": {key: float} (:func:`phase_map_report`;
      empty without a lattice), "probe_loss_lag": {metric: {"lag_steps",
      "correlation"}}, "probe_train_loss_lag": (the same against the train loss), "files":
      {"json", "plot", "video"}}``;
      ``metrics`` holds every key of :func:`~locornn.analysis.waves.statistics.wave_metrics` (NaN
      where undefined), ``metrics_reference_band`` the same on the reference's causal band-passed
      signal (``band="reference"``), and ``video`` is the reference's wave video of the first
      sequence (:func:`locornn.plots.phase_gif`: raw z, band-passed z, Hilbert phase as hue),
      ``phase_map`` the still beside it (phase, its spectrum, the plane-wave fit).
      The same dict, less ``files``, is written to ``waves.json`` (``waves_untrained.json``)
      in ``run_dir``, with NaN written as ``NaN``.

    Raises:
      FileNotFoundError: ``run_dir`` is not a run directory, or (trained) has no checkpoint.
    """

    run_dir = pathlib.Path(run_dir).absolute()
    config, task, params, step = _load(run_dir, untrained)
    sequences = held_out_sequences(config, task, num_sequences)
    z = hidden_states(task, params, sequences)
    lattice = z.ndim == 5
    paths = output_paths(run_dir, untrained)
    if lattice:
        metrics = analysis_waves.wave_metrics(z)
        banded = analysis_waves.wave_metrics(z, band="reference")
        filtered, phase = reference_phase(z[0])
        plots.phase_gif(z[0], filtered, phase, paths["video"])
        plots.phase_sites_gif(phase[..., 0], paths["phase_sites"])  # the authors' format
        which = "untrained" if untrained else f"trained, step {step}"
        phase_metrics = phase_map_report(
            z, paths["phase_map"], f"{config.experiment} ({config.preset}, seed {config.seed}, "
                                   f"{which}): reference band",
            circular=config.model.padding == "circular")
    else:  # a dense state has no lattice: nothing spatial to measure
        metrics = banded = dict.fromkeys(METRIC_KEYS, float("nan"))
        phase_metrics = {}
        paths.pop("video")
        paths.pop("phase_map")
        paths.pop("phase_sites")
    metrics = {key: float(metrics[key]) for key in METRIC_KEYS}
    banded = {key: float(banded[key]) for key in METRIC_KEYS}
    report = {"run_dir": str(run_dir), "experiment": config.experiment, "preset": config.preset,
              "seed": int(config.seed), "state": "untrained" if untrained else "trained",
              "step": step, "num_sequences": int(len(sequences)),
              "sequence_length": int(sequences.shape[1]), "lattice": bool(lattice),
              "metrics": metrics, "metrics_reference_band": banded, "phase_map": phase_metrics}
    curves = synchrony_vs_loss(plots.read_metrics(run_dir / "metrics.jsonl"), paths["plot"],
                               title=f"{config.experiment} ({config.preset}, seed {config.seed})")
    for key, loss in (("probe_loss_lag", "held-out loss"), ("probe_train_loss_lag", "train loss")):
        report[key] = {label: {"lag_steps": lag["lag_steps"], "correlation": lag["correlation"]}
                       for label, lag in probe_loss_lags(curves, loss).items()}
    paths["json"].write_text(json.dumps(report, indent=2) + "\n")
    return {**report, "files": {k: str(p) for k, p in paths.items()}}


# ----------------------------------------------------------------------------------------------
# Command line: ``locornn analyze waves RUN_DIR``
# ----------------------------------------------------------------------------------------------


def format_table(report: dict) -> str:
    """The metrics of a report as aligned ``name  value  value-on-the-reference-band`` lines."""
    width = max(len(k) for k in report["metrics"])
    banded = report.get("metrics_reference_band", {})
    lines = [f"  {'':<{width}}  {'adaptive':>9s}  {'ref. band':>9s}"]
    lines += [f"  {key:<{width}}  {value:9.4g}  {banded.get(key, float('nan')):9.4g}"
              for key, value in report["metrics"].items()]
    return "\n".join(lines)


def _command(args) -> int:
    try:
        report = wave_report(args.run_dir, untrained=args.untrained,
                             num_sequences=args.num_sequences)
    except (FileNotFoundError, ValueError) as error:
        print(f"locornn: {error}", file=sys.stderr)
        return 2
    which = "untrained" if args.untrained else f"trained, step {report['step']}"
    print(f"wave metrics of z ({report['experiment']}/{report['preset']} seed {report['seed']}, "
          f"{which}; mean over {report['num_sequences']} held-out sequence(s) of "
          f"{report['sequence_length']} frames):")
    print(format_table(report))
    if report["phase_map"]:
        pm = report["phase_map"]
        print(f"phase map (reference band, last {pm['frames']} frames): mean wavelength "
              f"{pm['mean_wavelength']:.2f} sites (peak {pm['peak_wavelength']:.2f}), neighbour "
              f"phase difference {pm['neighbour_phase_difference']:.2f} rad, plane-wave fraction "
              f"{pm['plane_wave_fraction']:.2f}")
    if not report["lattice"]:
        print("  (the model has no lattice: no spatial wave metrics)")
    for path in report["files"].values():
        print(f"wrote {path}")
    return 0


def add_command(subparsers) -> None:
    """Register ``waves`` under ``locornn analyze``."""
    from locornn.configs.domains import at_least, flag, path_flag

    p = subparsers.add_parser(
        "waves", help="wave metrics of the hidden state of a run (synchrony, traveling waves)",
        description="Run a trained model (or, with --untrained, its initial parameters) on "
                    "held-out sequences and measure the waves of its hidden state; write "
                    "waves.json (waves_untrained.json) and synchrony_vs_loss.png into RUN_DIR.")
    p.add_argument("run_dir", type=path_flag(),
                   help="a run directory (with config.json and checkpoints)")
    p.add_argument("--untrained", action="store_true",
                   help="freshly initialised parameters from the run's seed (the control)")
    p.add_argument("--num-sequences", type=flag(at_least(1)), default=8,
                   help="held-out sequences to average over (default 8)")
    p.set_defaults(func=_command)
