"""Data-parallel training over every visible device with ``jax.sharding``.

One :class:`jax.sharding.Mesh` with a single ``"data"`` axis spans ``jax.devices()``. Each
training batch is split along its first axis over that axis (``NamedSharding(mesh,
P("data"))``); the train state -- parameters, optimiser state, step -- is replicated
(``P()``). The train step is ``jax.jit`` with those in/out shardings, so XLA inserts the
all-reduce of the gradients itself: the same program on 1 device or 8, the same numbers up to
the order of a sum. On one device nothing changes.

Replicated parameters fit the models here (at most 16M parameters, 64 MB). Fully sharded parameters
(FSDP) would shard the state along ``"data"`` too (``P("data")`` on the largest axis of each
leaf, with ``jax.lax.with_sharding_constraint`` inside the step); only this module and the
restore target would change.

Seeds trained together (:mod:`locornn.reproduce.seeds`, ``jax.vmap`` over a leading seeds axis)
use a 2-D mesh ``(data, seeds)`` (:func:`seeds_mesh`): each seed's state lives on its column of
devices, each batch is split over the rows.

Held-out evaluation and VPT run on one process (process 0 in a multi-host job) with the test
batches split over that process's devices (:func:`local_mesh`, :func:`split_evenly`): a batch is
padded to a multiple of the devices, and whatever is computed per row is cut back; a mean over
a batch is only ever taken over a batch that splits evenly (else it runs unsplit).

Several processes (hosts): :func:`initialize_distributed` starts JAX's own distributed runtime
(``jax.distributed.initialize``) when ``config.distributed`` is set or a cluster is detected;
the mesh then spans every process's devices. Batches are a pure function of ``(seed, step)``
and of the row, so each process builds only the rows of its own devices' shards
(:func:`build_batch`, ``jax.make_array_from_callback``) and reads only those sequences or
windows; one process (index 0) writes logs, metrics and figures.
"""

from __future__ import annotations

import math
import os

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


def _place(tree, target: NamedSharding):
    if jax.process_count() == 1:
        return jax.device_put(tree, target)

    def one(x):  # every process holds the same value: each fills its own devices' shards
        if not isinstance(x, (jax.Array, np.ndarray, np.generic, float, int)):
            return x
        value = np.asarray(x)
        return jax.make_array_from_callback(value.shape, target, lambda index: value[index])

    return jax.tree.map(one, tree)


def place_state(state, mesh: Mesh):
    """The train state replicated on every device of ``mesh``."""
    return _place(state, replicated(mesh))


def place_batch(batch, mesh: Mesh) -> jax.Array:
    """``(B, ...)`` split along ``B`` over the data axis."""
    return _place(batch, batch_split(mesh))


def build_batch(batch_of_rows, batch_size: int, mesh: Mesh) -> jax.Array:
    """The ``(batch_size, ...)`` batch split over the data axis, each process building only the
    rows of its own devices: ``batch_of_rows(rows: slice)`` returns those rows of the batch
    (``task.train_batch(step, rows)``), so a host reads its part of the data, not all of it.
    One process: the whole batch, built once."""
    target = batch_split(mesh)
    if jax.process_count() == 1:
        return jax.device_put(batch_of_rows(slice(None)), target)
    first = np.asarray(batch_of_rows(slice(0, 1)))  # shape and dtype of one row
    return jax.make_array_from_callback((batch_size, *first.shape[1:]), target,
                                        lambda index: np.asarray(batch_of_rows(index[0])))


def local_mesh() -> Mesh:
    """A data mesh over this process's own devices, for work one process does alone (held-out
    evaluation and VPT, on process 0): test batches are split over every device it has."""
    return data_mesh(jax.local_devices())


def split_evenly(batch, mesh: Mesh) -> tuple[jax.Array, int]:
    """``(B, ...)`` split along ``B`` over the data axis of a :func:`local_mesh`, padded with
    copies of its last row to a multiple of the axis; returns the array and ``B`` (the rows to
    keep of anything computed per row). One device: the batch unchanged."""
    batch = np.asarray(batch)
    rows, devices = batch.shape[0], mesh.shape[DATA_AXIS]
    if devices == 1:
        return jax.device_put(batch, mesh.devices.flat[0]), rows
    padding = -rows % devices
    if padding:
        batch = np.concatenate([batch, np.repeat(batch[-1:], padding, axis=0)])
    return jax.device_put(batch, batch_split(mesh)), rows


def local_copy(tree):
    """A replicated tree as this process's own arrays (for work one process does alone)."""
    if jax.process_count() == 1:
        return tree
    return jax.tree.map(lambda x: np.asarray(x.addressable_data(0))
                        if isinstance(x, jax.Array) else x, tree)


def is_primary() -> bool:
    """Whether this process writes logs, metrics, summaries and figures (process 0)."""
    return jax.process_index() == 0


def cluster_detected() -> bool:
    """A multi-process job's standard environment: SLURM with several tasks, a TPU pod slice,
    or locornn's own ``LOCORNN_COORDINATOR`` (``host:port``, with ``LOCORNN_NUM_PROCESSES`` and
    ``LOCORNN_PROCESS_ID``)."""
    env = os.environ
    return (int(env.get("SLURM_NTASKS", "1") or 1) > 1
            or "," in env.get("TPU_WORKER_HOSTNAMES", "")
            or "LOCORNN_COORDINATOR" in env)


def initialize_distributed(enabled: bool = False) -> bool:
    """Start ``jax.distributed`` if ``enabled`` or :func:`cluster_detected`; True if started.

    Must run before anything touches a device. With ``LOCORNN_COORDINATOR`` the coordinator,
    process count and index come from the environment; otherwise JAX detects them (SLURM, TPU
    pods, ...). CPU processes talk through gloo.
    """
    if not (enabled or cluster_detected()):
        return False
    if jax.distributed.is_initialized():
        return True
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    env = os.environ
    if "LOCORNN_COORDINATOR" in env:
        jax.distributed.initialize(env["LOCORNN_COORDINATOR"],
                                   int(env["LOCORNN_NUM_PROCESSES"]),
                                   int(env["LOCORNN_PROCESS_ID"]))
    else:
        jax.distributed.initialize()
    return True


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
