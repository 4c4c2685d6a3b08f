"""Data sets: each family has its own module; :func:`load` builds the one a config names.

A :class:`SequenceData` holds a fixed train split and a fixed held-out test split of image
sequences ``(num, T, H, W, C)`` in [0, 1]. Training batches are a pure function of
``(seed, step)`` (:func:`train_batch`), so a resumed run sees exactly the batches an uninterrupted
run would have seen.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import ml_collections
import numpy as np

from locornn.configs import FILE_SETS, ON_DEMAND_SETS
from locornn.data import fingerprint, mnist, video, waves


class SequenceData(NamedTuple):
    # (num_train, T, H, W, C) float32 in [0, 1]; with data.on_demand a waves.OnDemand
    train: np.ndarray | waves.OnDemand
    test: np.ndarray | waves.OnDemand  # (num_test, T', ...): held out (T' may exceed T)
    source: str  # where the frames came from, recorded with the run
    record: dict | None = None  # what was loaded, with its fingerprint (fingerprint.record)


def load(data_config: ml_collections.ConfigDict) -> SequenceData:
    """Generate (or read) the data set named by ``data_config.name``."""
    if data_config.name in FILE_SETS:
        return _load_files(data_config)
    key = jax.random.PRNGKey(data_config.seed)
    train_key, test_key = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
    length, size = data_config.sequence_length, data_config.image_size
    test_length = data_config.test_sequence_length or length
    # (configs.validate refuses data.on_demand for the other sets)
    on_demand = data_config.get("on_demand", False) and data_config.name in ON_DEMAND_SETS
    if data_config.name == "waves":
        kwargs = dict(size=size,
                      wavelength=(data_config.wavelength_min, data_config.wavelength_max),
                      speed=(data_config.speed_min, data_config.speed_max),
                      period=((data_config.period_min, data_config.period_max)
                              if data_config.get("period_max", 0.0) else None))
        make = waves.plane_waves_on_demand if on_demand else waves.plane_waves
        train = make(train_key, data_config.num_train, length, **kwargs)
        test = make(test_key, data_config.num_test, test_length, **kwargs)
        source = "plane waves generated from data.seed" + (
            f", periods {kwargs['period'][0]:g}-{kwargs['period'][1]:g} frames"
            if kwargs["period"] else "")
    elif data_config.name == "retinal":
        kwargs = dict(size=size, speed=(data_config.speed_min, data_config.speed_max),
                      events=data_config.retinal_events, width=data_config.retinal_width,
                      extent=data_config.retinal_extent, lifetime=data_config.retinal_lifetime)
        make = waves.retinal_waves_on_demand if on_demand else waves.retinal_waves
        train = make(train_key, data_config.num_train, length, **kwargs)
        test = make(test_key, data_config.num_test, test_length, **kwargs)
        source = (f"retinal-wave fronts generated from data.seed ({kwargs['events']} a "
                  f"sequence)")
    elif data_config.name == "rotating_mnist":
        digits = mnist.load_mnist(data_config.mnist_dir or None, data_config.mnist_source)
        train, test, source = mnist.load_rotating_mnist(
            data_config.num_train, data_config.num_test, length, size, data_config.seed,
            test_sequence_length=test_length, step_deg=data_config.rotation_step,
            start_deg=data_config.rotation_start, digits=digits,
            centre=data_config.rotation_centre)
        record = fingerprint.digits_record(digits, data_config, source)
    elif data_config.name == "noise":
        make = waves.noise_on_demand if on_demand else waves.noise
        train = make(train_key, data_config.num_train, length, size)
        test = make(test_key, data_config.num_test, test_length, size)
        source = ("i.i.d. uniform noise generated from data.seed"
                  + (", sequence i from fold_in(key, i)" if on_demand else ""))
    else:
        raise ValueError(f"unknown data set {data_config.name!r}")
    if on_demand:
        source += ", rendered on demand"
    if data_config.name != "rotating_mnist":
        record = fingerprint.generated_record(data_config.name, source, data_config)
    if on_demand:
        return SequenceData(train, test, source, record)
    return SequenceData(np.asarray(train), np.asarray(test), source, record)


def _load_files(data_config: ml_collections.ConfigDict) -> SequenceData:
    """Your recordings (``video``) or a tensorflow-datasets set (``tfds``), read on demand."""
    if data_config.name == "video":
        splits = video.load(data_config)
        kind, where = "video", data_config.path
    else:
        from locornn.data import tfds_sequences

        splits = tfds_sequences.load(data_config)
        kind, where = "tfds-sequences", tfds_sequences.data_dir(data_config)
    record = fingerprint.files_record(kind, splits.description, data_config,
                                      [s.digest for s in splits.stats], where)
    return SequenceData(splits.train, splits.test, splits.description, record)


def train_batch(train: np.ndarray, step: int, batch_size: int, seed: int,
                rows: slice = slice(None)) -> np.ndarray:
    """The training batch of ``step``: epoch-wise shuffling seeded by ``(seed, epoch)``.

    Each epoch is a fresh permutation of the train split (a remainder smaller than a batch is
    dropped); the batch depends only on ``(seed, step)``, never on what ran before. ``rows``
    picks part of the batch (a host's shards in a multi-host job), reading only those
    sequences: ``train_batch(..., rows=r) == train_batch(...)[r]``.
    """
    num = train.shape[0]
    if num < batch_size:
        raise ValueError(f"train split has {num} sequences, fewer than batch_size={batch_size}")
    per_epoch = num // batch_size
    epoch, index = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(num)
    return train[order[index * batch_size:(index + 1) * batch_size][rows]]


def test_batches(test: np.ndarray, batch_size: int, max_batches: int = 0,
                 partial: bool = False):
    """Consecutive batches of the test split. The last partial batch is dropped (a mean over
    batches weighs each batch alike) unless ``partial`` (per-item results, e.g. VPT)."""
    count = -(-test.shape[0] // batch_size) if partial else test.shape[0] // batch_size
    if max_batches:
        count = min(count, max_batches)
    for i in range(count):
        yield test[i * batch_size:(i + 1) * batch_size]
