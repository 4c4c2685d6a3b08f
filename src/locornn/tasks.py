"""What a run trains on and how it is scored: one :class:`Task` per kind of experiment.

The training loop (:mod:`locornn.train`) is the same for every experiment; a task supplies

* ``model``: the Flax module, and ``sample`` (a batch to initialise it with);
* ``train_batch(step)``: the training batch of a step, a pure function of ``(seed, step)`` so that
  resumed runs see the same data;
* ``loss(params, batch)``: the training objective;
* ``evaluate(params)``: held-out metrics (on the test split only), logged every
  ``train.eval_every`` steps; ``final(params, workdir)``: extra held-out metrics and figures at
  the end of a run (VPT for forecasting);
* ``probe(params)`` (optional): metrics of the hidden state on a fixed held-out batch (the wave
  metrics of :mod:`locornn.analysis.waves`), logged next to the loss at every evaluation so
  that "the loss drops when synchronous dynamics emerge" can be read off ``metrics.jsonl``.

Two kinds exist:

* next-frame prediction on whole sequences (waves, noise; :func:`sequence_task`), scored by the
  forward-prediction loss of :mod:`locornn.metrics`;
* forecasting (the Hamiltonian suite; :func:`forecast_task`): the model reads the first
  ``model.context_frames`` frames of a window and rolls out open-loop; it is trained on windows
  of ``data.sequence_length`` frames and evaluated by VPT on long held-out trajectories.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from locornn import data, metrics, models
from locornn.analysis import waves as analysis_waves


@dataclasses.dataclass
class Task:
    model: object
    sample: np.ndarray
    source: str
    train_batch: Callable[[int], np.ndarray]
    loss: Callable
    evaluate: Callable[[object], dict]
    final: Callable[[object, pathlib.Path], dict]
    figure_sequence: np.ndarray  # one held-out sequence for figure1.png / hidden.gif
    probe: Callable[[object], dict] | None = None  # metrics of the hidden state, logged as "probe"


def _check_finite(split: str, sequences: np.ndarray) -> None:
    finite = np.isfinite(sequences) if sequences.dtype.kind == "f" else np.ones(1, bool)
    bad = ~finite.reshape(len(sequences), -1).all(axis=1) if finite.ndim > 1 else finite[:0]
    if bad.any():
        raise ValueError(f"{split} data contains NaN/Inf in sequence(s) "
                         f"{np.flatnonzero(bad)[:5].tolist()}; refusing to train on it")


def _mean_over_batches(step_fn, params, batches) -> dict[str, float]:
    results = [step_fn(params, jnp.asarray(batch)) for batch in batches]
    if not results:
        raise ValueError("no held-out batch to evaluate (data.num_test < train.batch_size?)")
    return {key: float(np.mean([r[key] for r in results])) for key in results[0]}


def sequence_task(config: ml_collections.ConfigDict) -> Task:
    """Next-frame prediction on the waves / noise sequences."""
    dataset = data.load(config.data)
    _check_finite("train", dataset.train)
    _check_finite("test", dataset.test)
    model = models.build_model(config.model, dataset.train.shape[2:])
    tc = config.train

    def loss(params, batch):
        out = model.apply({"params": params}, batch)
        return metrics.forward_prediction_loss(out["prediction"], batch)

    @jax.jit
    def eval_step(params, batch):
        prediction = model.apply({"params": params}, batch)["prediction"]
        return {"loss": metrics.forward_prediction_loss(prediction, batch),
                "mse": metrics.next_frame_mse(prediction, batch)}

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
        return analysis_waves.wave_metrics(z)

    return Task(model=model, sample=dataset.train[:1], source=dataset.source,
                train_batch=lambda step: data.train_batch(dataset.train, step, tc.batch_size,
                                                          config.seed),
                loss=loss, evaluate=evaluate, final=final, figure_sequence=dataset.test[:1],
                probe=probe if config.train.probe_sequences else None)


def build_task(config: ml_collections.ConfigDict) -> Task:
    """The task a config's ``data.name`` calls for."""
    if config.data.name in ("waves", "noise", "rotating_mnist"):
        return sequence_task(config)
    raise ValueError(f"no task for data set {config.data.name!r}")
