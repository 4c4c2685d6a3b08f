"""Wave report of a run: wave metrics of the hidden state, trained and untrained (Figure 1).

``locornn analyze waves RUN_DIR [--untrained] [--num-sequences N]`` runs the model of a run on
held-out sequences, measures the waves on its hidden position ``z`` with
:func:`locornn.analysis.waves.wave_metrics` (global and local synchrony, traveling-wave
strength, standing-wave index, dominant frequency, ...) and writes, into ``RUN_DIR``:

* ``waves.json`` (trained parameters, the run's latest checkpoint) or ``waves_untrained.json``
  (``--untrained``: freshly initialised parameters from the run's seed, the control);
* ``synchrony_vs_loss.png``: the loss (train and held-out) and the probe's wave metrics logged
  during training (``"probe"`` records of ``metrics.jsonl``, present when
  ``train.probe_sequences > 0``, including step 0) on one shared step axis, so that "the loss
  drops when synchronous dynamics emerge" can be read off (or seen not to hold).

Held-out sequences: the first ``num_sequences`` of the test split (the probe logged during
training uses the first ``train.probe_sequences`` of the same split) for the sequence tasks
(waves, noise, rotating_mnist); for other tasks, the task's ``figure_sequence``. Metrics use
:func:`~locornn.analysis.waves.wave_metrics` with its defaults (one step is the unit of time,
non-circular boundaries), as the probe does, so the numbers are comparable with the plot; a
batch gives the NaN-ignoring mean over sequences. A model without a lattice (the dense coRNN)
has no spatial metrics: every value is NaN.
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
from locornn.analysis import waves as analysis_waves  # noqa: E402

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
    "standing_wave_index": "standing-wave index",
}
SEQUENCE_TASKS = ("waves", "noise", "rotating_mnist")


def output_paths(run_dir, untrained: bool = False) -> dict[str, pathlib.Path]:
    """Where :func:`wave_report` writes: ``json`` and ``plot``."""
    run_dir = pathlib.Path(run_dir)
    name = "waves_untrained.json" if untrained else "waves.json"
    return {"json": run_dir / name, "plot": run_dir / "synchrony_vs_loss.png"}


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
    if config.data.name in SEQUENCE_TASKS:
        return _test_split(config.data.to_json())[:num_sequences]
    return np.asarray(task.figure_sequence)


@functools.lru_cache(maxsize=4)
def _test_split(data_config_json: str) -> np.ndarray:
    """The held-out split of a data config (a pure function of it: cached per config)."""
    import ml_collections

    from locornn import data

    test = np.asarray(data.load(ml_collections.ConfigDict(json.loads(data_config_json))).test)
    test.flags.writeable = False
    return test


# ----------------------------------------------------------------------------------------------
# The loss against the probe's wave metrics
# ----------------------------------------------------------------------------------------------


def synchrony_vs_loss(records: list[dict], out, title: str = "") -> dict[str, tuple]:
    """Loss (top) and the probe's wave metrics (bottom) against training step, shared x axis.

    Args:
      records: the records of ``metrics.jsonl`` (:func:`locornn.plots.read_metrics`).
      out: PNG path.

    Returns:
      the curves drawn, ``{label: (steps, values)}``: ``"train loss"``, ``"held-out loss"`` and
      the labels of :data:`PLOTTED_METRICS` (non-finite values drawn as gaps).
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
    if ax_waves.lines:
        ax_waves.legend(fontsize=8)
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


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


# ----------------------------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------------------------


def _load(run_dir: pathlib.Path, untrained: bool):
    """``(config, task, params, step)``: the run's latest checkpoint, or its initial params."""
    from locornn import configs, tasks, train

    if not (run_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json); pass a "
                                f"directory written by `locornn train`, e.g. runs/waves/cpu/0")
    if not untrained:
        config, task, state = train.load_run(run_dir)
        return config, task, state.params, int(state.step)
    config = configs.from_dict(json.loads((run_dir / "config.json").read_text()))
    task = tasks.build_task(config)
    return config, task, train.create_train_state(config, task).params, 0


