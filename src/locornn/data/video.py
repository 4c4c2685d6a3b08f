r"""Sequences from your own recordings (``data.name = "video"``) and from tensorflow-datasets
(``data.name = "tfds"``, :mod:`locornn.data.tfds_sequences`).

**Recordings.** ``data.path`` names one of

* a ``.npy`` array ``(N, T, H, W)`` or ``(N, T, H, W, C)`` (``N`` recordings of ``T`` frames;
  ``(T, H, W)`` is one recording), memory-mapped: only the frames of a batch are read, through a
  map opened for that read and closed after it, so a recording larger than memory trains;
* a ``.npz`` archive holding such an array (the only one, or the one named ``data.feature``),
  read into memory (an archive member cannot be memory-mapped: save large data as ``.npy``);
* a folder of frame files (``.png``, one recording, frames in natural order: ``f2`` before
  ``f10``), or a folder of per-recording subfolders of frames and/or video files;
* a ``.gif`` (read by Pillow) or ``.mp4``/``.avi``/``.mov``/``.mkv``/``.webm`` video (read by
  imageio with its ffmpeg plugin: the optional extra ``pip install 'locornn[video]'``).

Channels ``C`` are 1 (grey) or 3 (RGB); PNG and GIF frames with a palette or alpha are read as
RGB, 16-bit PNGs keep their ``uint16`` values.

**Values.** ``data.scaling`` says how frames become [0, 1]: ``"dtype"`` divides unsigned
integers by their type's maximum (``uint8``: 255), keeps booleans as 0/1, and takes floats as
they are, which must then lie in [0, 1]; ``"minmax"`` maps the smallest value in the data to 0
and the largest to 1 (any numeric type; signed integers need it). Every value is read once
before training (in chunks, not through the memory map) to check it: NaN or Inf, values
outside [0, 1] under ``"dtype"``, and data that is one constant are refused.

**Frames.** A frame that is not square is cropped about its middle to a square, then resized
to ``data.image_size`` (bilinear, anti-aliased: ``jax.image.resize``).

**Windows and split.** Each recording is cut into training windows of ``data.sequence_length``
frames starting every ``data.window_stride`` frames (0: back to back). The held-out frames are
the last ``data.test_fraction`` of all frames, in file order (with many recordings: the last
recordings; with one: its end), cut into back-to-back windows of ``data.test_sequence_length``
(or ``data.sequence_length``) frames; no window crosses the cut or a recording's end, so no
training window shares a frame with a held-out one. ``data.test_path`` gives the held-out
recordings explicitly instead. ``data.num_train`` and ``data.num_test`` > 0 keep that many
windows, evenly spaced over the split; 0 keeps all.

Bad files end in one :class:`~locornn.data.errors.DataError` line that names the file and the
fix, raised before anything is written.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import os
import pathlib
import re
import zipfile
from collections.abc import Callable, Iterator

import jax
import numpy as np

from locornn.data.errors import DataError
from locornn.data.waves import OnDemand

SCALINGS = ("dtype", "minmax")
FRAME_SUFFIXES = (".png",)
GIF_SUFFIXES = (".gif",)
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
ARRAY_SUFFIXES = (".npy", ".npz")
CHUNK_BYTES = 1 << 26  # values checked per read of the validation pass (64 MiB)


@dataclasses.dataclass(frozen=True)
class Recordings:
    """Frames of recordings as stored, before windowing: ``read(r, start, stop)`` returns
    frames ``start:stop`` of recording ``r``, ``(stop - start, H, W, C)`` in ``dtype``."""

    where: str  # the file or folder, for messages and the record
    lengths: tuple[int, ...]  # frames per recording
    frame_shape: tuple[int, int, int]  # (H, W, C)
    dtype: np.dtype
    read: Callable[[int, int, int], np.ndarray]
    chunks: Callable[[], Iterator[np.ndarray]]  # every stored value once, in storage order


@dataclasses.dataclass(frozen=True)
class Stats:
    """What the validation pass found: range and a digest of every stored byte."""

    low: float
    high: float
    digest: str


# --------------------------------------------------------------------------------- reading


def _natural_key(path: pathlib.Path):
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r"(\d+)", path.name)]


def _shape_of(where: str, shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, ...]:
    """``(N, T, H, W, C)`` of an array of ``shape``; refuses what is not frames."""
    if dtype.kind not in "buif" or dtype.fields is not None:
        raise DataError(f"{where} holds {dtype} values, not numbers: frames must be a numeric "
                        f"array (bool, integer or float)")
    if len(shape) == 3:
        shape = (1, *shape)  # (T, H, W): one recording
    if len(shape) == 4:
        if shape[-1] <= 4 < shape[-2]:
            raise DataError(f"{where} has shape {shape}: read as (N, T, H, W) its frames would be "
                            f"{shape[-1]} pixels wide; one colour recording (T, H, W, C) must be "
                            f"saved as (1, T, H, W, C)")
        shape = (*shape, 1)
    if len(shape) != 5:
        raise DataError(f"{where} has shape {shape} (rank {len(shape)}): frames must be an array "
                        f"(N, T, H, W) or (N, T, H, W, C), or (T, H, W) for one recording")
    if shape[-1] not in (1, 3):
        raise DataError(f"{where} has {shape[-1]} channels (shape {shape}): frames must have 1 "
                        f"(grey) or 3 (RGB)")
    if min(shape) < 1 or min(shape[2:4]) < 2:
        raise DataError(f"{where} has shape {shape}: it needs at least one recording, one frame "
                        f"and frames of at least 2x2 pixels")
    return shape


def _read_npy(path: pathlib.Path) -> Recordings:
    try:
        header = np.load(path, mmap_mode="r")
    except (ValueError, OSError, EOFError) as error:
        detail = " ".join(str(error).split())
        if "Python objects" in detail or "allow_pickle" in detail:
            detail = "it holds Python objects (a pickled object array), not numbers"
        raise DataError(f"{path} cannot be read as a NumPy .npy array ({detail}); write it "
                        f"with numpy.save from a numeric array") from None
    if not isinstance(header, np.memmap):
        raise DataError(f"{path} is not a .npy array file; write it with numpy.save")
    shape = _shape_of(str(path), header.shape, header.dtype)
    dtype, offset = header.dtype, header.offset
    order = "F" if header.flags.f_contiguous and not header.flags.c_contiguous else "C"
    nbytes = int(header.nbytes)
    del header  # the map is opened per read (below): reading never keeps the file resident

    def read(r: int, start: int, stop: int) -> np.ndarray:
        frames = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
        try:
            return np.array(frames[r, start:stop])
        finally:
            frames._mmap.close()  # release the pages now, not when garbage is collected

    def chunks() -> Iterator[np.ndarray]:
        step = max(CHUNK_BYTES // dtype.itemsize, 1) * dtype.itemsize
        with path.open("rb") as handle:
            handle.seek(offset)
            left = nbytes
            while left:
                raw = handle.read(min(step, left))
                if not raw:
                    raise DataError(f"{path} is truncated ({left} bytes of frames missing); "
                                    f"write it again with numpy.save")
                left -= len(raw)
                yield np.frombuffer(raw, dtype=dtype)

    return Recordings(str(path), (shape[1],) * shape[0], shape[2:], dtype, read, chunks)


def in_memory(where: str, recordings: list[np.ndarray]) -> Recordings:
    """Recordings held in memory, each ``(T, H, W, C)`` (or ``(T, H, W)``: grey)."""
    recordings = [np.ascontiguousarray(r if r.ndim != 3 else r[..., None]) for r in recordings]
    shapes = sorted({r.shape[1:] for r in recordings})
    if len(shapes) > 1:
        raise DataError(f"{where} has frames of different sizes {shapes} (H, W, C): every "
                        f"recording must have one frame size")
    dtype = recordings[0].dtype
    _shape_of(where, (len(recordings), 1, *shapes[0]), dtype)

    def read(r: int, start: int, stop: int) -> np.ndarray:
        return recordings[r][start:stop]

    def chunks() -> Iterator[np.ndarray]:
        for recording in recordings:
            yield recording.reshape(-1)

    return Recordings(where, tuple(len(r) for r in recordings), recordings[0].shape[1:], dtype,
                      read, chunks)


def array_recordings(where: str, array: np.ndarray) -> Recordings:
    """Recordings held in memory as one array ``(N, T, H, W[, C])`` (or ``(T, H, W)``)."""
    array = np.asarray(array)
    shape = _shape_of(where, array.shape, array.dtype)
    return in_memory(where, list(array.reshape(shape)))


def _read_npz(path: pathlib.Path, feature: str) -> Recordings:
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if feature:
                if feature not in names:
                    raise DataError(f"{path} has no array {feature!r} (data.feature); it holds "
                                    f"{', '.join(names) or 'nothing'}")
                name = feature
            elif len(names) == 1:
                name = names[0]
            else:
                raise DataError(f"{path} holds {len(names)} arrays ({', '.join(names) or 'none'}): "
                                f"name the one with the frames by data.feature")
            array = archive[name]
    except DataError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        detail = " ".join(str(error).split())
        if "allow_pickle" in detail:
            detail = "it holds Python objects (a pickled object array), not numbers"
        raise DataError(f"{path} cannot be read as a NumPy .npz archive ({detail}); write it "
                        f"with numpy.savez from a numeric array") from None
    return array_recordings(f"{path}[{name}]", array)


def _image_array(image, where: pathlib.Path) -> np.ndarray:
    """One Pillow frame as ``(H, W, C)``: grey stays grey, palettes and alpha become RGB."""
    if image.mode in ("1", "LA"):
        image = image.convert("L")
    elif image.mode in ("P", "PA", "RGBA", "CMYK", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3):
        raise DataError(f"{where}: a frame of mode {image.mode} is neither grey nor RGB")
    return array


def _read_frames(folder: pathlib.Path, files: list[pathlib.Path]) -> np.ndarray:
    from PIL import Image

    frames = []
    for path in files:
        try:
            with Image.open(path) as image:
                image.load()
                frame = _image_array(image, path)
        except (OSError, SyntaxError, ValueError) as error:
            raise DataError(f"{path} cannot be read as an image ({error}); remove or replace "
                            f"it") from None
        if frames and frame.shape != frames[0].shape:
            raise DataError(f"{path} is {_size(frame)} but {files[0].name} in the same folder is "
                            f"{_size(frames[0])}: every frame of {folder} must have one size and "
                            f"one colour mode")
        frames.append(frame)
    return np.stack(frames)


def _size(frame: np.ndarray) -> str:
    return f"{frame.shape[1]}x{frame.shape[0]} pixels with {frame.shape[2]} channel(s)"


def _read_gif(path: pathlib.Path) -> np.ndarray:
    from PIL import Image, ImageSequence

    try:
        with Image.open(path) as image:
            frames = [_image_array(frame.convert("RGB"), path)
                      for frame in ImageSequence.Iterator(image)]
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(f"{path} cannot be read as a GIF ({error}); remove or replace it"
                        ) from None
    return np.stack(frames)


def _read_video(path: pathlib.Path) -> np.ndarray:
    try:
        import imageio.v3 as iio
    except ImportError:
        raise DataError(f"reading {path} needs imageio and its ffmpeg plugin: pip install "
                        f"'locornn[video]' (or convert the video to a .npy array or PNG frames)"
                        ) from None
    try:
        frames = iio.imread(path, index=None, plugin="FFMPEG")
    except Exception as error:  # noqa: BLE001 - ffmpeg's failures have no common type
        detail = " ".join(str(error).split())[:200]
        raise DataError(f"{path} cannot be read as a video ({detail}); remove or replace it"
                        ) from None
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[..., None]
    return frames


def _read_folder(folder: pathlib.Path) -> Recordings:
    entries = sorted((p for p in folder.iterdir() if not p.name.startswith(".")),
                     key=_natural_key)
    frames = [p for p in entries if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES]
    videos = [p for p in entries if p.is_file()
              and p.suffix.lower() in GIF_SUFFIXES + VIDEO_SUFFIXES]
    folders = [p for p in entries if p.is_dir()]
    if frames and (videos or folders):
        raise DataError(f"{folder} mixes frame files with videos or subfolders: give one "
                        f"recording's frames per folder, or one folder of recordings")
    if frames:
        recordings, names = [_read_frames(folder, frames)], [folder]
    else:
        recordings, names = [], []
        for path in folders + videos:
            if path.is_dir():
                files = sorted((p for p in path.iterdir() if p.is_file()
                                and p.suffix.lower() in FRAME_SUFFIXES), key=_natural_key)
                if not files:
                    continue
                recordings.append(_read_frames(path, files))
            else:
                recordings.append(_read_single(path))
            names.append(path)
    if not recordings:
        raise DataError(f"{folder} holds no frames: put PNG frames in it (one recording), or "
                        f"one subfolder of PNG frames or one GIF/MP4 file per recording")
    for name, recording in zip(names, recordings, strict=True):
        if recording.shape[1:] != recordings[0].shape[1:]:
            raise DataError(f"{name} has frames of {_size(recording[0])} but {names[0]} has "
                            f"{_size(recordings[0][0])}: every recording in {folder} must have "
                            f"one frame size and one colour mode")
        if recording.dtype != recordings[0].dtype:
            raise DataError(f"{name} holds {recording.dtype} frames but {names[0]} holds "
                            f"{recordings[0].dtype}: save every recording with one bit depth")
    return in_memory(str(folder), recordings)


def _read_single(path: pathlib.Path) -> np.ndarray:
    if path.suffix.lower() in GIF_SUFFIXES:
        return _read_gif(path)
    return _read_video(path)


def read_recordings(path: str | os.PathLike, feature: str = "") -> Recordings:
    """The recordings at ``path`` (a file or folder, see the module docstring)."""
    path = pathlib.Path(path).expanduser()
    if not path.exists():
        raise DataError(f"data.path {str(path)!r} does not exist: give a .npy/.npz array, a "
                        f"folder of frames or a GIF/MP4 video")
    if path.is_dir():
        return _read_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _read_npy(path)
    if suffix == ".npz":
        return _read_npz(path, feature)
    if suffix in GIF_SUFFIXES + VIDEO_SUFFIXES:
        return in_memory(str(path), [_read_single(path)])
    raise DataError(f"{path}: unknown kind of file {suffix or '(no suffix)'!r}; give a .npy or "
                    f".npz array, a folder of PNG frames, or a "
                    f"{'/'.join(s[1:] for s in GIF_SUFFIXES + VIDEO_SUFFIXES)} video")


# ------------------------------------------------------------------------------ validation


def scan(recordings: Recordings, scaling: str) -> Stats:
    """Read every value once: its range and a SHA-256 of every stored byte.

    Raises :class:`DataError` for NaN/Inf, constant data, and (``scaling = "dtype"``) floats
    outside [0, 1] or signed integers (no [0, 1] range by their type).
    """
    where, dtype = recordings.where, recordings.dtype
    if scaling == "dtype" and dtype.kind == "i":
        raise DataError(f"{where} holds signed integers ({dtype}), which have no [0, 1] range by "
                        f"their type: set data.scaling=minmax (the data's min -> 0, max -> 1)")
    digest = hashlib.sha256(repr((recordings.lengths, recordings.frame_shape,
                                  dtype.str)).encode())
    low, high, bad = math.inf, -math.inf, 0
    for chunk in recordings.chunks():
        digest.update(np.ascontiguousarray(chunk))  # (no copy of a contiguous chunk)
        if chunk.size == 0:
            continue
        if dtype.kind == "f":
            finite = np.isfinite(chunk)
            if not finite.all():
                bad += int(chunk.size - np.count_nonzero(finite))
                chunk = chunk[finite]
                if chunk.size == 0:
                    continue
        low, high = min(low, float(chunk.min())), max(high, float(chunk.max()))
    if bad:
        raise DataError(f"{where} has {bad} NaN or Inf value(s): replace or drop those frames "
                        f"(e.g. numpy.nan_to_num) before training")
    if not high > low:
        raise DataError(f"{where} is one constant value ({low:g}) everywhere: there is nothing "
                        f"to predict; check that the right file or array was saved")
    if scaling == "dtype" and dtype.kind == "f" and (low < 0 or high > 1):
        raise DataError(f"{where} has values in [{low:g}, {high:g}], outside [0, 1] that "
                        f"data.scaling=dtype takes floats to lie in: set data.scaling=minmax, or "
                        f"scale the frames to [0, 1]")
    return Stats(low, high, digest.hexdigest()[:16])


def scale_range(dtype: np.dtype, stats: Stats, scaling: str) -> tuple[float, float]:
    """``(offset, span)``: a stored value ``x`` becomes ``(x - offset) / span`` in [0, 1]."""
    if scaling == "minmax":
        return stats.low, stats.high - stats.low
    if dtype.kind == "u":
        return 0.0, float(np.iinfo(dtype).max)
    return 0.0, 1.0  # bool, or floats already in [0, 1]


# ------------------------------------------------------------------------ windows and split


def split_windows(train_lengths, train_length: int, stride: int, test_length: int,
                  test_fraction: float, test_lengths=None):
    """``(train, test)`` lists of ``(recording, start)`` windows (module docstring).

    With ``test_lengths`` (explicit held-out recordings) the training recordings are used
    whole and the held-out windows index ``test_lengths``' recordings.
    """
    total = sum(train_lengths)
    cut = total if test_lengths is not None else total - math.ceil(test_fraction * total)
    train, test, offset = [], [], 0
    for r, n in enumerate(train_lengths):
        end = min(n, max(cut - offset, 0))  # frames [0, end) of recording r are for training
        train += [(r, s) for s in range(0, end - train_length + 1, stride)]
        if test_lengths is None:
            test += [(r, s) for s in range(end, n - test_length + 1, test_length)]
        offset += n
    if test_lengths is not None:
        for r, n in enumerate(test_lengths):
            test += [(r, s) for s in range(0, n - test_length + 1, test_length)]
    return train, test


def _evenly(windows: list, count: int) -> list:
    if not count or count >= len(windows):
        return windows
    return [windows[i] for i in np.unique(np.linspace(0, len(windows) - 1, count).astype(int))]


@functools.partial(jax.jit, static_argnums=(1,))
def _resize(frames, shape):
    return jax.image.resize(frames, shape, method="linear", antialias=True)


def _sequences(recordings: Recordings, windows: list, length: int, size: int,
               offset: float, span: float) -> OnDemand:
    """The windows as an on-demand split ``(num, length, size, size, C)`` float32 in [0, 1]."""
    height, width, channels = recordings.frame_shape
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    starts = np.asarray(windows, dtype=np.int64).reshape(-1, 2)

    def make_rows(rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros((0, length, size, size, channels), np.float32)
        raw = np.stack([recordings.read(int(r), int(s), int(s) + length)
                        for r, s in starts[np.asarray(rows)]])
        frames = (raw[:, :, top:top + side, left:left + side].astype(np.float32) - offset) / span
        if side != size:
            frames = np.asarray(_resize(frames, (len(rows), length, size, size, channels)))
        return np.clip(frames, 0.0, 1.0)

    return OnDemand(make_rows, len(starts), (length, size, size, channels))


@dataclasses.dataclass(frozen=True)
class Splits:
    train: OnDemand
    test: OnDemand
    stats: tuple[Stats, ...]  # of the recordings read (train file, and test file if any)
    description: str


def build_splits(data_config, train: Recordings, test: Recordings | None = None,
                 what: str | None = None) -> Splits:
    """Check, window and split recordings as ``data_config`` says (module docstring)."""
    dc = data_config
    what = what or train.where
    if test is not None and (test.frame_shape, test.dtype) != (train.frame_shape, train.dtype):
        raise DataError(f"the held-out recordings {test.where} have {test.dtype} frames "
                        f"{test.frame_shape} (H, W, C) but {train.where} has {train.dtype} "
                        f"frames {train.frame_shape}: they must agree")
    stats = [scan(train, dc.scaling)]
    if test is not None:
        stats.append(scan(test, dc.scaling))
    low, high = min(s.low for s in stats), max(s.high for s in stats)
    offset, span = scale_range(train.dtype, Stats(low, high, ""), dc.scaling)
    length = dc.sequence_length
    test_length = dc.test_sequence_length or length
    train_windows, test_windows = split_windows(
        train.lengths, length, dc.window_stride or length, test_length, dc.test_fraction,
        None if test is None else test.lengths)
    train_windows = _evenly(train_windows, dc.num_train)
    test_windows = _evenly(test_windows, dc.num_test)
    frames = f"{sum(train.lengths)} frames in {len(train.lengths)} recording(s)"
    if not test_windows:
        held = (f"{test.where} ({sum(test.lengths)} frames, longest recording "
                f"{max(test.lengths)})" if test is not None
                else f"data.test_fraction = {dc.test_fraction:g} of its {frames}")
        raise DataError(f"{what}: the held-out split is empty: {held} gives no window of "
                        f"{test_length} frames; raise data.test_fraction, shorten "
                        f"data.test_sequence_length or give data.test_path")
    return Splits(
        _sequences(train, train_windows, length, dc.image_size, offset, span),
        _sequences(test if test is not None else train, test_windows, test_length,
                   dc.image_size, offset, span),
        tuple(stats),
        f"{what}: {frames}, {len(train_windows)} training windows of {length} frames and "
        f"{len(test_windows)} held-out windows of {test_length}, values "
        f"{'min-max' if dc.scaling == 'minmax' else 'by dtype'} to [0, 1]")


def load(data_config) -> Splits:
    """``data.name = "video"``: the recordings at ``data.path`` (and ``data.test_path``)."""
    if not data_config.path:
        raise DataError("data.name = 'video' reads your recordings: set data.path to a "
                        ".npy/.npz array, a folder of frames or a video")
    train = read_recordings(data_config.path, data_config.feature)
    test = (read_recordings(data_config.test_path, data_config.feature)
            if data_config.test_path else None)
    return build_splits(data_config, train, test)
