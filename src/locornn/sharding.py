"""Data-parallel training over every visible device with ``jax.sharding``.

One :class:`jax.sharding.Mesh` with a single ``"data"`` axis spans ``jax.devices()``. Each
training batch is split along its first axis over that axis (``NamedSharding(mesh,
P("data"))``); the train state -- parameters, optimiser state, step -- is replicated
(``P()``). The train step is ``jax.jit`` with those in/out shardings, so XLA inserts the
all-reduce of the gradients itself: the same program on 1 device or 8, the same numbers up to
the order of a sum. On one device nothing changes.

Replicated parameters fit the models here (under 1M parameters). Fully sharded parameters
(FSDP) would shard the state along ``"data"`` too (``P("data")`` on the largest axis of each
leaf, with ``jax.lax.with_sharding_constraint`` inside the step); only this module and the
restore target would change.

Seeds trained together (:mod:`locornn.seeds`, ``jax.vmap`` over a leading seeds axis) use a 2-D
mesh ``(data, seeds)`` (:func:`seeds_mesh`): each seed's state lives on its column of devices,
each batch is split over the rows. Not covered (README): multi-host runs (``jax.distributed``):
every process would need its own part of the batch (``jax.make_array_from_process_local_data``).
"""

from __future__ import annotations

import math

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from locornn import configs

DATA_AXIS = "data"
SEEDS_AXIS = "seeds"


def data_mesh(devices=None) -> Mesh:
    """A 1-D mesh named ``"data"`` over ``devices`` (default: all of ``jax.devices()``)."""
    return Mesh(np.asarray(devices if devices is not None else jax.devices()), (DATA_AXIS,))


def check_batch(batch_size: int, mesh: Mesh) -> None:
    """A batch must split evenly over the data axis: say so, with the numbers, if not."""
    devices = mesh.shape[DATA_AXIS]
    if batch_size % devices:
        raise configs.ConfigError(
            f"'train.batch_size' ({batch_size}) must be divisible by the {devices} devices of "
            f"the data axis (use a multiple of {devices}, or fewer devices, e.g. "
            f"CUDA_VISIBLE_DEVICES or XLA_FLAGS=--xla_force_host_platform_device_count)")


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_split(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P(DATA_AXIS))


def place_state(state, mesh: Mesh):
    """The train state replicated on every device of ``mesh``."""
    return jax.device_put(state, replicated(mesh))


def place_batch(batch, mesh: Mesh) -> jax.Array:
    """``(B, ...)`` split along ``B`` over the data axis."""
    return jax.device_put(batch, batch_split(mesh))


def sharded_step(step_fn, mesh: Mesh):
    """``jax.jit(step_fn)`` for ``(state, batch) -> (state, metrics)`` on ``mesh``: state and
    metrics replicated, the batch split over ``"data"``."""
    return jax.jit(step_fn, in_shardings=(replicated(mesh), batch_split(mesh)),
                   out_shardings=(replicated(mesh), replicated(mesh)))


def seeds_mesh(num_seeds: int, devices=None) -> Mesh:
    """A ``(data, seeds)`` mesh for ``num_seeds`` vmapped runs over ``devices`` (default: all).

    The seeds axis takes ``gcd(num_seeds, devices)`` devices (so the stacked seeds split evenly
    over it), the data axis the rest: 8 devices and 2 seeds give 4 x 2, 3 seeds give 8 x 1.
    """
    devices = np.asarray(devices if devices is not None else jax.devices())
    seeds = math.gcd(num_seeds, devices.size)
    return Mesh(devices.reshape(devices.size // seeds, seeds), (DATA_AXIS, SEEDS_AXIS))


def stacked_step(step_fn, mesh: Mesh):
    """``jax.jit(jax.vmap(step_fn))`` on a :func:`seeds_mesh`: the stacked states (and metrics)
    split over ``"seeds"``, the stacked batches ``(S, B, ...)`` over ``"seeds"`` and
    ``"data"``."""
    per_seed = NamedSharding(mesh, P(SEEDS_AXIS))
    batches = NamedSharding(mesh, P(SEEDS_AXIS, DATA_AXIS))
    return jax.jit(jax.vmap(step_fn), in_shardings=(per_seed, batches),
                   out_shardings=(per_seed, per_seed)), per_seed, batches
