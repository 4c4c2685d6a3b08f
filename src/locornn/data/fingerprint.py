"""What a run was trained on: a record of the resolved data source, and the check that binds it.

A run's ``data.json`` holds its :func:`record`::

    {"kind": "idx" | "tfds" | "digits" | "waves" | "noise" | "hamiltonian-generated"
             | "hamiltonian-suite" | "video" | "tfds-sequences",
     "path": the folder(s) read, or null for data generated in memory,
     "fingerprint": 16 hex digits,
     "description": the human-readable source}

The fingerprint is a SHA-256 over the data's content and the data config that shapes the
sequences (``data.*`` less the fields that only say where files are: a moved folder is the
same data):

* MNIST-format digits (IDX files, tensorflow-datasets, the built-in scikit-learn digits): the
  shapes of the four arrays, every label and an evenly spaced sample of the images, as loaded
  (so the same digits read from IDX files or from tensorflow-datasets agree);
* the Hamiltonian suite's published files: ``features.txt`` whole, and each TFRecord file's
  size, first and last 64 KiB;
* generated data (waves, noise, Hamiltonian trajectories and their cache): the data config and
  seed, and for Hamiltonian trajectories the generator's version (what the cache is keyed by);
* your recordings (``data.name = "video"``: arrays, frames, videos) and tensorflow-datasets
  sequences (``"tfds"``): a SHA-256 of every stored byte of the frames read, with their shapes
  and type (:func:`locornn.data.video.scan`, the pass that also checks every value). The
  fields of these sets (``data.path``, ``data.scaling``, ...) count only for them, so the
  fingerprints of the other sets do not depend on fields they never read.

:func:`require_same_data` refuses, in one line, a run resumed or evaluated on data whose
fingerprint differs from the recorded one.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

import numpy as np

from locornn.data.errors import DataError

RECORD_FILE = "data.json"
# data.* fields that say where files are, not what they hold
# (the sets from files: which file, array, set or split is read; their bytes are hashed)
LOCATION_FIELDS = ("mnist_dir", "mnist_source", "suite_dir", "cache_dir", "path", "test_path",
                   "feature", "tfds_name", "tfds_split", "tfds_test_split", "tfds_data_dir")
# data.* fields that shape the sequences of the sets from files only (locornn.data.video)
FILE_FIELDS = ("test_fraction", "window_stride", "scaling")
SAMPLE_IMAGES = 256  # images hashed per split of an MNIST-format set
SAMPLE_BYTES = 1 << 16  # bytes hashed at each end of a published file


class DataMismatch(DataError):
    """A run is resumed or evaluated on data other than what it was trained on."""


def _digest(parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else repr(part).encode())
    return digest.hexdigest()[:16]


def _config_part(data_config) -> str:
    from locornn.configs import FILE_SETS

    ignored = LOCATION_FIELDS + (() if data_config.name in FILE_SETS else FILE_FIELDS)
    fields = {k: v for k, v in json.loads(data_config.to_json()).items() if k not in ignored}
    return json.dumps(fields, sort_keys=True)


def _array_parts(array: np.ndarray, sample: int):
    array = np.asarray(array)
    rows = np.unique(np.linspace(0, len(array) - 1, min(sample, len(array))).astype(int)) \
        if len(array) else np.zeros(0, int)
    yield (array.shape, array.dtype.str)
    yield np.ascontiguousarray(array[rows]).tobytes()


def _file_parts(path: pathlib.Path):
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
        handle.seek(max(size - SAMPLE_BYTES, 0))
        tail = handle.read(SAMPLE_BYTES)
    yield (path.name, size)
    yield head
    yield tail


def record(kind: str, description: str, fingerprint: str, path=None) -> dict:
    return {"kind": kind, "path": None if path is None else str(path),
            "fingerprint": fingerprint, "description": description}


def generated_record(kind: str, description: str, data_config, *extra) -> dict:
    """Data made in memory from its config and seed (waves, noise)."""
    return record(kind, description, _digest([kind, _config_part(data_config), *extra]))


_MNIST_KINDS = (("IDX files in ", "idx"), ("tensorflow-datasets mnist in ", "tfds"),
                ("scikit-learn", "digits"))


def digits_record(digits, data_config, description: str) -> dict:
    """Rotating digits drawn from ``digits`` (a :class:`locornn.data.mnist.MNISTData`)."""
    kind, path = "digits", None
    for prefix, name in _MNIST_KINDS:
        if digits.source.startswith(prefix):
            kind = name
            if name != "digits":
                path = digits.source[len(prefix):]
    parts = [_config_part(data_config)]
    for images, labels in ((digits.train_images, digits.train_labels),
                           (digits.test_images, digits.test_labels)):
        parts += [*_array_parts(images, SAMPLE_IMAGES), *_array_parts(labels, len(labels))]
    return record(kind, description, _digest(parts), path)


def files_record(kind: str, description: str, data_config, digests, path) -> dict:
    """Frames read from files (``digests``: :class:`locornn.data.video.Stats` digests of every
    stored byte, the held-out file's second when there is one)."""
    return record(kind, description, _digest([kind, _config_part(data_config), *digests]), path)


def hamiltonian_record(dataset, data_config, description: str) -> dict:
    """Hamiltonian trajectories: the suite's published files, or generated (and cached)."""
    if dataset.cache:  # generated: keyed by the generator's arguments, as the cache is
        from locornn.data.hamiltonian.generate import GENERATOR_VERSION

        entries = " + ".join(info["path"] for info in dataset.cache.values())
        return record("hamiltonian-generated", description,
                      _digest(["generated", GENERATOR_VERSION, _config_part(data_config)]),
                      entries)
    folders = [pathlib.Path(p) for p in dict.fromkeys(dataset.source.split(" + "))]
    parts = ["suite", _config_part(data_config)]
    for folder in folders:
        for path in sorted(folder.iterdir()):
            if path.name == "features.txt":
                parts.append(path.read_bytes())
            elif path.suffix == ".tfrecord":
                parts += list(_file_parts(path))
    return record("hamiltonian-suite", description, _digest(parts), dataset.source)


def describe(data: dict) -> str:
    """One phrase naming a record: kind, where, fingerprint."""
    where = f" in {data['path']}" if data.get("path") else ""
    return f"{data.get('kind')}{where} (fingerprint {data.get('fingerprint')})"


def label(data: dict | None) -> str:
    """A short name of a record for a table cell: ``kind:fingerprint``."""
    return f"{data['kind']}:{data['fingerprint']}" if data else "unrecorded"


def read_record(workdir) -> dict | None:
    """The record in ``workdir/data.json``; ``None`` when the run has none."""
    path = pathlib.Path(workdir) / RECORD_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or "fingerprint" not in data:
            raise ValueError("no fingerprint")
    except ValueError as error:
        raise DataError(f"{path} is not a readable data record ({error}); it names the data "
                        f"the run was trained on: restore it, or use another workdir") from None
    return data


def write_record(workdir, data: dict) -> None:
    path = pathlib.Path(workdir) / RECORD_FILE
    path.write_text(json.dumps(data, indent=2) + "\n")


def same_data(recorded: dict | None, current: dict) -> bool:
    return recorded is None or recorded.get("fingerprint") == current["fingerprint"]


def require_same_data(workdir, current: dict, advice: str) -> dict | None:
    """The record of the run in ``workdir``; :class:`DataMismatch` if ``current`` differs."""
    recorded = read_record(workdir)
    if not same_data(recorded, current):
        raise DataMismatch(f"{workdir} was trained on {describe(recorded)}, but the data found "
                           f"now is {describe(current)}; {advice}")
    return recorded
