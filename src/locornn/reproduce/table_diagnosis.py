"""Why a Table 1 row scores 0: trivial forecasts, the frames, and the models' error over time.

``locornn reproduce table1-diagnosis --config hamiltonian:cpu --systems ... --models ...`` trains
(or reuses, as ``reproduce table1``) each system x model run of one seed, then writes
``RESULTS_DIR/diagnosis.md``, ``diagnosis.csv``, ``diagnosis_curves.npz`` and
``diagnosis.png``. Per system, on the held-out test trajectories of the config's protocol:

* trivial forecasts scored like a model (the normalised error of
  :func:`locornn.metrics.normalised_error` from the frame VPT counts from, and their VPT): the
  last frame the models read (frame ``K - 1``, ``K = model.context_frames``) repeated; the frame
  just before VPT's first frame repeated (a persistence forecast knowing every frame up to
  there); the mean frame of the training set; a black frame;
* the frames themselves: pixel range, distinct colours per frame, the energy ``mean(x^2)`` that
  normalises the error, the pixels that differ from the trajectory's own median frame (the
  moving part), and how much changes from one frame to the next;
* per model run: the error of the frames it reads (reconstruction, ``j < K``), of its first
  forecast frame ``K``, of the last training-window frame and of VPT's first frame, its VPT, and
  the median error curve from frame 0 to the end of the test trajectories.
"""

from __future__ import annotations

import csv
import pathlib

import jax
import numpy as np

from locornn import metrics, tasks, train
from locornn.reproduce import table

TRIVIAL = {
    "last_read_frame": "last frame read (K - 1) repeated",
    "frame_before_vpt": "frame before VPT's first frame repeated",
    "mean_train_frame": "mean training frame",
    "black": "black frame",
}
MOVING_PIXEL = 0.1  # a pixel moves when a channel differs from its trajectory median by this


def trivial_forecasts(test: np.ndarray, mean_frame: np.ndarray, context: int,
                      start: int) -> dict[str, np.ndarray]:
    """Each trivial forecast of frames ``start ..`` of every test trajectory.

    Args:
      test: ``(N, T, H, W, C)`` float test trajectories in [0, 1].
      mean_frame: ``(H, W, C)``, the mean training frame.
      context: ``K``, the frames a model reads.
      start: the first frame VPT counts (``>= context``).

    Returns:
      ``{name: (N, T - start, H, W, C)}`` for the names of :data:`TRIVIAL`.
    """
    if not 1 <= context <= start < test.shape[1]:
        raise ValueError(f"need 1 <= context ({context}) <= start ({start}) < frames "
                         f"({test.shape[1]})")
    shape = (test.shape[0], test.shape[1] - start, *test.shape[2:])
    return {
        "last_read_frame": np.broadcast_to(test[:, context - 1, None], shape),
        "frame_before_vpt": np.broadcast_to(test[:, start - 1, None], shape),
        "mean_train_frame": np.broadcast_to(mean_frame, shape),
        "black": np.zeros(shape, test.dtype),
    }


def trivial_errors(test: np.ndarray, mean_frame: np.ndarray, context: int, start: int,
                   chunk: int = 4) -> dict[str, np.ndarray]:
    """The normalised error of each :func:`trivial_forecasts` forecast: ``(N, T - start)`` per
    name; ``test`` may be uint8 (converted ``chunk`` trajectories at a time, to bound memory)."""
    from locornn.data.hamiltonian import to_float

    parts: dict[str, list] = {name: [] for name in TRIVIAL}
    for first in range(0, len(test), chunk):
        frames = to_float(np.asarray(test[first:first + chunk]))
        target = frames[:, start:]
        for name, forecast in trivial_forecasts(frames, mean_frame, context, start).items():
            parts[name].append(np.asarray(metrics.normalised_error(forecast, target)))
    return {name: np.concatenate(errors) for name, errors in parts.items()}


