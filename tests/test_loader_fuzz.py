"""Fuzzing the data loaders: damaged files are one line and exit 2, or a regenerated cache.

Specification: random bytes, truncations and valid headers with wrong sizes in an MNIST-format
IDX folder or in the Hamiltonian suite's published files (``features.txt`` and TFRecords) end,
through the command line's guard, in exit 2 and one line naming the file, never a traceback;
a damaged cache entry of generated trajectories is never used: loading it raises
:class:`~locornn.data.hamiltonian.cache.CacheCorrupt` (and nothing else), so it is regenerated.
"""

import shutil
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locornn import cli
from locornn.data import hamiltonian, mnist
from locornn.data.hamiltonian import cache
from locornn.exits import guarded

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _one_line_exit_2(action, capsys, named):
    code = guarded(action)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("locornn: "), err
    assert named in err, err


@st.composite
def damage(draw, size: int, kinds=("overwrite", "truncate", "append"), region=None):
    """How a file of ``size`` bytes is damaged: random bytes over part of it (starting in
    ``region``, the bytes a reader checks), cut short, random bytes appended, or random bytes
    in place of the whole file."""
    kind = draw(st.sampled_from(kinds))
    if kind == "truncate":
        return kind, draw(st.integers(0, size - 1)), b""
    if kind == "append":
        return kind, size, draw(st.binary(min_size=1, max_size=64))
    if kind == "replace":
        return kind, 0, draw(st.binary(max_size=256))
    low, high = region or (0, size)
    return kind, draw(st.integers(low, high - 1)), draw(st.binary(min_size=1, max_size=64))


def _apply(path, how):
    kind, at, garbage = how
    raw = path.read_bytes()
    if kind == "overwrite":  # the first byte always changes
        garbage = bytes([raw[at] ^ (garbage[0] | 1)]) + garbage[1:]
        raw = raw[:at] + garbage + raw[at + len(garbage):]
    elif kind == "truncate":
        raw = raw[:at]
    elif kind == "append":
        raw = raw + garbage
    else:
        raw = garbage if garbage != raw else raw + b"\x00"
    path.write_bytes(raw)


# ------------------------------------------------------------------------------------------
# IDX


def _mnist_folder(folder):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for (split, kind), stem in mnist.IDX_FILES.items():
        num = 6 if split == "train" else 4
        array = rng.integers(0, 256, (num, 5, 5), dtype=np.uint8) if kind == "images" \
            else rng.integers(0, 10, num).astype(np.uint8)
        mnist.write_idx(folder / (stem + (".gz" if split == "test" else "")), array)
    return folder


@FUZZ
@given(data=st.data(), target=st.sampled_from(sorted(mnist.IDX_FILES.values())))
def test_a_damaged_idx_file_is_one_line_and_exit_2(tmp_path_factory, capsys, data, target):
    folder = _mnist_folder(tmp_path_factory.mktemp("idx"))
    path = next(folder.glob(target + "*"))
    size = len(path.read_bytes())
    # IDX has no checksum: a plain file's pixels may be any bytes, its magic may not; a
    # gzipped file's deflate stream and trailer are checked (not its header's time stamp)
    region = (10, size - 9) if path.suffix == ".gz" else (0, 2)
    _apply(path, data.draw(damage(size, region=region)))
    _one_line_exit_2(lambda: mnist.load_idx_folder(folder), capsys, path.name)


@FUZZ
@given(shape=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4),
       payload=st.integers(0, 600))
def test_an_idx_header_whose_sizes_do_not_match_its_data_is_one_line(tmp_path_factory, capsys,
                                                                     shape, payload):
    size = int(np.prod(shape, dtype=object))
    if size == payload:
        payload += 1
    path = tmp_path_factory.mktemp("idx") / "train-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
                     + bytes(payload))
    _one_line_exit_2(lambda: mnist.read_idx(path), capsys, path.name)


@pytest.mark.parametrize("mismatch", ["labels", "dtype", "ndim"])
def test_idx_files_that_do_not_belong_together_are_one_line(tmp_path, capsys, mismatch):
    folder = _mnist_folder(tmp_path / "mnist")
    labels = folder / "train-labels-idx1-ubyte"
    images = folder / "train-images-idx3-ubyte"
    if mismatch == "labels":  # 5 labels for 6 images
        mnist.write_idx(labels, np.zeros(5, np.uint8))
    elif mismatch == "dtype":
        mnist.write_idx(images, np.zeros((6, 5, 5), np.float32))
    else:
        mnist.write_idx(images, np.zeros((6, 25), np.uint8))
    _one_line_exit_2(lambda: mnist.load_idx_folder(folder), capsys, "train-")


