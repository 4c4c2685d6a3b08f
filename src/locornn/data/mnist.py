r"""Rotating MNIST: handwritten digits turned in fixed steps, the paper's Figure 1 data.

**Digits.** :func:`load_mnist` returns train and test images ``(N, 28, 28)`` float32 in [0, 1],
integer labels and a ``source`` string, from the first source that is available:

1. a folder of the original IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
   ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzipped (``.gz``) or not; the
   same format serves Fashion-MNIST and KMNIST), named by the ``mnist_dir`` argument or the
   ``LOCORNN_MNIST_DIR`` environment variable. A folder that is named explicitly is always used:
   missing files raise :class:`FileNotFoundError` listing them, and a corrupt file raises
   :class:`ValueError` naming it, rather than falling back to other digits;
2. tensorflow-datasets (``tfds.load("mnist", download=False)``) when the package is importable
   and its prepared data is already on disk; nothing is ever downloaded, and any failure falls
   through to 3;
3. built in and offline: scikit-learn's 8x8 handwritten digits (1797 images, values 0..16),
   scaled bilinearly to 20x20 and centred by centre of mass in 28x28, like MNIST's 20x20 box.
   The first 1500 images are the train split, the last 297 the test split (contiguous blocks, so
   the two splits come largely from different writers).

**Rotation.** :func:`rotate` turns images about their middle ``((H - 1) / 2, (W - 1) / 2)`` (or,
with ``centre="half_size"``, about ``(H / 2, W / 2)`` as the reference's kornia call: half a pixel
down and right, so a digit also drifts by up to a pixel over a turn) by bilinear interpolation,
with zeros outside the source image. A positive angle turns the image
**counter-clockwise as displayed with row 0 at the top** (``imshow``'s default), so
``rotate(x, 90)`` equals ``np.rot90(x)`` for a square image about the middle.
:func:`rotating_sequences` makes frame ``t`` the digit rotated by ``start_deg + t * step_deg``
(18 frames a period at 20 degrees).

**Data set.** :func:`load_rotating_mnist` draws train sequences from train digits and test
sequences from test digits (never the same images), chosen by permutations seeded from ``seed``.
"""

from __future__ import annotations

import functools
import gzip
import os
import pathlib
import zlib
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.ndimage import map_coordinates

from locornn.data.errors import DataError

ENV_VAR = "LOCORNN_MNIST_DIR"

# IDX type codes (third byte of the magic number) and their big-endian numpy types.
_IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_IDX_CODES = {np.dtype(d).newbyteorder("="): c for c, d in _IDX_DTYPES.items()}

# (split, kind) -> file stem; each stem may also end in ".gz" (and some mirrors use a dot).
IDX_FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
DIGITS_TRAIN = 1500  # scikit-learn digits: images [0, 1500) train, [1500, 1797) test


class DigitsUnavailable(DataError, RuntimeError):
    """The source asked for is not on this machine (nothing is ever downloaded)."""


class MNISTData(NamedTuple):
    train_images: np.ndarray  # (N, 28, 28) float32 in [0, 1]
    train_labels: np.ndarray  # (N,) int64
    test_images: np.ndarray  # (M, 28, 28) float32 in [0, 1]
    test_labels: np.ndarray  # (M,) int64
    source: str  # which source was used, with its path


class RotatingDigits(NamedTuple):
    train: np.ndarray  # (num_train, T, H, W, 1) float32 in [0, 1]
    test: np.ndarray  # (num_test, T_test, H, W, 1), from held-out digit images
    source: str


# ----------------------------------------------------------------------------------- IDX files