def error_summary(errors: np.ndarray, threshold: float) -> dict[str, float]:
    """``(N, S)`` normalised errors from VPT's first frame -> the median error of its first
    frame, the median over the horizon, and VPT (the median over trajectories, as a run's)."""
    failed = ~(errors <= threshold)
    vpts = np.where(failed.any(axis=1), failed.argmax(axis=1), errors.shape[1])
    return {"first_error": float(np.median(errors[:, 0])),
            "median_error": float(np.median(errors)), "vpt": float(np.median(vpts))}


def frame_statistics(frames: np.ndarray) -> dict[str, float]:
    """What a system's frames look like: ``(N, T, H, W, C)`` floats in [0, 1] -> medians over
    frames of the pixel range, distinct colours, energy ``mean(x^2)``, moving pixels (a channel
    differs from the trajectory's per-pixel median by more than :data:`MOVING_PIXEL`), the
    pixels that change by more than that between consecutive frames, and the normalised error
    of a frame against the one before it (one step of a persistence forecast)."""
    n, t = frames.shape[:2]
    flat = frames.reshape(n, t, -1, frames.shape[-1])
    colours = [len(np.unique(np.round(frame * 255).astype(np.uint8), axis=0))
               for frame in flat[:, :: max(1, t // 8)].reshape(-1, *flat.shape[2:])]
    background = np.median(frames, axis=1, keepdims=True)
    moving = (np.abs(frames - background) > MOVING_PIXEL).any(axis=-1).sum(axis=(-2, -1))
    changed = (np.abs(np.diff(frames, axis=1)) > MOVING_PIXEL).any(axis=-1).sum(axis=(-2, -1))
    lag_one = np.asarray(metrics.normalised_error(frames[:, :-1], frames[:, 1:]))
    return {"pixel_min": float(frames.min()), "pixel_max": float(frames.max()),
            "colours_per_frame": float(np.median(colours)),
            "energy": float(np.median(np.mean(frames**2, axis=(-3, -2, -1)))),
            "moving_pixels": float(np.median(moving)),
            "changed_pixels_per_step": float(np.median(changed)),
            "lag_one_error": float(np.median(lag_one))}


def model_errors(workdir: pathlib.Path) -> tuple[dict, np.ndarray]:
    """A trained run's forecast of every test trajectory from frame 0 -> its numbers and the
    ``(N, T)`` normalised error of every frame (``j < K``: the frames it read)."""
    from locornn.checkpoints import load_run
    from locornn.data.hamiltonian import to_float

    config, task, state = load_run(workdir)
    context, window = config.model.context_frames, config.data.sequence_length
    start, threshold = tasks.vpt_start(config), config.evaluation.vpt_threshold
    test = np.asarray(task.dataset.test_images)
    steps = test.shape[1] - context
    forecast = jax.jit(lambda params, frames: task.model.apply(
        {"params": params}, frames, num_steps=steps)["prediction"])
    errors = []
    for chunk in range(0, len(test), config.train.batch_size):
        frames = to_float(test[chunk:chunk + config.train.batch_size])
        prediction = forecast(state.params, frames[:, :context])
        errors.append(np.asarray(metrics.normalised_error(prediction, frames)))
    errors = np.concatenate(errors)
    median = np.median(errors, axis=0)
    return {"reconstruction_error": float(np.median(errors[:, :context])),
            "first_forecast_error": float(median[context]),
            "window_end_error": float(median[window - 1]),
            **error_summary(errors[:, start:], threshold),
            "context": context, "window": window, "vpt_start": start}, errors


def diagnose(preset: str, *, systems, models, seed: int = 0, root="runs", results="results",
             experiment=table.EXPERIMENT, overrides=(), progress=True,
             train_missing=True) -> pathlib.Path:
    """Train (or reuse) each system x model run of ``seed``, then write the diagnosis files
    into ``results``; returns the Markdown file. Without ``train_missing`` a run that is not
    finished is left out and named in the Markdown (nothing is trained)."""
    from locornn.data import hamiltonian

    results = pathlib.Path(results)
    rows, curves, frames_by_system, missing = [], {}, {}, []
    for system in systems:
        config = table.cell_config(preset, system, models[0] if models else "lstm", seed,
                                   experiment, overrides)
        dc = config.data
        data = hamiltonian.load_dataset(
            system, num_train=dc.num_train, num_test=dc.num_test,
            train_steps=dc.trajectory_length - 1,
            test_steps=(dc.test_sequence_length or dc.sequence_length) - 1, seed=dc.seed,
            cache_dir=dc.cache_dir, suite_dir=dc.suite_dir or None, progress=progress)
        test = np.asarray(data.test_images)  # uint8: floats a few trajectories at a time
        mean_frame = (np.mean(np.asarray(data.train_images), axis=(0, 1), dtype=np.float64)
                      / 255.0).astype(np.float32)
        # every core is scored from the same frame at the cpu preset; the first model's
        # protocol fixes it here (the LSTM's window ends there too)
        start, context = tasks.vpt_start(config), config.model.context_frames
        threshold = config.evaluation.vpt_threshold
        frames_by_system[system] = frame_statistics(hamiltonian.to_float(test[:8]))
        for name, errors in trivial_errors(test, mean_frame, context, start).items():
            curves[f"{system}/{name}"] = np.median(errors, axis=0)
            rows.append({"system": system, "predictor": name, "threshold": threshold,
                         "vpt_start": start, **error_summary(errors, threshold)})
        for model in models:
            cell = table.cell_config(preset, system, model, seed, experiment, overrides)
            if not train_missing and not table.finished(cell, train.default_workdir(cell, root)):
                missing.append(f"{system} x {model}")
                continue
            run = table.run_cell(preset, system, model, (seed,), root=root,
                                 experiment=experiment, overrides=overrides, progress=progress)
            workdir = train.default_workdir(cell, root)
            numbers, errors = model_errors(workdir)
            curves[f"{system}/{model}"] = np.median(errors, axis=0)[numbers["vpt_start"]:]
            curves[f"{system}/{model}/from_frame_0"] = np.median(errors, axis=0)
            rows.append({"system": system, "predictor": model, "threshold": threshold,
                         **numbers, "run_vpt": run[0]["test"]["vpt"],
                         "steps": run[0]["steps"]})
    results.mkdir(parents=True, exist_ok=True)
    _write_csv(results / "diagnosis.csv", rows)
    np.savez_compressed(results / "diagnosis_curves.npz", **curves)
    _figure(curves, systems, models, rows, results / "diagnosis.png")
    md = results / "diagnosis.md"
    md.write_text(_markdown(preset, seed, systems, models, rows, frames_by_system, missing))
    return md


def _write_csv(path: pathlib.Path, rows: list[dict]) -> None:
    keys = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys, restval="")
        writer.writeheader()
        writer.writerows(rows)


def _figure(curves, systems, models, rows, out, early: int = 128) -> None:
    """Per system: the models' error of frames ``0 .. early`` (what they read, then their
    forecast up to and past VPT's first frame; top) and every forecast's error over the
    whole horizon from VPT's first frame (bottom), against the threshold."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(systems), figsize=(4.2 * len(systems), 7), squeeze=False)
    by = {(r["system"], r["predictor"]): r for r in rows}
    threshold = rows[0]["threshold"]
    colours = dict(zip((*TRIVIAL, *models), plt.rcParams["axes.prop_cycle"].by_key()["color"],
                       strict=False))
    for top, bottom, system in zip(axes[0], axes[1], systems, strict=True):
        for model in models:
            if (system, model) not in by:
                continue
            curve = curves[f"{system}/{model}/from_frame_0"][:early + 1]
            top.plot(np.arange(len(curve)), curve, color=colours[model],
                     label=table.MODEL_NAMES.get(model, model))
            r = by[system, model]
            top.axvline(r["context"] - 0.5, color=colours[model], linestyle="--", linewidth=0.8)
            top.axvline(r["vpt_start"], color="grey", linestyle="-.", linewidth=0.8)
        for name in (*TRIVIAL, *models):
            if f"{system}/{name}" not in curves:
                continue
            curve = curves[f"{system}/{name}"]
            bottom.plot(np.arange(len(curve)), curve, color=colours[name],
                        label=TRIVIAL.get(name) or table.MODEL_NAMES.get(name, name),
                        linestyle="--" if name in TRIVIAL else "-", linewidth=1.2)
        for ax in (top, bottom):
            ax.axhline(threshold, color="k", linestyle=":", label=f"VPT threshold {threshold}")
            ax.set_yscale("log")
            ax.grid(alpha=0.3)
        top.set_title(f"{table.SYSTEM_NAMES.get(system, system)}, frames 0-{early}")
        top.set_xlabel("frame")
        bottom.set_xlabel("steps from VPT's first frame")
    axes[0][0].set_ylabel("median normalised error")
    axes[1][0].set_ylabel("median normalised error")
    handles = {}
    for ax in axes.ravel():
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))  # room for the legend below
    fig.savefig(out, dpi=120)
    plt.close(fig)


def _markdown(preset, seed, systems, models, rows, frames_by_system, missing) -> str:
    by = {(r["system"], r["predictor"]): r for r in rows}
    threshold = rows[0]["threshold"]
    lines = [f"# Table 1 rows: trivial forecasts, frames and models (preset `{preset}`, "
             f"seed {seed})", "",
             f"Normalised error `mean((gt - pred)^2) / mean(gt^2)` per frame, median over the "
             f"held-out test trajectories; VPT counts the steps before it first exceeds "
             f"{threshold} (median over trajectories).", "",
             "## Trivial forecasts", "",
             "| system | forecast | error of VPT's first frame | median error over the horizon "
             "| VPT |", "|---|---|---:|---:|---:|"]
    for system in systems:
        for name, label in TRIVIAL.items():
            r = by[system, name]
            lines.append(f"| {table.SYSTEM_NAMES.get(system, system)} | {label} | "
                         f"{r['first_error']:.4f} | {r['median_error']:.4f} | {r['vpt']:g} |")
    lines += ["", "## Frames", "",
              "| system | pixel range | colours per frame | energy mean(x^2) | moving pixels | "
              "pixels changed per step | one-step persistence error |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for system in systems:
        f = frames_by_system[system]
        lines.append(f"| {table.SYSTEM_NAMES.get(system, system)} | {f['pixel_min']:.3f}-"
                     f"{f['pixel_max']:.3f} | {f['colours_per_frame']:g} | {f['energy']:.4f} | "
                     f"{f['moving_pixels']:g} | {f['changed_pixels_per_step']:g} | "
                     f"{f['lag_one_error']:.4f} |")
    if models:
        lines += ["", "## Models", "",
                  "| system | model | steps | reconstruction of the frames read | first forecast "
                  "frame | last training-window frame | VPT's first frame | VPT |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for system in systems:
            for model in models:
                if (system, model) not in by:
                    continue
                r = by[system, model]
                lines.append(
                    f"| {table.SYSTEM_NAMES.get(system, system)} | "
                    f"{table.MODEL_NAMES.get(model, model)} | {r['steps']} | "
                    f"{r['reconstruction_error']:.4f} (frames 0-{r['context'] - 1}) | "
                    f"{r['first_forecast_error']:.4f} (frame {r['context']}) | "
                    f"{r['window_end_error']:.4f} (frame {r['window'] - 1}) | "
                    f"{r['first_error']:.4f} (frame {r['vpt_start']}) | {r['vpt']:g} |")
    if missing:
        lines += ["", f"Not trained (left out): {', '.join(missing)}."]
    lines += ["", "Files: `diagnosis.csv` (every number above), `diagnosis_curves.npz` (median "
              "error per step of each forecast, `system/forecast`; a model's also from frame 0 "
              "as `system/model/from_frame_0`), `diagnosis.png` (the curves against the "
              "threshold; top: the models' frames 0-128, a dashed line after the last frame "
              "read, dash-dot at VPT's first frame)."]
    return "\n".join(lines) + "\n"
