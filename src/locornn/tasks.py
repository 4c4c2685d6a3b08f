"""What a run trains on and how it is scored: one :class:`Task` per kind of experiment.

The training loop (:mod:`locornn.train`) is the same for every experiment; a task supplies

* ``model``: the Flax module, and ``sample`` (a batch to initialise it with);
* ``train_batch(step)``: the training batch of a step, a pure function of ``(seed, step)`` so that
  resumed runs see the same data;
* ``loss(params, batch, step)``: the training objective (``step``, the optimiser step, for
  curricula; most losses ignore it);
* ``evaluate(params)``: held-out metrics (on the test split only), logged every
  ``train.eval_every`` steps; ``final(params, workdir)``: extra held-out metrics and figures at
  the end of a run (VPT for forecasting);
* ``probe(params)`` (optional): metrics of the hidden state on a fixed held-out batch (the wave
  metrics of :mod:`locornn.analysis.waves.statistics`), logged next to the loss at every evaluation
  so that "the loss drops when synchronous dynamics emerge" can be read off ``metrics.jsonl``.

Two kinds exist:

* next-frame prediction on whole sequences (waves, noise; :func:`sequence_task`), scored by the
  forward-prediction loss of :mod:`locornn.metrics`;
* forecasting (the Hamiltonian suite; :func:`forecast_task`): the model reads the first
  ``model.context_frames`` frames of a window and rolls out open-loop; it is trained on windows
  of ``data.sequence_length`` frames and evaluated by VPT on long held-out trajectories.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from locornn import configs, data, metrics, models, plots, sharding
from locornn.analysis.lattice import free_decay
from locornn.analysis.waves import phase_map
from locornn.analysis.waves import statistics as analysis_waves


@dataclasses.dataclass
class Task:
    model: object
    sample: np.ndarray
    source: str
    train_batch: Callable[..., np.ndarray]  # (step, rows=slice(None)) -> that part of the batch
    loss: Callable
    evaluate: Callable[[object], dict]
    final: Callable[[object, pathlib.Path], dict]
    figure_sequence: np.ndarray  # one held-out sequence for figure1.png / hidden.gif
    probe: Callable[[object], dict] | None = None  # metrics of the hidden state, logged as "probe"
    prediction_shift: int = 1  # prediction[t] shows frame t + shift (1: next frame, 0: aligned)
    data: dict | None = None  # what the task loaded (locornn.data.fingerprint.record)
    dataset: object | None = None  # the loaded data (forecasting: HamiltonianData, true states)


def _check_finite(split: str, sequences: np.ndarray) -> None:
    bad = ~np.isfinite(sequences).reshape(len(sequences), -1).all(axis=1)
    if bad.any():
        raise ValueError(f"{split} data contains NaN/Inf in sequence(s) "
                         f"{np.flatnonzero(bad)[:5].tolist()}; refusing to train on it")


def _require_one_batch(dataset, batch_size: int) -> None:
    """Training and evaluation each need one whole batch (sets read from files are counted
    only once read; configs.validate checks the generated ones)."""
    from locornn.data.errors import DataError

    for split, sequences, more in (
            ("training", dataset.train, "add recordings"),
            ("held-out", dataset.test, "raise data.test_fraction or give data.test_path")):
        if len(sequences) < batch_size:
            raise DataError(f"{dataset.source}: {len(sequences)} {split} sequence(s), fewer "
                            f"than one batch (train.batch_size = {batch_size}); lower "
                            f"train.batch_size or data.sequence_length, or {more}")


def _on_devices(batch, mesh):
    """A held-out batch split over the evaluation devices when it splits evenly (a mean over
    the batch must not see padding rows), else on one device."""
    if len(batch) % mesh.shape[sharding.DATA_AXIS]:
        return jnp.asarray(batch)
    return sharding.split_evenly(batch, mesh)[0]


def _mean_over_batches(step_fn, params, batches) -> dict[str, float]:
    mesh = sharding.local_mesh()
    results = [step_fn(params, _on_devices(batch, mesh)) for batch in batches]
    if not results:
        raise ValueError("no held-out batch to evaluate (data.num_test < train.batch_size?)")
    return {key: float(np.mean([r[key] for r in results])) for key in results[0]}


def _objectives(model, loss_fn, mse_fn, kl_loss=None, seed: int = 0, free_frames: int = 0):
    """The training loss ``(params, batch, step) -> scalar`` and a jitted held-out step.

    ``kl_loss(outputs) -> scalar`` adds a model's KL term (a stochastic encoder); such a model
    draws its samples in training from the ``"sample"`` stream ``fold_in(PRNGKey(seed), step)``
    (a pure function of seed and step, like the batches) and uses its means in evaluation.
    ``free_frames`` (``train.free_frames``): the last frames of each sequence are forecast with
    the drive withheld, in training and in the held-out evaluation alike.
    """
    def total(outputs, batch):
        value = loss_fn(outputs["prediction"], batch)
        return value + kl_loss(outputs) if kl_loss is not None else value

    def loss(params, batch, step=0):
        rngs = {"sample": jax.random.fold_in(jax.random.PRNGKey(seed), step)}
        return total(model.apply({"params": params}, batch, free_frames, rngs=rngs), batch)

    @jax.jit
    def eval_step(params, batch):
        outputs = model.apply({"params": params}, batch, free_frames)
        return {"loss": total(outputs, batch), "mse": mse_fn(outputs["prediction"], batch)}

    return loss, eval_step


def _sequence_objectives(config, model):
    """Loss and held-out step of the sequence tasks, as ``train.loss``, ``train.time_reduction``,
    ``data.wrap_target`` and (Gaussian encoder) ``train.kl_weight`` say."""
    tc, wrap = config.train, config.data.wrap_target
    loss_fn = functools.partial(metrics.forward_prediction_loss, likelihood=tc.loss, wrap=wrap,
                                time_reduction=tc.time_reduction, bce_eps=tc.bce_eps)
    mse_fn = functools.partial(metrics.next_frame_mse, wrap=wrap)
    kl_loss = None
    if config.model.encoder == "gaussian":
        def kl_loss(outputs):
            return tc.kl_weight * metrics.reduce_frames(outputs["kl"], tc.time_reduction)
    loss, eval_step = _objectives(model, loss_fn, mse_fn, kl_loss, config.seed,
                                  tc.free_frames)
    if not config.model.remat_block:
        return loss, eval_step

    def scanned(params, batch, step=0):
        """The same loss, decoded and scored inside the scan in rematerialised blocks."""
        rngs = {"sample": jax.random.fold_in(jax.random.PRNGKey(config.seed), step)}
        value, kl = model.apply({"params": params}, batch, rngs=rngs,
                                method=type(model).scanned_loss, likelihood=tc.loss, wrap=wrap,
                                time_reduction=tc.time_reduction,
                                block=config.model.remat_block, bce_eps=tc.bce_eps)
        return value + kl_loss({"kl": kl}) if kl_loss is not None else value

    return scanned, eval_step


def sequence_task(config: ml_collections.ConfigDict) -> Task:
    """Next-frame prediction on the waves / noise / rotating MNIST / your own sequences."""
    dataset = data.load(config.data)
    _require_one_batch(dataset, config.train.batch_size)
    for split, sequences in (("train", dataset.train), ("test", dataset.test)):
        if isinstance(sequences, np.ndarray):  # (sets rendered on demand are finite by design)
            _check_finite(split, sequences)
    model = models.build_model(config.model, dataset.train.shape[2:])
    tc = config.train

    loss, eval_step = _sequence_objectives(config, model)

    def evaluate(params):
        batches = data.test_batches(dataset.test, tc.batch_size, tc.eval_batches)
        return _mean_over_batches(eval_step, params, batches)

    def final(params, workdir):
        batches = data.test_batches(dataset.test, tc.batch_size)  # the whole test split
        return _mean_over_batches(eval_step, params, batches)

    probe_batch = jnp.asarray(dataset.test[:config.train.probe_sequences])
    hidden = jax.jit(lambda params: model.apply({"params": params}, probe_batch)["z"])

    def probe(params):
        """Wave metrics of the hidden state on a fixed held-out probe batch."""
        z = np.asarray(hidden(params))
        if not model.local:  # a flat coRNN state has no lattice: fold it like plots do
            return {}
        # the phase map on the reference band tells stripes from a checkerboard, which the
        # wave metrics alone cannot (both travel)
        banded, _ = phase_map.band_passed_phase_map(z, config.model.padding == "circular")
        return {**analysis_waves.wave_metrics(z),
                **{f"phase_{key}": value for key, value in banded.items() if key != "frames"}}

    return Task(model=model, sample=dataset.train[:1], source=dataset.source,
                train_batch=lambda step, rows=slice(None): data.train_batch(
                    dataset.train, step, tc.batch_size, config.seed, rows),
                loss=loss, evaluate=evaluate, final=final, figure_sequence=dataset.test[:1],
                probe=probe if config.train.probe_sequences else None, data=dataset.record)


def curriculum_fraction(step, curriculum_steps: int):
    """How far a curriculum has come at optimiser step ``step`` (0-based, may be traced):
    ``min(1, (step + 1) / curriculum_steps)``; 1 without a curriculum."""
    if not curriculum_steps:
        return 1.0
    return jnp.minimum(1.0, (step + 1) / curriculum_steps)


def forecast_objectives(config, model):
    """Training loss ``(params, batch, step)`` and jitted held-out step of a forecaster.

    * open loop: every frame of the window is scored (weights :func:`metrics.frame_weights`
      with ``train.late_weight``); with ``train.curriculum_steps`` only the first
      ``K + ceil(fraction * (T - K))`` frames are, growing to the whole window;
    * autoregressive (the reference): frames ``1 .. T - 1`` are scored (frame 0 is not
      predicted); the last ``k`` frames are forecast in closed loop, ``k`` growing from 0 to
      ``train.closed_loop_frames`` over the curriculum (0: pure teacher forcing; -1: every
      frame after the context, as at test time).

    The held-out step evaluates the objective at the end of its curriculum.
    """
    tc, window, context = config.train, config.data.sequence_length, config.model.context_frames
    autoregressive = config.model.rollout == "autoregressive"
    first = 1 if autoregressive else 0

    def objective(params, batch, fraction):
        scored, kwargs = None, {}
        if autoregressive and tc.closed_loop_frames:
            most = window - context if tc.closed_loop_frames == -1 else tc.closed_loop_frames
            closed = jnp.round(fraction * most).astype(jnp.int32)
            kwargs["feedback_from"] = jnp.maximum(context, window - closed)
        elif not autoregressive and tc.curriculum_steps:
            scored = context + jnp.ceil(fraction * (window - context))
        weights = metrics.frame_weights(window, late_weight=tc.late_weight, first=first,
                                        scored=scored)
        prediction = model.apply({"params": params}, batch, **kwargs)["prediction"]
        if tc.blur_sigma:
            return (metrics.forecast_loss_blurred(prediction, batch, weights,
                                                  sigma=tc.blur_sigma), prediction)
        return metrics.forecast_loss(prediction, batch, weights), prediction

    def loss(params, batch, step=0):
        return objective(params, batch, curriculum_fraction(step, tc.curriculum_steps))[0]

    @jax.jit
    def eval_step(params, batch):
        value, prediction = objective(params, batch, 1.0)
        return {"loss": value, "mse": metrics.forecast_mse(prediction[:, first:],
                                                           batch[:, first:])}

    return loss, eval_step


def vpt_start(config: ml_collections.ConfigDict) -> int:
    """The frame VPT counts from: ``evaluation.vpt_start``, or (0) the end of the training
    window, frame ``data.sequence_length``."""
    return config.evaluation.vpt_start or config.data.sequence_length


def vpt_cap(config: ml_collections.ConfigDict) -> int:
    """The largest VPT a forecasting config can measure: the steps from :func:`vpt_start` to
    the end of the test trajectories, ``data.test_sequence_length - vpt_start`` (a forecast
    valid to the last frame scores this, however much longer it would have stayed valid)."""
    return (config.data.test_sequence_length or config.data.sequence_length) - vpt_start(config)


def _free_decay(params, model_config, initial, horizon: int) -> dict:
    """The oscillator core's free decay from the inferred initial states
    (:mod:`locornn.analysis.lattice.free_decay`); ``{}`` for cores that are not oscillators."""
    from locornn.models.forecasting import is_oscillator, oscillator_parameters

    if not is_oscillator(model_config):
        return {}
    oscillator, coupling = oscillator_parameters(params, model_config)
    return free_decay.free_decay(oscillator, initial, coupling, horizon)


def forecast_task(config: ml_collections.ConfigDict, *, progress: bool = True) -> Task:
    """Forecasting a Hamiltonian-suite system: windows for training, VPT on long trajectories.

    * training batches: ``train.batch_size`` random windows of ``data.sequence_length`` frames
      from the train trajectories (:func:`~locornn.data.hamiltonian.sample_windows`, key
      ``fold_in(PRNGKey(seed), step)``);
    * held-out loss (every ``train.eval_every`` steps): the first window of each test trajectory;
    * final: VPT (:func:`locornn.metrics.vpt_batch`) of every long test trajectory
      (``data.test_sequence_length`` frames); the model reads the first ``model.context_frames``
      frames and rolls out open-loop; steps are counted from :func:`vpt_start` (the end of the
      training window unless ``evaluation.vpt_start``), at most :func:`vpt_cap`. The run's VPT
      is the median over trajectories; ``vpt_at_cap`` counts the trajectories valid to their
      last frame. Oscillator cores also report, under ``core``, their learned constants
      (:func:`~locornn.models.forecasting.learned_constants`) and the free decay of the lattice
      from the inferred initial states over the test trajectory's ``test_sequence_length - 1``
      steps (:func:`locornn.analysis.lattice.free_decay.free_decay`).
    """
    from locornn.data import fingerprint, hamiltonian
    from locornn.models.forecasting import build_forecast_model, learned_constants

    dc, tc = config.data, config.train
    window, context = dc.sequence_length, config.model.context_frames
    test_frames = dc.test_sequence_length or window
    start = vpt_start(config)  # checked by configs.validate
    dataset = hamiltonian.load_dataset(
        dc.system, num_train=dc.num_train, num_test=dc.num_test,
        train_steps=dc.trajectory_length - 1, test_steps=test_frames - 1, seed=dc.seed,
        cache_dir=dc.cache_dir, suite_dir=dc.suite_dir or None, progress=progress)
    test_images = np.asarray(dataset.test_images)  # uint8: floats only batch by batch
    model = build_forecast_model(config.model, test_images.shape[2:])
    key = jax.random.PRNGKey(config.seed)

    def train_batch(step, rows=slice(None)):
        return hamiltonian.sample_windows(np.asarray(dataset.train_images),
                                          jax.random.fold_in(key, step), tc.batch_size, window,
                                          rows)

    loss, eval_step = forecast_objectives(config, model)

    def test_chunks(frames: int, max_batches: int = 0, partial: bool = False):
        for batch in data.test_batches(test_images, tc.batch_size, max_batches, partial):
            yield hamiltonian.to_float(batch[:, :frames])

    def evaluate(params):
        return _mean_over_batches(eval_step, params, test_chunks(window, tc.eval_batches))

    @jax.jit
    def forecast(params, conditioning):
        out = model.apply({"params": params}, conditioning, num_steps=test_frames - context)
        return out["prediction"], out["initial_state"]

    def final(params, workdir):
        """VPT of every test trajectory, chunk by chunk (the test set can be large)."""
        threshold = config.evaluation.vpt_threshold
        vpts, errors, initial, first = [], [], [], None
        mesh = sharding.local_mesh()  # the trajectories split over this process's devices
        for frames in test_chunks(test_frames, partial=True):  # every trajectory counts
            conditioning, rows = sharding.split_evenly(frames[:, :context], mesh)
            prediction, state = forecast(params, conditioning)
            prediction = np.asarray(prediction)[:rows]
            initial.append([np.asarray(part)[:rows] for part in state])
            vpts.append(np.asarray(metrics.vpt_batch(prediction[:, start:], frames[:, start:],
                                                     threshold)))
            errors.append(np.asarray(metrics.normalised_error(prediction[:, start:],
                                                              frames[:, start:])))
            if first is None:
                first = (frames[0], np.asarray(prediction[0]))
        vpts, errors = np.concatenate(vpts), np.concatenate(errors)
        cap = vpt_cap(config)
        result = {**evaluate(params), "vpt": float(np.median(vpts)),
                  "vpt_mean": float(vpts.mean()), "vpt_trajectories": len(vpts),
                  "vpt_at_cap": int(np.sum(vpts >= cap)),
                  "extrapolation_steps": cap, "vpt_start": start}
        initial = [np.concatenate(parts) for parts in zip(*initial, strict=True)]
        core = {**learned_constants(params, config.model),
                **_free_decay(params, config.model, initial, test_frames - 1)}
        if core:
            result["core"] = core
        if workdir is not None:
            workdir = pathlib.Path(workdir)
            (workdir / "vpt.json").write_text(json.dumps(
                {"threshold": threshold, "median": result["vpt"],
                 "per_trajectory": vpts.tolist(),
                 "median_error_per_step": np.median(errors, axis=0).tolist()}) + "\n")
            title = f"{dc.system}: {config.model.kind}, median VPT {result['vpt']:g}"
            plots.vpt_error_curve(errors, threshold, workdir / "vpt_error.png", result["vpt"],
                                  title)
            plots.forecast_frames(*first, workdir / "forecast.png", start=context,
                                  title=f"{title} (frame {start} = step 0)")
        return result

    figure_sequence = hamiltonian.to_float(test_images[:1, :window])
    source = f"{dc.system} ({dataset.source}; dt {dataset.dt})"
    return Task(model=model, sample=figure_sequence, source=source, train_batch=train_batch,
                loss=loss, evaluate=evaluate, final=final, figure_sequence=figure_sequence,
                prediction_shift=0, data=fingerprint.hamiltonian_record(dataset, dc, source),
                dataset=dataset)


def build_task(config: ml_collections.ConfigDict, *, progress: bool = True) -> Task:
    """The task a config's ``data.name`` calls for (``progress``: data generation's bars)."""
    if config.data.name in configs.SEQUENCE_SETS:
        return sequence_task(config)
    if config.data.name == "hamiltonian":
        return forecast_task(config, progress=progress)
    raise ValueError(f"no task for data set {config.data.name!r}")
