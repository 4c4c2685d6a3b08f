"""On-disk cache of generated trajectories, with integrity checks.

Layout (one folder per split and argument set)::

    <cache_dir>/<system>/<split>-n<num>-steps<num_steps>-seed<seed>-v<generator version>/
        images.npy      (N, T, 32, 32, 3) uint8, uncompressed: read memory-mapped
        data.npz        states / dx_dt (N, T, D) float64, params/<name> (N, ...)
                        [zip, deflate level 1]
        metadata.json   {"format", "generator_version", "args", "files": {name:
                        {"sha256", "bytes"}}, "shapes", "created", "versions"}

The images -- nearly all the bytes (the paper preset's train split: 39 GB) -- are loaded as a
read-only ``np.memmap``: a training window is read from disk when it is sampled
(:func:`~locornn.data.hamiltonian.sample_windows` gathers on the host), so a host needs memory
for the batches, not the data set. The data files are written first (to temporary names, then
atomically renamed) and ``metadata.json`` last, so an interrupted write leaves an entry without
metadata. Each load verifies both files' SHA-256 (reading them once: ~40 s for 39 GB). On load,
a missing metadata file next to data, unreadable JSON, arguments that differ, a size or
SHA-256 mismatch (truncation, bit rot), an unreadable archive or wrong array shapes all
count as corruption: :func:`cached_generate` warns (:class:`CacheWarning`), deletes the
entry and regenerates it. A corrupted file is never used.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np

from locornn.data.hamiltonian.generate import (
    GENERATOR_VERSION,
    Trajectories,
    generate,
    image_shape,
)
from locornn.data.hamiltonian.systems import get_system

CACHE_FORMAT = 2  # 2: images in their own .npy, memory-mapped
DATA_FILE = "data.npz"
IMAGES_FILE = "images.npy"
METADATA_FILE = "metadata.json"


class CacheWarning(UserWarning):
    """A cache entry was unusable (corrupted, truncated, stale) and is being regenerated."""


class CacheMissing(Exception):
    """No cache entry yet (not an error)."""


class CacheCorrupt(Exception):
    """A cache entry exists but cannot be trusted."""


def cache_args(system: str, split: str, num: int, num_steps: int, seed: int) -> dict:
    """The arguments that determine a cache entry's content (stored in its metadata)."""
    return {
        "system": system,
        "split": split,
        "num": int(num),
        "num_steps": int(num_steps),
        "seed": int(seed),
        "dt": get_system(system).dt,
    }


def entry_path(cache_dir: str | os.PathLike, args: dict) -> Path:
    name = (
        f"{args['split']}-n{args['num']}-steps{args['num_steps']}-seed{args['seed']}"
        f"-v{GENERATOR_VERSION}"
    )
    return Path(cache_dir) / args["system"] / name


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def _arrays(traj: Trajectories) -> dict[str, np.ndarray]:
    """Everything but the images (those go to their own file)."""
    out = {"states": traj.states, "dx_dt": traj.dx_dt}
    out.update({f"params/{k}": v for k, v in traj.params.items()})
    return out


def save(entry: Path, traj: Trajectories, args: dict, images_written: Path | None = None) -> None:
    """Write ``traj`` to ``entry`` (data first, metadata last, each atomically).

    ``images_written``: a finished ``.npy`` of ``traj.images`` (generated into it chunk by
    chunk) that is moved into place instead of writing the images again."""
    entry.mkdir(parents=True, exist_ok=True)
    arrays = _arrays(traj)
    tmp = entry / f".{DATA_FILE}.{os.getpid()}.tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, array in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)
    os.replace(tmp, entry / DATA_FILE)
    if images_written is None:
        tmp = entry / f".{IMAGES_FILE}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            np.lib.format.write_array(f, np.ascontiguousarray(traj.images), allow_pickle=False)
        images_written = tmp
    os.replace(images_written, entry / IMAGES_FILE)
    import jax

    from locornn import __version__

    files = {name: {"sha256": sha256_file(entry / name), "bytes": (entry / name).stat().st_size}
             for name in (DATA_FILE, IMAGES_FILE)}
    shapes = {k: [list(v.shape), v.dtype.name] for k, v in arrays.items()}
    shapes["images"] = [list(traj.images.shape), traj.images.dtype.name]
    metadata = {
        "format": CACHE_FORMAT,
        "generator_version": GENERATOR_VERSION,
        "args": args,
        "files": files,
        "shapes": shapes,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"locornn": __version__, "jax": jax.__version__, "numpy": np.__version__},
    }
    tmp_meta = entry / f".{METADATA_FILE}.{os.getpid()}.tmp"
    tmp_meta.write_text(json.dumps(metadata, indent=2, sort_keys=True))
    os.replace(tmp_meta, entry / METADATA_FILE)


