"""On-disk cache of generated trajectories, with integrity checks.

Layout (one folder per split and argument set)::

    <cache_dir>/<system>/<split>-n<num>-steps<num_steps>-seed<seed>-v<generator version>/
        data.npz        images (N, T, 32, 32, 3) uint8, states / dx_dt (N, T, D) float64,
                        params/<name> (N, ...)   [zip, deflate level 1]
        metadata.json   {"format", "generator_version", "args", "files": {"data.npz":
                        {"sha256", "bytes"}}, "shapes", "created", "versions"}

``data.npz`` is written first (to a temporary name, then atomically renamed) and
``metadata.json`` last, so an interrupted write leaves an entry without metadata. On load,
a missing metadata file next to data, unreadable JSON, arguments that differ, a size or
SHA-256 mismatch (truncation, bit rot), an unreadable archive or wrong array shapes all
count as corruption: :func:`cached_generate` warns (:class:`CacheWarning`), deletes the
entry and regenerates it. A corrupted file is never used.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np

from locornn.data.hamiltonian.generate import GENERATOR_VERSION, Trajectories, generate
from locornn.data.hamiltonian.systems import get_system

CACHE_FORMAT = 1
DATA_FILE = "data.npz"
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
    out = {"images": traj.images, "states": traj.states, "dx_dt": traj.dx_dt}
    out.update({f"params/{k}": v for k, v in traj.params.items()})
    return out


def save(entry: Path, traj: Trajectories, args: dict) -> None:
    """Write ``traj`` to ``entry`` (data first, metadata last, both atomically)."""
    entry.mkdir(parents=True, exist_ok=True)
    data_path = entry / DATA_FILE
    tmp = entry / f".{DATA_FILE}.{os.getpid()}.tmp"
    arrays = _arrays(traj)
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, array in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)
    os.replace(tmp, data_path)
    import jax

    from locornn import __version__

    metadata = {
        "format": CACHE_FORMAT,
        "generator_version": GENERATOR_VERSION,
        "args": args,
        "files": {DATA_FILE: {"sha256": sha256_file(data_path), "bytes": data_path.stat().st_size}},
        "shapes": {k: [list(v.shape), v.dtype.name] for k, v in arrays.items()},
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
        expected = metadata["files"][DATA_FILE]
    except (ValueError, KeyError, TypeError) as e:
        raise CacheCorrupt(f"unreadable {meta_path}: {e}") from None
    if metadata.get("format") != CACHE_FORMAT or metadata.get("generator_version") != (
        GENERATOR_VERSION
    ):
        raise CacheCorrupt(f"{meta_path} was written by another generator version")
    if metadata.get("args") != args:
        raise CacheCorrupt(f"{meta_path} arguments {metadata.get('args')} != {args}")
    if not data_path.exists():
        raise CacheCorrupt(f"{data_path} is missing")
    size = data_path.stat().st_size
    if size != expected["bytes"]:
        raise CacheCorrupt(
            f"{data_path} has {size} bytes, expected {expected['bytes']} (truncated?)"
        )
    digest = sha256_file(data_path)
    if digest != expected["sha256"]:
        raise CacheCorrupt(f"{data_path} checksum {digest[:12]}... != {expected['sha256'][:12]}...")
    try:
        with np.load(data_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as e:  # noqa: BLE001 - any failure to read means corrupt
        raise CacheCorrupt(f"cannot read {data_path}: {e}") from None
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
    traj = generate(
        system,
        num=num,
        num_steps=num_steps,
        seed=seed,
        split=split,
        progress=progress,
        chunk_size=chunk_size,
    )
    save(entry, traj, args)
    return traj, entry, status