def test_a_damaged_idx_folder_through_the_command_line_is_one_line_and_writes_no_run(
        tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    folder = _mnist_folder(tmp_path / "mnist")
    _apply(folder / "train-images-idx3-ubyte", ("truncate", 30, b""))
    code = cli.main(["train", "--config", "rotating_mnist:smoke",
                     "--workdir", str(tmp_path / "run"), "--quiet",
                     f"--config.data.mnist_dir={folder}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "truncated" in err, err
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------------
# The suite's published files


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    pytest.importorskip("tfrecord.writer", reason="needs the 'suite' extra")
    from locornn.data.hamiltonian import generate, suite_format

    root = tmp_path_factory.mktemp("suite")
    folder = root / suite_format.folder_name("pendulum")
    for split in ("train", "test"):
        suite_format.write_trajectories(
            folder, split, generate.generate("pendulum", num=2, num_steps=7, seed=0,
                                             split=split))
    return folder


def _load_suite(folder):
    return hamiltonian.load_dataset("pendulum", num_train=2, num_test=2, train_steps=7,
                                    test_steps=7, seed=0, cache_dir=folder.parent / "unused",
                                    suite_dir=folder, progress=False)


@FUZZ
@given(data=st.data(), target=st.sampled_from(["train.tfrecord", "test.tfrecord",
                                               "features.txt"]))
def test_a_damaged_suite_file_is_one_line_and_exit_2(tmp_path_factory, capsys, suite, data,
                                                     target):
    folder = tmp_path_factory.mktemp("copy") / suite.name
    shutil.copytree(suite, folder)
    path = folder / target
    # features.txt is text without a checksum: a file of random bytes (a cut or an edit may
    # leave a valid, smaller feature list); the TFRecords' CRCs catch any change
    kinds = ("replace",) if target == "features.txt" else ("overwrite", "truncate", "append")
    _apply(path, data.draw(damage(len(path.read_bytes()), kinds)))
    _one_line_exit_2(lambda: _load_suite(folder), capsys, str(folder))


@pytest.mark.parametrize("wrong", ["record length", "frames", "features"])
def test_suite_headers_with_wrong_sizes_are_one_line(tmp_path, capsys, suite, wrong):
    from locornn.data.hamiltonian import suite_format

    folder = tmp_path / suite.name
    shutil.copytree(suite, folder)
    if wrong == "record length":  # a valid length CRC over a wrong length
        path = folder / "train.tfrecord"
        raw = bytearray(path.read_bytes())
        (length,) = struct.unpack("<Q", raw[:8])
        header = struct.pack("<Q", length + 7)
        masked_crc = suite_format._tfrecord()[1].TFRecordWriter.masked_crc
        raw[:12] = header + masked_crc(header)
        path.write_bytes(bytes(raw))
    else:
        path = folder / "features.txt"
        text = path.read_text()
        text = text.replace("(8, 32, 32, 3)", "(9, 32, 32, 3)") if wrong == "frames" else \
            text.replace("(8, 32, 32, 3)", "(4000000000, 32, 32, 3)")
        path.write_text(text)
    _one_line_exit_2(lambda: _load_suite(folder), capsys, str(folder))


# ------------------------------------------------------------------------------------------
# The cache of generated trajectories


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    _, entry, _ = cache.cached_generate("pendulum", split="train", num=2, num_steps=5, seed=0,
                                        cache_dir=root)
    return entry, cache.cache_args("pendulum", "train", 2, 5, 0)


@FUZZ
@given(data=st.data(), target=st.sampled_from([cache.METADATA_FILE, cache.DATA_FILE,
                                               cache.IMAGES_FILE]))
def test_a_damaged_cache_entry_is_only_ever_reported_as_corrupt(tmp_path_factory, cached, data,
                                                                target):
    entry, args = cached
    copy = tmp_path_factory.mktemp("entry") / entry.name
    shutil.copytree(entry, copy)
    path = copy / target
    # metadata.json is JSON (an edit of its time stamp changes nothing that matters); the data
    # files are checked against their SHA-256
    kinds = ("replace", "truncate") if target == cache.METADATA_FILE else \
        ("overwrite", "truncate", "append")
    _apply(path, data.draw(damage(len(path.read_bytes()), kinds)))
    with pytest.raises(cache.CacheCorrupt):
        cache.load(copy, args)


def test_a_cache_entry_with_a_valid_header_of_the_wrong_shape_is_corrupt(tmp_path, cached):
    import json

    entry, args = cached
    copy = tmp_path / entry.name
    shutil.copytree(entry, copy)
    images = np.load(copy / cache.IMAGES_FILE)
    np.save(copy / cache.IMAGES_FILE, images[:1])  # a whole .npy, one trajectory short
    metadata = json.loads((copy / cache.METADATA_FILE).read_text())
    metadata["files"][cache.IMAGES_FILE] = {
        "sha256": cache.sha256_file(copy / cache.IMAGES_FILE),
        "bytes": (copy / cache.IMAGES_FILE).stat().st_size}
    (copy / cache.METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(cache.CacheCorrupt, match="images"):
        cache.load(copy, args)
