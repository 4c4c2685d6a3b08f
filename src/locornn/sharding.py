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

Not covered (README): seeds trained together (``--vmap-seeds``) stay on one device, and
multi-host runs (``jax.distributed``) are not wired in: every process would need its own part of
the batch (``jax.make_array_from_process_local_data``).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from locornn import configs

DATA_AXIS = "data"


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
