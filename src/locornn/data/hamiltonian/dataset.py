"""Training-facing API: load a Hamiltonian-suite data set, sample training windows.

Images are kept as **uint8** (N, T, 32, 32, 3) in :class:`HamiltonianData` (the published
training set is 50k x 256 frames: 39 GB as uint8, four times that as float32).
:func:`sample_windows` returns float32 in [0, 1]; :func:`to_float` converts anything else
(e.g. the test trajectories for evaluation) the same way, ``x * (1/255)``.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from locornn.data.errors import DataError
from locornn.data.hamiltonian import cache as _cache
from locornn.data.hamiltonian import suite_format
from locornn.data.hamiltonian.generate import Trajectories
from locornn.data.hamiltonian.systems import get_system


@dataclasses.dataclass
class HamiltonianData:
    """Train and test trajectories of one system.

    Attributes:
      system: system name.
      dt: time between frames (0.05 physics, 0.1 games).
      train_images: (N, train_steps + 1, 32, 32, 3) uint8 (use ``to_float``/``sample_windows``).
      test_images: (M, test_steps + 1, 32, 32, 3) uint8.
      train_states, test_states: (N | M, T, D) float64, the suite's ``x``.
      train_dx_dt, test_dx_dt: (N | M, T, D) float64 time derivatives (NaN if a suite file
        lacks them).
      train_params, test_params: {name: (N | M, ...)} per-trajectory parameters.
      source: ``"generated"`` or the suite folder that was read.
      cache: for generated data, {split: {"path": entry folder, "status": "hit" |
        "generated" | "regenerated"}}.
    """

    system: str
    dt: float
    train_images: np.ndarray
    test_images: np.ndarray
    train_states: np.ndarray
    test_states: np.ndarray
    train_dx_dt: np.ndarray
    test_dx_dt: np.ndarray
    train_params: dict[str, np.ndarray]
    test_params: dict[str, np.ndarray]
    source: str = "generated"
    cache: dict = dataclasses.field(default_factory=dict)

    @property
    def params(self) -> dict[str, dict[str, np.ndarray]]:
        """{"train": train_params, "test": test_params}."""
        return {"train": self.train_params, "test": self.test_params}

    def images(self, split: str) -> np.ndarray:
        """Float32 images in [0, 1] of ``split`` ("train" / "test"), converted on the fly."""
        return np.asarray(to_float(getattr(self, f"{split}_images")))


_INV_255 = np.float32(1.0 / 255.0)


def to_float(images) -> jax.Array | np.ndarray:
    """uint8 -> float32 ``x * (1/255)`` (NumPy in, NumPy out; else JAX); floats -> float32.

    A multiplication (not a division) so that NumPy and XLA give bit-identical results.
    """
    if isinstance(images, np.ndarray):
        if images.dtype == np.uint8:
            return images.astype(np.float32) * _INV_255
        return images.astype(np.float32, copy=False)
    images = jnp.asarray(images)
    if images.dtype == jnp.uint8:
        return images.astype(jnp.float32) * _INV_255
    return images.astype(jnp.float32)


def sample_windows(images, key: jax.Array, batch_size: int, window: int,
                   rows: slice = slice(None)) -> jax.Array:
    """Random sub-sequences: images (N, T, H, W, C) -> (batch_size, window, H, W, C) float32.

    Each row picks a trajectory ``i ~ U{0..N-1}`` and a start ``s ~ U{0..T-window}``
    independently and returns frames ``s .. s + window - 1`` of trajectory ``i``, as floats in
    [0, 1] (uint8 is divided by 255).

    Jittable for a JAX array ``images`` (``batch_size`` and ``window`` static). A NumPy array
    (or memmap) is gathered on the host instead, so a large uint8 data set is never copied to
    the device whole; only the batch is. ``rows`` picks part of the batch (a host's shards),
    reading only those windows: ``sample_windows(..., rows=r) == sample_windows(...)[r]``.
    """
    n, t = images.shape[0], images.shape[1]
    if not 1 <= window <= t:
        raise ValueError(f"window must be in [1, {t}] (trajectory length), got {window}")
    k_traj, k_start = jax.random.split(key)
    traj = jax.random.randint(k_traj, (batch_size,), 0, n)[rows]
    start = jax.random.randint(k_start, (batch_size,), 0, t - window + 1)[rows]
    if isinstance(images, np.ndarray):
        rows = np.asarray(traj)[:, None]
        cols = np.asarray(start)[:, None] + np.arange(window)[None, :]
        return jnp.asarray(to_float(images[rows, cols]))

    images = jnp.asarray(images)

    def one(i, s):
        starts = (i, s) + (0,) * (images.ndim - 2)
        sizes = (1, window) + images.shape[2:]
        return jax.lax.dynamic_slice(images, starts, sizes)[0]

    return to_float(jax.vmap(one)(traj, start))


def _crop(traj: Trajectories, num: int, steps: int, where: str) -> Trajectories:
    frames = steps + 1
    if traj.images.shape[1] < frames:
        raise DataError(
            f"{where} has trajectories of {traj.images.shape[1]} frames; {frames} requested"
        )
    if len(traj) < num:
        raise DataError(f"{where} has {len(traj)} trajectories; {num} requested")
    return Trajectories(
        images=traj.images[:num, :frames],
        states=traj.states[:num, :frames],
        dx_dt=traj.dx_dt[:num, :frames],
        params={k: v[:num] for k, v in traj.params.items()},
        dt=traj.dt,
    )


def _read_suite(
    suite_dir, system: str, split: str, num: int, steps: int
) -> tuple[Trajectories, Path]:
    folder = suite_format.find_folder(suite_dir, system)
    frames = suite_format.read_features(folder)
    available = frames["image"][0][0] if "image" in frames else 0
    if steps + 1 > available:
        try:  # the suite publishes long test trajectories as separate data sets
            folder = suite_format.find_folder(suite_dir, system, long_trajectory=True)
        except FileNotFoundError:
            pass
    traj = suite_format.read_trajectories(folder, split, limit=num, dt=get_system(system).dt)
    return _crop(traj, num, steps, f"{folder}/{split}.tfrecord"), folder


def load_dataset(
    system: str,
    *,
    num_train: int,
    num_test: int,
    train_steps: int,
    test_steps: int,
    seed: int,
    cache_dir: str | os.PathLike,
    suite_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> HamiltonianData:
    """Train trajectories of ``train_steps + 1`` frames and (long) test ones of ``test_steps + 1``.

    Without ``suite_dir`` the data are generated (deterministically from ``seed``; train and
    test use independent key streams) and cached under ``cache_dir``; a second call with the
    same arguments reads the cache, a corrupted cache is regenerated with a warning.

    With ``suite_dir`` the suite's own files are read instead (the first ``num_train`` /
    ``num_test`` records of ``train.tfrecord`` / ``test.tfrecord``, cropped to the requested
    lengths; a ``<system>_long_trajectory_dt_<dt>`` folder is used when the test trajectories
    must be longer than the standard ones). ``seed`` and ``cache_dir`` are then unused.
    """
    spec = get_system(system)
    if suite_dir is not None:
        train, train_folder = _read_suite(suite_dir, spec.name, "train", num_train, train_steps)
        test, test_folder = _read_suite(suite_dir, spec.name, "test", num_test, test_steps)
        if not np.isclose(train.dt, spec.dt):
            warnings.warn(
                f"{train_folder} has dt {train.dt}, the suite's {spec.name} uses {spec.dt}",
                stacklevel=2,
            )
        source = (
            str(train_folder) if train_folder == test_folder else f"{train_folder} + {test_folder}"
        )
        cache_info = {}
    else:
        splits = {}
        cache_info = {}
        for split, num, steps in (
            ("train", num_train, train_steps),
            ("test", num_test, test_steps),
        ):
            traj, entry, status = _cache.cached_generate(
                spec.name,
                split=split,
                num=num,
                num_steps=steps,
                seed=seed,
                cache_dir=cache_dir,
                progress=progress,
            )
            splits[split] = traj
            cache_info[split] = {"path": str(entry), "status": status}
        train, test = splits["train"], splits["test"]
        source = "generated"
    return HamiltonianData(
        system=spec.name,
        dt=spec.dt,
        train_images=train.images,
        test_images=test.images,
        train_states=train.states,
        test_states=test.states,
        train_dx_dt=train.dx_dt,
        test_dx_dt=test.dx_dt,
        train_params=train.params,
        test_params=test.params,
        source=source,
        cache=cache_info,
    )
