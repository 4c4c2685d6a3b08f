"""Reader (and writer) for the Hamiltonian Dynamics Suite's published files.

A data set is a folder ``<name>_dt_<dt with "." -> "_">/`` (e.g. ``pendulum_dt_0_05``,
``rock_paper_scissors_dt_0_1``) holding

* ``features.txt``: one line per feature, ``"<key>, <shape>, <dtype>"``, e.g.
  ``image, (256, 32, 32, 3), uint8`` / ``x, (256, 2), float64`` / ``other/m, (1,), float64``;
  shapes are per trajectory;
* ``train.tfrecord`` and ``test.tfrecord``: TFRecord files (records framed as
  ``uint64 length, uint32 masked crc, bytes, uint32 masked crc``), one serialized
  ``tf.train.Example`` per trajectory.

Encoding of a feature by its dtype in ``features.txt``:

* ``uint8`` (images): one PNG (bytes_list) of the frames stacked vertically, (T*32, 32, 3);
* ``float64`` / ``float32``: the raw IEEE bit patterns reinterpreted as int64 (int64_list),
  i.e. ``values.reshape(-1).view(np.int64)``; float32 features therefore pack two values
  per int64 (little endian);
* integer dtypes: int64_list. (The suite writes the int32 -> int64 promotion as the string
  ``<class 'numpy.int64'>``; the parser accepts that too.)

Keys: ``image``, ``x`` (the state), ``dx_dt``, ``other/<param>`` (per-trajectory parameters
with a leading axis of 1, dropped on reading), and possibly others (``ts``), kept as read.

The protobuf and TFRecord framing come from the optional extra ``suite``
(``pip install 'locornn[suite]'``, i.e. the ``tfrecord`` package and ``protobuf``); without
it, every function here raises an ImportError saying what to install. PNG coding uses
Pillow (a core dependency).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import struct
from pathlib import Path

import numpy as np

from locornn.data.errors import DataError
from locornn.data.hamiltonian.generate import Trajectories
from locornn.data.hamiltonian.systems import get_system

INSTALL_HINT = (
    "Reading or writing the Hamiltonian Dynamics Suite's TFRecord files needs the optional "
    "extra 'suite': pip install 'locornn[suite]'  (that is: pip install 'tfrecord>=1.14,<2' "
    "protobuf)"
)
FEATURES_FILE = "features.txt"
SPLITS = ("train", "test")


def _tfrecord():
    """Import the optional ``tfrecord`` package, or raise an ImportError with the fix."""
    try:
        import tfrecord.reader
        import tfrecord.writer
        from tfrecord import example_pb2
    except ImportError as e:  # includes a missing protobuf
        raise ImportError(f"{INSTALL_HINT}. (Import failed: {e})") from e
    return tfrecord.reader, tfrecord.writer, example_pb2


# ----------------------------------------------------------------------------------------------
# features.txt
# ----------------------------------------------------------------------------------------------

_LINE = re.compile(r"^\s*(?P<key>[^,]+?)\s*,\s*\((?P<shape>[^)]*)\)\s*,\s*(?P<dtype>.+?)\s*$")


def _parse_dtype(text: str) -> np.dtype:
    match = re.search(r"numpy\.(\w+)", text)  # "<class 'numpy.int64'>"
    return np.dtype(match.group(1) if match else text.strip())


def parse_features(text: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """features.txt contents -> {key: (per-trajectory shape, dtype)}."""
    features = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if not match:
            raise DataError(
                f"{FEATURES_FILE} line {number} is not 'key, (shape), dtype': {line!r}"
            )
        shape_text = match.group("shape").strip()
        shape = tuple(int(s) for s in shape_text.split(",") if s.strip()) if shape_text else ()
        if any(n < 0 for n in shape):
            raise ValueError(f"{FEATURES_FILE} line {number} has a negative size: {line!r}")
        features[match.group("key")] = (shape, _parse_dtype(match.group("dtype")))
    return features


def read_features(folder: str | os.PathLike) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """``folder/features.txt`` parsed; :class:`DataError` naming the file if it is not one."""
    path = Path(folder) / FEATURES_FILE
    try:
        return parse_features(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, TypeError) as error:
        raise DataError(f"{path}: {error}") from None


def format_features(features: dict[str, tuple[tuple[int, ...], np.dtype]]) -> str:
    return "".join(
        f"{k}, {tuple(shape)}, {np.dtype(dtype).name}\n" for k, (shape, dtype) in features.items()
    )


# ----------------------------------------------------------------------------------------------
# Locating a data set
# ----------------------------------------------------------------------------------------------


def folder_name(system: str, dt: float | None = None, *, long_trajectory: bool = False) -> str:
    """``pendulum`` -> ``pendulum_dt_0_05`` (``..._long_trajectory_dt_...`` if asked)."""
    dt = get_system(system).dt if dt is None else dt
    stem = f"{system}_long_trajectory" if long_trajectory else system
    return f"{stem}_dt_{str(dt).replace('.', '_')}"


def find_folder(
    suite_dir: str | os.PathLike, system: str, *, long_trajectory: bool = False
) -> Path:
    """The data-set folder for ``system`` given either that folder itself or a parent.

    Accepts both layouts: the suite's own writer names a folder ``<name>_dt_<dt>/``; the
    published bucket names it ``<name>/`` (``toy_physics/pendulum``,
    ``toy_physics/pendulum_long_trajectory``, ``multi_agent/rock_paper_scissors``). Looks at
    ``suite_dir`` itself, its children, its grandchildren (``suite_dir/toy_physics/...``: the
    bucket root) and, for the long-trajectory set, the siblings of a ``suite_dir`` that is a
    system's folder.
    """
    root = Path(suite_dir)
    stem = f"{system}_long_trajectory" if long_trajectory else system
    names = [folder_name(system, long_trajectory=long_trajectory), stem]
    candidates = []
    for name in names:
        candidates += [root / name, *sorted(root.glob(f"*/{name}")), root.parent / name]
    if root.name in names or (not long_trajectory and (root / FEATURES_FILE).exists()):
        candidates.insert(0, root)
    for folder in candidates:
        if (folder / FEATURES_FILE).exists():
            return folder
    raise FileNotFoundError(
        f"no Hamiltonian-suite data set for {system!r} under {root}: expected a folder "
        f"{names[0]}/ or {names[1]}/ containing {FEATURES_FILE} and train/test .tfrecord files"
    )


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------


def count_records(path: str | os.PathLike) -> int:
    """Number of records in a TFRecord file, checking the framing (truncation -> ValueError)."""
    size = os.path.getsize(path)
    count = 0
    with open(path, "rb") as f:
        while (pos := f.tell()) < size:
            header = f.read(12)
            if len(header) < 12:
                raise DataError(f"{path}: truncated record header at byte {pos}")
            (length,) = struct.unpack("<Q", header[:8])
            if pos + 12 + length + 4 > size:  # (a damaged length may exceed any seek)
                raise DataError(f"{path}: truncated last record (file has {size} bytes)")
            f.seek(length + 4, os.SEEK_CUR)
            count += 1
        if f.tell() != size:
            raise DataError(f"{path}: truncated last record (file has {size} bytes)")
    return count


def _decode_png(data: bytes) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.mode not in ("RGB", "L"):
                img = img.convert("RGB")
            array = np.asarray(img)
    except Exception as error:  # noqa: BLE001 - Pillow raises many types for a bad image
        raise DataError(f"not a readable PNG ({error})") from None
    if array.ndim == 2:  # a grey PNG: repeat into 3 channels
        array = np.repeat(array[..., None], 3, axis=-1)
    return array


def _decode(feature, key: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    kind = feature.WhichOneof("kind")
    if dtype == np.uint8:
        if kind != "bytes_list":
            raise DataError(f"feature {key!r}: expected PNG bytes, found {kind}")
        value = _decode_png(feature.bytes_list.value[0])
    elif kind != "int64_list":
        raise DataError(f"feature {key!r}: expected an int64_list, found {kind}")
    elif dtype.kind == "f":
        value = np.asarray(feature.int64_list.value, dtype="<i8").view(dtype.newbyteorder("<"))
    else:
        value = np.asarray(feature.int64_list.value, dtype=np.int64).astype(dtype)
    if value.size != int(np.prod(shape)):
        raise DataError(f"feature {key!r}: {value.size} values do not fit shape {shape}")
    return value.reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def iter_records(path: str | os.PathLike, limit: int | None = None):
    """Yield the records of a TFRecord file as bytes, checking both CRCs of each.

    A record is ``uint64 length, uint32 masked crc32c(length), bytes, uint32 masked
    crc32c(bytes)``; a mismatch or a short read raises ValueError naming the record (the
    ``tfrecord`` package's reader reads the CRCs without checking them). Records are read one at
    a time (a published train split is ~39 GB); wrap the generator in
    :func:`contextlib.closing` when stopping early, so the file is closed at once.
    """
    _, writer_module, _ = _tfrecord()
    masked_crc = writer_module.TFRecordWriter.masked_crc  # crc32c, masked as TensorFlow does
    with open(path, "rb") as f:
        for index in itertools.count():
            if limit is not None and index >= limit:
                return
            header = f.read(12)
            if not header:
                return
            if len(header) < 12:
                raise DataError(f"{path}: truncated record header (record {index})")
            if masked_crc(header[:8]) != header[8:]:
                raise DataError(f"{path}: record {index}: length CRC mismatch (corrupt file)")
            (length,) = struct.unpack("<Q", header[:8])
            data, crc = f.read(length), f.read(4)
            if len(data) < length or len(crc) < 4:
                raise DataError(f"{path}: truncated last record (record {index})")
            if masked_crc(data) != crc:
                raise DataError(f"{path}: record {index}: data CRC mismatch (corrupt file)")
            yield data


def iter_split(folder: str | os.PathLike, split: str, *, limit: int | None = None):
    """Yield one split's trajectories one at a time, each ``{feature key: (*shape) array}``."""
    _, _, example_pb2 = _tfrecord()
    folder = Path(folder)
    features = read_features(folder)
    path = folder / f"{split}.tfrecord"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    with contextlib.closing(iter_records(path, limit)) as records:
        for i, record in enumerate(records):
            try:
                feature_map = example_pb2.Example.FromString(record).features.feature
            except Exception as error:  # noqa: BLE001 - protobuf's DecodeError and others
                raise DataError(f"{path} record {i} is not a tf.train.Example ({error})") from None
            example = {}
            for key, (shape, dtype) in features.items():
                if key not in feature_map:
                    raise DataError(f"{path} record {i} has no feature {key!r}")
                try:
                    example[key] = _decode(feature_map[key], key, shape, dtype)
                except (ValueError, TypeError) as error:  # (DataError is a ValueError)
                    raise DataError(f"{path} record {i}: {error}") from None
            yield example


def read_split(
    folder: str | os.PathLike, split: str, *, limit: int | None = None
) -> dict[str, np.ndarray]:
    """Read one split: {feature key: (N, *shape) array}, N = min(records, limit).

    Records stream in one at a time (:func:`iter_split`, CRCs checked); only the ``N`` asked
    for are held. ``other/<name>`` parameters lose their leading singleton axis ((1,) -> (),
    (1, 2) -> (2,)).
    """
    folder = Path(folder)
    features = read_features(folder)
    path = folder / f"{split}.tfrecord"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    n = count_records(path)
    if limit is not None:
        n = min(n, int(limit))
    out = None  # allocated once the first record has matched features.txt's sizes
    with contextlib.closing(iter_split(folder, split, limit=n)) as examples:
        for i, example in enumerate(examples):
            if out is None:
                out = {k: np.empty((n, *v.shape), v.dtype) for k, v in example.items()}
            for key, value in example.items():
                out[key][i] = value
    if out is None:
        out = {k: np.empty((0, *shape), dtype) for k, (shape, dtype) in features.items()}
    for key, value in list(out.items()):
        if key.startswith("other/") and value.ndim >= 2 and value.shape[1] == 1:
            out[key] = value[:, 0]
    return out


def read_trajectories(
    folder: str | os.PathLike, split: str, *, limit: int | None = None, dt: float | None = None
) -> Trajectories:
    """Read a split as :class:`Trajectories` (images uint8, states ``x``, ``dx_dt``, params)."""
    raw = read_split(folder, split, limit=limit)
    missing = {"image", "x"} - raw.keys()
    if missing:
        raise DataError(f"{folder}: features {sorted(missing)} missing from {FEATURES_FILE}")
    if dt is None:
        match = re.search(r"_dt_(\d+)_(\d+)$", Path(folder).name)
        dt = float(f"{match.group(1)}.{match.group(2)}") if match else float("nan")
    states = raw["x"]
    dx_dt = raw.get("dx_dt")
    return Trajectories(
        images=raw["image"],
        states=states,
        dx_dt=np.full_like(states, np.nan) if dx_dt is None else dx_dt,
        params={k.split("/", 1)[1]: v for k, v in raw.items() if k.startswith("other/")},
        dt=dt,
    )


# ----------------------------------------------------------------------------------------------
# Writing (to convert locornn data for other tools, and for tests)
# ----------------------------------------------------------------------------------------------


def _encode_png(frames: np.ndarray) -> bytes:
    """(T, H, W, 3) uint8 -> one PNG of the frames stacked to (T*H, W, 3)."""
    from PIL import Image

    stacked = np.ascontiguousarray(frames.reshape((-1,) + frames.shape[-2:]))
    buffer = io.BytesIO()
    Image.fromarray(stacked, mode="RGB" if stacked.shape[-1] == 3 else None).save(buffer, "PNG")
    return buffer.getvalue()


def encode_example(example: dict[str, np.ndarray]) -> dict:
    """{key: array} of ONE trajectory -> {key: (value, tfrecord type)} in the suite's encoding."""
    datum = {}
    for key, value in example.items():
        value = np.asarray(value)
        if value.dtype == np.uint8:
            datum[key] = (_encode_png(value), "byte")
        elif value.dtype.kind == "f":
            datum[key] = (
                value.astype(value.dtype.newbyteorder("<")).reshape(-1).view("<i8"),
                "int",
            )
        else:
            datum[key] = (value.reshape(-1).astype(np.int64), "int")
    return datum


def write_split(folder: str | os.PathLike, split: str, examples: dict[str, np.ndarray]) -> Path:
    """Write {key: (N, *shape)} arrays as ``<folder>/<split>.tfrecord`` and ``features.txt``.

    Float arrays should be float64 (the suite's choice). Keys of nested parameters are
    ``other/<name>`` and, as in the suite, get a leading axis of 1 per trajectory.
    """
    _, writer_module, _ = _tfrecord()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.asarray(v) for k, v in examples.items()}
    for k in arrays:
        if k.startswith("other/"):
            arrays[k] = arrays[k][:, None]
    n = len(next(iter(arrays.values())))
    features = {k: (v.shape[1:], v.dtype) for k, v in arrays.items()}
    features_path = folder / FEATURES_FILE
    text = format_features(features)
    if features_path.exists() and parse_features(features_path.read_text()) != parse_features(text):
        raise ValueError(f"{features_path} exists with different features")
    features_path.write_text(text)
    path = folder / f"{split}.tfrecord"
    writer = writer_module.TFRecordWriter(str(path))
    try:
        for i in range(n):
            writer.write(encode_example({k: v[i] for k, v in arrays.items()}))
    finally:
        writer.close()
    return path


def write_trajectories(folder: str | os.PathLike, split: str, traj: Trajectories) -> Path:
    """Export :class:`Trajectories` in the suite's format (``x``, ``dx_dt`` float64)."""
    examples = {
        "image": traj.images,
        "x": traj.states.astype(np.float64),
        "dx_dt": traj.dx_dt.astype(np.float64),
    }
    for k, v in traj.params.items():
        v = np.asarray(v)
        examples[f"other/{k}"] = v.astype(np.float64) if v.dtype.kind == "f" else v.astype(np.int64)
    return write_split(folder, split, examples)