def wave_report(run_dir, *, untrained: bool = False, num_sequences: int = 8) -> dict:
    """Wave metrics of a run's hidden state on held-out sequences; writes JSON and a plot.

    Args:
      run_dir: a run directory (``config.json`` and, unless ``untrained``, a checkpoint).
      untrained: use freshly initialised parameters from the run's seed
        (:func:`locornn.train.create_train_state`) instead of the latest checkpoint.
      num_sequences: held-out sequences to average over (sequence tasks; see the module
        docstring).

    Returns:
      ``{"run_dir", "experiment", "preset", "seed", "state": "trained"|"untrained", "step",
      "num_sequences", "sequence_length", "lattice": bool, "metrics": {key: float},
      "files": {"json", "plot"}}``; ``metrics`` holds every key of
      :func:`~locornn.analysis.waves.wave_metrics` (NaN where undefined). The same dict, less
      ``files``, is written to ``waves.json`` (``waves_untrained.json``) in ``run_dir``, with
      NaN written as ``NaN``.

    Raises:
      FileNotFoundError: ``run_dir`` is not a run directory, or (trained) has no checkpoint.
    """

    run_dir = pathlib.Path(run_dir).absolute()
    config, task, params, step = _load(run_dir, untrained)
    sequences = held_out_sequences(config, task, num_sequences)
    z = hidden_states(task, params, sequences)
    lattice = z.ndim == 5
    if lattice:
        metrics = analysis_waves.wave_metrics(z)
    else:  # a dense state has no lattice: nothing spatial to measure
        metrics = dict.fromkeys(METRIC_KEYS, float("nan"))
    metrics = {key: float(metrics[key]) for key in METRIC_KEYS}
    report = {"run_dir": str(run_dir), "experiment": config.experiment, "preset": config.preset,
              "seed": int(config.seed), "state": "untrained" if untrained else "trained",
              "step": step, "num_sequences": int(len(sequences)),
              "sequence_length": int(sequences.shape[1]), "lattice": bool(lattice),
              "metrics": metrics}
    paths = output_paths(run_dir, untrained)
    paths["json"].write_text(json.dumps(report, indent=2) + "\n")
    synchrony_vs_loss(plots.read_metrics(run_dir / "metrics.jsonl"), paths["plot"],
                      title=f"{config.experiment} ({config.preset}, seed {config.seed})")
    return {**report, "files": {k: str(p) for k, p in paths.items()}}


# ----------------------------------------------------------------------------------------------
# Command line: ``locornn analyze waves RUN_DIR``
# ----------------------------------------------------------------------------------------------


def format_table(report: dict) -> str:
    """The metrics of a report as aligned ``name  value`` lines."""
    width = max(len(k) for k in report["metrics"])
    return "\n".join(f"  {key:<{width}}  {value:.4g}" for key, value in report["metrics"].items())


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
    if not report["lattice"]:
        print("  (the model has no lattice: no spatial wave metrics)")
    for path in report["files"].values():
        print(f"wrote {path}")
    return 0


def add_command(subparsers) -> None:
    """Register ``waves`` under ``locornn analyze``."""
    p = subparsers.add_parser(
        "waves", help="wave metrics of the hidden state of a run (synchrony, traveling waves)",
        description="Run a trained model (or, with --untrained, its initial parameters) on "
                    "held-out sequences and measure the waves of its hidden state; write "
                    "waves.json (waves_untrained.json) and synchrony_vs_loss.png into RUN_DIR.")
    p.add_argument("run_dir", help="a run directory (with config.json and checkpoints)")
    p.add_argument("--untrained", action="store_true",
                   help="freshly initialised parameters from the run's seed (the control)")
    p.add_argument("--num-sequences", type=int, default=8,
                   help="held-out sequences to average over (default 8)")
    p.set_defaults(func=_command)