def read_idx(path) -> np.ndarray:
    """Read one IDX file (gzipped or not, detected from its first bytes) into a numpy array.

    Raises :class:`ValueError` naming the file when the magic number is wrong, the type code is
    unknown, or the data is shorter or longer than the header says (a truncated download).
    """
    path = pathlib.Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path}: corrupt or truncated gzip stream ({error})") from None
    if len(raw) < 4:
        raise DataError(f"{path}: too short for an IDX file ({len(raw)} bytes)")
    zero, code, ndim = raw[:2], raw[2], raw[3]
    if zero != b"\x00\x00" or code not in _IDX_DTYPES or ndim == 0:
        raise DataError(f"{path}: bad IDX magic number 0x{raw[:4].hex()} (expected 0x0000TTDD: "
                         "type code TT in 08/09/0B/0C/0D/0E, DD dimensions)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes, need {header})")
    shape = tuple(int(n) for n in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise DataError(f"{path}: IDX file {what}: {len(raw)} bytes, the header (shape {shape}, "
                         f"{dtype.newbyteorder('=').name}) needs {expected}")
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path, array, compress: bool | None = None) -> pathlib.Path:
    """Write ``array`` as an IDX file; gzipped when ``compress`` (default: the name ends in .gz)."""
    path = pathlib.Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _IDX_CODES:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    code = _IDX_CODES[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    raw = header + np.ascontiguousarray(array, _IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    path.write_bytes(gzip.compress(raw, mtime=0) if compress else raw)
    return path


def _find_idx(folder: pathlib.Path, stem: str) -> pathlib.Path | None:
    dotted = stem.replace("-idx", ".idx")  # e.g. train-images.idx3-ubyte
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def load_idx_folder(folder) -> MNISTData:
    """Read the four MNIST-format IDX files of ``folder`` (MNIST, Fashion-MNIST, KMNIST)."""
    folder = pathlib.Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"MNIST folder {folder} does not exist (set by the mnist_dir "
                                f"argument or ${ENV_VAR})")
    paths = {key: _find_idx(folder, stem) for key, stem in IDX_FILES.items()}
    missing = [IDX_FILES[key] + "[.gz]" for key, p in paths.items() if p is None]
    if missing:
        raise FileNotFoundError(f"MNIST folder {folder} lacks {', '.join(missing)}")
    arrays = {}
    for split in ("train", "test"):
        images_path, labels_path = paths[split, "images"], paths[split, "labels"]
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataError(f"{images_path}: expected uint8 images (N, H, W), got "
                             f"{images.dtype} {images.shape}")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DataError(f"{labels_path}: expected {images.shape[0]} labels to match "
                             f"{images_path.name}, got shape {labels.shape}")
        arrays[split] = (images.astype(np.float32) / 255.0, labels.astype(np.int64))
    return MNISTData(*arrays["train"], *arrays["test"], source=f"IDX files in {folder}")


# ----------------------------------------------------------------------- tensorflow-datasets


def _tfds_data_dir(data_dir=None) -> pathlib.Path:
    if data_dir is None:
        data_dir = os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    return pathlib.Path(data_dir).expanduser()


def load_tfds(data_dir=None) -> MNISTData | None:
    """MNIST from tensorflow-datasets if importable and prepared on disk, else ``None``.

    Never downloads (``download=False``) and never raises: a missing package, missing data or
    any error inside tfds returns ``None`` so that the caller falls through to the next source.
    """
    import importlib.util

    if importlib.util.find_spec("tensorflow_datasets") is None:
        return None
    data_dir = _tfds_data_dir(data_dir)
    if not (data_dir / "mnist").is_dir():  # cheap check before importing tensorflow
        return None
    try:
        import tensorflow_datasets as tfds

        splits = tfds.load("mnist", split=["train", "test"], data_dir=str(data_dir),
                           batch_size=-1, as_supervised=True, download=False)
        (train_x, train_y), (test_x, test_y) = tfds.as_numpy(splits)
    except Exception:  # noqa: BLE001 - any tfds failure means "not available here"
        return None

    def images(x):
        x = np.asarray(x)
        return (x.reshape(x.shape[0], x.shape[1], x.shape[2]).astype(np.float32) / 255.0)

    return MNISTData(images(train_x), np.asarray(train_y, np.int64), images(test_x),
                     np.asarray(test_y, np.int64),
                     source=f"tensorflow-datasets mnist in {data_dir}")


# ---------------------------------------------------------------------- scikit-learn fallback


def _box_and_centre(small: np.ndarray, box: int = 20, size: int = 28) -> np.ndarray:
    """Scale ``(N, h, w)`` images bilinearly to ``box x box``, pad to ``size``, centre by mass."""
    scaled = jax.image.resize(jnp.asarray(small, jnp.float32), (small.shape[0], box, box),
                              "linear")
    scaled = np.clip(np.asarray(scaled), 0.0, 1.0)
    pad = (size - box) // 2
    out = np.zeros((small.shape[0], size, size), np.float32)
    grid = np.arange(box, dtype=np.float64) + pad
    centre = (size - 1) / 2
    for i, image in enumerate(scaled):
        mass = image.sum()
        if mass > 0:  # integer shift bringing the centre of mass to the middle; stays in frame
            dr = int(np.clip(np.rint(centre - image.sum(1) @ grid / mass), -pad, pad))
            dc = int(np.clip(np.rint(centre - image.sum(0) @ grid / mass), -pad, pad))
        else:
            dr = dc = 0
        out[i, pad + dr:pad + dr + box, pad + dc:pad + dc + box] = image
    return out


@functools.lru_cache(maxsize=1)
def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # ships with scikit-learn: no download

    digits = load_digits()
    return _box_and_centre(digits.images / 16.0), digits.target.astype(np.int64)


def load_sklearn_digits() -> MNISTData:
    """scikit-learn's 8x8 digits as 28x28 MNIST look-alikes, with a fixed train/test split."""
    images, labels = (a.copy() for a in _sklearn_digits())  # the cache stays unmodified
    return MNISTData(images[:DIGITS_TRAIN], labels[:DIGITS_TRAIN], images[DIGITS_TRAIN:],
                     labels[DIGITS_TRAIN:],
                     source="scikit-learn 8x8 digits upsampled to 28x28 (built-in fallback, "
                            "not MNIST)")


# ------------------------------------------------------------------------------ all sources


def load_mnist(mnist_dir=None, source: str = "auto", tfds_data_dir=None) -> MNISTData:
    """MNIST-like digits; see the module docstring for the order of sources.

    ``source`` forces one: ``"idx"`` (needs ``mnist_dir`` or ``$LOCORNN_MNIST_DIR``),
    ``"tfds"`` (raises if not available locally), ``"digits"`` (scikit-learn), or ``"auto"``.
    """
    folder = mnist_dir or os.environ.get(ENV_VAR) or None
    if source == "idx" or (source == "auto" and folder):
        if not folder:
            raise DataError(f"source='idx' needs mnist_dir or ${ENV_VAR}")
        return load_idx_folder(folder)
    if source in ("auto", "tfds"):
        data = load_tfds(tfds_data_dir)
        if data is not None:
            return data
        if source == "tfds":
            raise DigitsUnavailable("tensorflow-datasets MNIST is not available locally in "
                                    f"{_tfds_data_dir(tfds_data_dir)} (nothing is downloaded)")
    elif source != "digits":
        raise DataError(f"unknown MNIST source {source!r}: auto, idx, tfds or digits")
    return load_sklearn_digits()


# ---------------------------------------------------------------------------------- rotation


# Where a rotation turns about, in pixel indices of an (H, W) image: the middle of the pixel grid,
# or (H / 2, W / 2) as the reference's kornia call (half a pixel down and right of the middle).
ROTATION_CENTRES = ("middle", "half_size")


def _centre(h: int, w: int, centre: str) -> tuple[float, float]:
    if centre not in ROTATION_CENTRES:
        raise ValueError(f"rotation centre must be one of {ROTATION_CENTRES}, got {centre!r}")
    return ((h - 1) / 2, (w - 1) / 2) if centre == "middle" else (h / 2, w / 2)


def _rotate_one(image: jax.Array, angle_deg: jax.Array, centre: str) -> jax.Array:
    """Rotate one ``(H, W, C)`` image counter-clockwise (as displayed) about ``centre``."""
    h, w = image.shape[:2]
    theta = jnp.deg2rad(jnp.mod(angle_deg, 360.0))
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    cy, cx = _centre(h, w, centre)
    rows, cols = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32),
                              jnp.arange(w, dtype=jnp.float32), indexing="ij")
    x, y = cols - cx, cy - rows  # display coordinates: x right, y up
    # Output pixel d samples the source at R(-theta) d.
    src_x = cos * x + sin * y
    src_y = -sin * x + cos * y
    coords = [cy - src_y, cx + src_x]

    def channel(plane):
        return map_coordinates(plane, coords, order=1, mode="constant", cval=0.0)

    return jax.vmap(channel, in_axes=-1, out_axes=-1)(image)