def load(entry: Path, args: dict) -> Trajectories:
    """Read and verify an entry; raises CacheMissing or CacheCorrupt (with the reason)."""
    meta_path, data_path = entry / METADATA_FILE, entry / DATA_FILE
    if not meta_path.exists():
        if data_path.exists():
            raise CacheCorrupt(f"{data_path} has no {METADATA_FILE} (interrupted write?)")
        raise CacheMissing(str(entry))
    try:
        metadata = json.loads(meta_path.read_text())
        expected = {name: metadata["files"][name] for name in (DATA_FILE, IMAGES_FILE)}
    except (ValueError, KeyError, TypeError) as e:
        raise CacheCorrupt(f"unreadable {meta_path} (or an older cache format): {e}") from None
    if metadata.get("format") != CACHE_FORMAT or metadata.get("generator_version") != (
        GENERATOR_VERSION
    ):
        raise CacheCorrupt(f"{meta_path} was written by another generator version")
    if metadata.get("args") != args:
        raise CacheCorrupt(f"{meta_path} arguments {metadata.get('args')} != {args}")
    for name, want in expected.items():
        path = entry / name
        if not path.exists():
            raise CacheCorrupt(f"{path} is missing")
        size = path.stat().st_size
        if size != want["bytes"]:
            raise CacheCorrupt(f"{path} has {size} bytes, expected {want['bytes']} (truncated?)")
        digest = sha256_file(path)
        if digest != want["sha256"]:
            raise CacheCorrupt(f"{path} checksum {digest[:12]}... != {want['sha256'][:12]}...")
    try:
        with np.load(data_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        arrays["images"] = np.load(entry / IMAGES_FILE, mmap_mode="r", allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - any failure to read means corrupt
        raise CacheCorrupt(f"cannot read {entry}: {e}") from None
    frames = args["num_steps"] + 1
    for key in ("images", "states", "dx_dt"):
        if key not in arrays or arrays[key].shape[:2] != (args["num"], frames):
            raise CacheCorrupt(f"{data_path}: {key} missing or not ({args['num']}, {frames}, ...)")
    return Trajectories(
        images=arrays["images"],
        states=arrays["states"],
        dx_dt=arrays["dx_dt"],
        params={k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("params/")},
        dt=float(args["dt"]),
    )


def cached_generate(
    system: str,
    *,
    split: str,
    num: int,
    num_steps: int,
    seed: int,
    cache_dir: str | os.PathLike,
    progress: bool = False,
    chunk_size: int | None = None,
) -> tuple[Trajectories, Path, str]:
    """Load trajectories from the cache, or generate and cache them.

    Returns (trajectories, entry folder, status) with status ``"hit"`` (read from disk),
    ``"generated"`` (no entry before) or ``"regenerated"`` (the entry was corrupt; a
    :class:`CacheWarning` was issued).
    """
    system = get_system(system).name
    args = cache_args(system, split, num, num_steps, seed)
    entry = entry_path(cache_dir, args)
    status = "generated"
    try:
        return load(entry, args), entry, "hit"
    except CacheMissing:
        pass
    except CacheCorrupt as e:
        warnings.warn(
            f"Hamiltonian-suite cache entry {entry} is unusable ({e}); regenerating it.",
            CacheWarning,
            stacklevel=2,
        )
        shutil.rmtree(entry, ignore_errors=True)
        status = "regenerated"
    # The images go straight into their (temporary) memory-mapped file, chunk by chunk: a split
    # larger than RAM is generated without ever being held whole.
    entry.mkdir(parents=True, exist_ok=True)
    images_tmp = entry / f".{IMAGES_FILE}.{os.getpid()}.tmp"
    images = np.lib.format.open_memmap(images_tmp, mode="w+", dtype=np.uint8,
                                       shape=image_shape(system, num, num_steps))
    try:
        traj = generate(system, num=num, num_steps=num_steps, seed=seed, split=split,
                        progress=progress, chunk_size=chunk_size, images_out=images)
        images.flush()
        save(entry, traj, args, images_written=images_tmp)
    except BaseException:
        images_tmp.unlink(missing_ok=True)
        raise
    read_only = np.load(entry / IMAGES_FILE, mmap_mode="r", allow_pickle=False)
    return dataclasses.replace(traj, images=read_only), entry, status