@functools.partial(jax.jit, static_argnames="centre")
def _rotate_batch(images: jax.Array, angles: jax.Array, centre: str) -> jax.Array:
    return jax.vmap(functools.partial(_rotate_one, centre=centre))(images, angles)


def rotate(images, angles_deg, centre: str = "middle") -> jax.Array:
    """Rotate each image by its angle in degrees, counter-clockwise as displayed (row 0 on top).

    ``images`` is ``(N, H, W)`` or ``(N, H, W, C)``; ``angles_deg`` a scalar or ``(N,)``.
    Bilinear interpolation about the centre (``"middle"``: ``((H - 1) / 2, (W - 1) / 2)`` in
    pixel indices; ``"half_size"``: ``(H / 2, W / 2)``, the reference's), zeros outside the
    source. Returns float32 of the same shape as ``images``.
    """
    images = jnp.asarray(images, jnp.float32)
    squeeze = images.ndim == 3
    if squeeze:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C), got {images.shape}")
    angles = jnp.broadcast_to(jnp.asarray(angles_deg, jnp.float32), images.shape[:1])
    out = _rotate_batch(images, angles, centre)
    return out[..., 0] if squeeze else out


def rotating_sequences(images, num_frames: int, step_deg: float = 20.0, start_deg: float = 0.0,
                       size: int | None = None, centre: str = "middle") -> np.ndarray:
    """Sequences of rotating digits, ``(N, num_frames, H, W, C)`` float32 in [0, 1].

    Frame ``t`` is ``rotate(images, start_deg + t * step_deg, centre)`` (``C = 1`` for ``(N, H, W)``
    input); with ``size`` each frame is then resized bilinearly (antialiased) to
    ``size x size``.
    """
    images = jnp.asarray(images, jnp.float32)
    if images.ndim == 3:
        images = images[..., None]
    num, h, w, c = images.shape
    out_h, out_w = (h, w) if size is None else (size, size)
    out = np.empty((num, num_frames, out_h, out_w, c), np.float32)
    for t in range(num_frames):
        frame = rotate(images, start_deg + t * step_deg, centre)
        if (out_h, out_w) != (h, w):
            frame = jax.image.resize(frame, (num, out_h, out_w, c), "linear", antialias=True)
        out[:, t] = np.clip(np.asarray(frame), 0.0, 1.0)
    return out


# ---------------------------------------------------------------------------------- data set


def _choose(num: int, available: int, seed: int, split: int) -> np.ndarray:
    """``num`` indices into ``available`` images: seeded permutations, concatenated if needed.

    Each image is used once before any is repeated (repeats only when ``num > available``).
    """
    if available == 0 and num > 0:
        raise ValueError("no digit images to draw from")
    rng = np.random.default_rng([seed, split])
    rounds = -(-num // available) if num else 0
    return np.concatenate([rng.permutation(available) for _ in range(rounds)] or
                          [np.zeros(0, np.int64)])[:num]


def load_rotating_mnist(num_train: int, num_test: int, sequence_length: int,
                        image_size: int | None = None, seed: int = 0, mnist_dir=None, *,
                        test_sequence_length: int | None = None, step_deg: float = 20.0,
                        start_deg: float = 0.0, source: str = "auto",
                        digits: MNISTData | None = None,
                        centre: str = "middle") -> RotatingDigits:
    """Rotating-digit sequences: train from train digits, test from held-out test digits.

    Sequences are ``(num, T, image_size, image_size, 1)``, ``T = sequence_length`` for train and
    ``test_sequence_length`` (default: the same) for test, e.g. 72 = 4 periods at 20 degrees.
    Which digits is a pure function of ``seed``. ``digits`` skips loading (already loaded data).
    """
    digits = digits if digits is not None else load_mnist(mnist_dir, source)
    test_length = test_sequence_length or sequence_length
    train_idx = _choose(num_train, len(digits.train_images), seed, 0)
    test_idx = _choose(num_test, len(digits.test_images), seed, 1)
    kwargs = dict(step_deg=step_deg, start_deg=start_deg, size=image_size, centre=centre)
    train = rotating_sequences(digits.train_images[train_idx], sequence_length, **kwargs)
    test = rotating_sequences(digits.test_images[test_idx], test_length, **kwargs)
    about = "" if centre == "middle" else f" about ({centre}: H/2, W/2)"
    description = (f"rotating digits ({step_deg:g} deg/frame counter-clockwise from "
                   f"{start_deg:g} deg{about}) from {digits.source}")
    return RotatingDigits(train, test, description)
