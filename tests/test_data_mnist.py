"""Rotating MNIST: IDX reading, the source order, rotation direction and determinism."""

import gzip
import importlib.machinery
import sys
import types

import jax
import numpy as np
import pytest

from locornn.data import mnist


@pytest.fixture(autouse=True)
def _no_mnist_env(monkeypatch):
    """A developer's own $LOCORNN_MNIST_DIR must not change what these tests read."""
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def digits():
    return mnist.load_sklearn_digits()


def _fake_mnist(rng, num_train=6, num_test=4, size=5):
    images = {s: rng.integers(0, 256, (n, size, size), dtype=np.uint8)
              for s, n in (("train", num_train), ("test", num_test))}
    labels = {s: rng.integers(0, 10, len(images[s])).astype(np.uint8) for s in images}
    return images, labels


def _write_folder(folder, images, labels, gz=("train",)):
    """The four MNIST files; the splits named in ``gz`` gzipped, the others plain."""
    folder.mkdir(exist_ok=True)
    for (split, kind), stem in mnist.IDX_FILES.items():
        array = images[split] if kind == "images" else labels[split]
        mnist.write_idx(folder / (stem + (".gz" if split in gz else "")), array)
    return folder


# ----------------------------------------------------------------------------------- IDX files


@pytest.mark.parametrize("name", ["x-idx3-ubyte", "x-idx3-ubyte.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip_plain_and_gzipped(tmp_path, name, dtype):
    array = (np.random.default_rng(0).integers(-100, 100, (4, 3, 5))).astype(dtype)
    if dtype == np.uint8:
        array = np.abs(array).astype(dtype)
    path = mnist.write_idx(tmp_path / name, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    back = mnist.read_idx(path)
    assert back.dtype == dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_the_mnist_one(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    raw = mnist.write_idx(tmp_path / "l", labels).read_bytes()
    assert raw[:8] == bytes([0, 0, 8, 1, 0, 0, 0, 10])  # magic 2049, 10 items
    images = np.zeros((2, 28, 28), np.uint8)
    raw = mnist.write_idx(tmp_path / "i", images).read_bytes()
    assert int.from_bytes(raw[:4], "big") == 2051 and len(raw) == 16 + 2 * 28 * 28


def test_idx_folder_round_trip_with_mixed_compression(tmp_path):
    images, labels = _fake_mnist(np.random.default_rng(1))
    folder = _write_folder(tmp_path / "m", images, labels, gz=("train",))
    data = mnist.load_idx_folder(folder)
    for split, got_x, got_y in (("train", data.train_images, data.train_labels),
                                ("test", data.test_images, data.test_labels)):
        assert got_x.dtype == np.float32 and got_y.dtype == np.int64
        np.testing.assert_array_equal(np.rint(got_x * 255).astype(np.uint8), images[split])
        np.testing.assert_array_equal(got_y, labels[split])
    assert str(folder) in data.source


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_idx_raises_naming_the_file(tmp_path, gz):
    path = mnist.write_idx(tmp_path / "train-images-idx3-ubyte", np.ones((3, 4, 4), np.uint8))
    raw = path.read_bytes()[:-5]
    path.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*truncated"):
        mnist.read_idx(path)
    if gz:  # a cut gzip stream is an error too
        path.write_bytes(gzip.compress(path.read_bytes())[:-6])
        with pytest.raises(ValueError, match="train-images-idx3-ubyte.*gzip"):
            mnist.read_idx(path)


def test_bad_magic_number_raises_naming_the_file(tmp_path):
    path = mnist.write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(4, dtype=np.uint8))
    raw = bytearray(path.read_bytes())
    raw[0] = 0x12
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.*magic"):
        mnist.read_idx(path)
    raw[0], raw[2] = 0, 0x07  # unknown type code
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.*magic"):
        mnist.read_idx(path)


def test_wrong_kind_of_file_is_an_error(tmp_path):
    images, labels = _fake_mnist(np.random.default_rng(2))
    labels["test"] = labels["test"][:-1]  # one label short
    folder = _write_folder(tmp_path / "m", images, labels)
    with pytest.raises(ValueError, match="t10k-labels"):
        mnist.load_idx_folder(folder)


# ------------------------------------------------------------------------------------ sources


def test_mnist_dir_from_the_environment(tmp_path, monkeypatch):
    images, labels = _fake_mnist(np.random.default_rng(3))
    folder = _write_folder(tmp_path / "fashion", images, labels, gz=("train", "test"))
    monkeypatch.setenv(mnist.ENV_VAR, str(folder))
    data = mnist.load_mnist()
    assert data.source == f"IDX files in {folder}"
    np.testing.assert_array_equal(data.test_labels, labels["test"])


def test_explicit_folder_with_missing_files_raises_listing_them(tmp_path, monkeypatch):
    images, labels = _fake_mnist(np.random.default_rng(4))
    folder = _write_folder(tmp_path / "m", images, labels)
    (folder / "t10k-images-idx3-ubyte").unlink()
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as error:
        mnist.load_mnist(folder)
    assert "t10k-images-idx3-ubyte" in str(error.value)
    assert "train-labels-idx1-ubyte" in str(error.value)
    assert "train-images" not in str(error.value)
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "nowhere"))  # no fallback to the digits
    with pytest.raises(FileNotFoundError, match="nowhere"):
        mnist.load_mnist()


def test_auto_falls_through_to_the_builtin_digits(tmp_path):
    data = mnist.load_mnist(tfds_data_dir=tmp_path)  # no tfds data there
    assert data.source.startswith("scikit-learn")
    with pytest.raises(RuntimeError, match="not available"):
        mnist.load_mnist(source="tfds", tfds_data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown"):
        mnist.load_mnist(source="emnist")


def test_tfds_is_read_without_downloading(tmp_path, monkeypatch):
    # tensorflow_datasets' interface as load_tfds uses it: TensorFlow's protos and the suite
    # reader's cannot share a process (tests/test_data_tfds.py runs the real one in its own)
    tfds = types.ModuleType("tensorflow_datasets")
    tfds.__spec__ = importlib.machinery.ModuleSpec("tensorflow_datasets", None)

    def not_prepared(name, **kwargs):
        raise AssertionError(f"Dataset {name}: could not find data in {kwargs['data_dir']}")

    tfds.load, tfds.as_numpy = not_prepared, None
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", tfds)
    (tmp_path / "mnist").mkdir()  # looks prepared, but holds no data: tfds fails, we fall through
    assert mnist.load_tfds(tmp_path) is None
    calls = []

    def fake_load(name, **kwargs):
        calls.append((name, kwargs))
        x = np.full((3, 28, 28, 1), 255, np.uint8)
        return [(x, np.arange(3)), (x[:2] // 5, np.arange(2))]

    monkeypatch.setattr(tfds, "load", fake_load)
    monkeypatch.setattr(tfds, "as_numpy", lambda tree: tree)
    data = mnist.load_mnist(tfds_data_dir=tmp_path)
    assert calls[0][0] == "mnist" and calls[0][1]["download"] is False
    assert data.source.startswith("tensorflow-datasets")
    assert data.train_images.shape == (3, 28, 28) and data.train_images.max() == 1.0
    np.testing.assert_allclose(data.test_images, 51 / 255)
    np.testing.assert_array_equal(data.test_labels, [0, 1])


def test_builtin_digits_look_like_mnist(digits):
    assert digits.train_images.shape == (mnist.DIGITS_TRAIN, 28, 28)
    assert digits.test_images.shape == (1797 - mnist.DIGITS_TRAIN, 28, 28)
    for images, labels in ((digits.train_images, digits.train_labels),
                           (digits.test_images, digits.test_labels)):
        assert images.dtype == np.float32
        assert images.min() == 0.0 and 0.9 < images.max() <= 1.0
        assert set(labels.tolist()) == set(range(10))
        mass = images.sum((0, 2))  # digits sit in a centred box: empty rows at the top/bottom
        assert mass[0] == 0 and mass[-1] == 0
    rows = np.arange(28)
    com = (digits.train_images.sum(2) @ rows) / digits.train_images.sum((1, 2))
    assert np.all(np.abs(com - 13.5) <= 1.0)  # centred by centre of mass like MNIST
    train = {image.tobytes() for image in digits.train_images}
    assert not any(image.tobytes() in train for image in digits.test_images)  # disjoint


# ---------------------------------------------------------------------------------- rotation


def test_rotation_by_90_is_counter_clockwise_like_rot90():
    image = np.random.default_rng(5).random((2, 9, 9)).astype(np.float32)
    image[:, 0, 1] = 5.0  # asymmetric
    for angle, k in ((90, 1), (-90, -1), (180, 2), (270, 3), (450, 1)):
        got = np.asarray(mnist.rotate(image, angle))
        np.testing.assert_allclose(got, np.rot90(image, k, axes=(1, 2)), atol=1e-4)
    # even size: the centre (13.5, 13.5) lies between pixels, still an exact permutation
    even = np.random.default_rng(6).random((1, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(mnist.rotate(even, 90)),
                               np.rot90(even, 1, axes=(1, 2)), atol=1e-4)
    # a dot to the right of the centre goes up (row 0 is the top)
    dot = np.zeros((1, 9, 9))
    dot[0, 4, 7] = 1
    assert np.asarray(mnist.rotate(dot, 90))[0, 1, 4] == pytest.approx(1, abs=1e-4)


def test_rotation_identities_and_the_centre_pixel():
    rng = np.random.default_rng(7)
    images = rng.random((4, 11, 11, 2)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(mnist.rotate(images, 0.0)), images, atol=1e-6)
    np.testing.assert_allclose(np.asarray(mnist.rotate(images, 360.0)), images, atol=1e-5)
    angles = np.array([13.0, 77.0, 200.0, -31.0])
    rotated = np.asarray(mnist.rotate(images, angles))
    np.testing.assert_allclose(rotated[:, 5, 5], images[:, 5, 5], atol=1e-5)
    for i, angle in enumerate(angles):  # per-image angles, channels rotated alike
        one = np.asarray(mnist.rotate(images[i:i + 1, ..., 1], angle))[0]
        np.testing.assert_allclose(rotated[i, ..., 1], one, atol=1e-6)
    assert rotated.min() >= 0 and rotated.max() <= 1 + 1e-6
    corner = np.asarray(mnist.rotate(np.ones((1, 11, 11)), 45.0))[0]
    assert corner[0, 0] == 0.0 and corner[5, 5] == pytest.approx(1.0)  # zero fill outside


def test_rotating_sequences_frames(digits):
    images = digits.train_images[:3]
    seq = mnist.rotating_sequences(images, 19)
    assert seq.shape == (3, 19, 28, 28, 1) and seq.dtype == np.float32
    for t in (0, 1, 5, 17):
        np.testing.assert_allclose(seq[:, t, ..., 0], np.asarray(mnist.rotate(images, 20.0 * t)),
                                   atol=1e-6)
    np.testing.assert_allclose(seq[:, 18], seq[:, 0], atol=1e-4)  # 18 frames a period
    np.testing.assert_allclose(seq[:, 0, ..., 0], images, atol=1e-6)
    shifted = mnist.rotating_sequences(images, 2, step_deg=-30.0, start_deg=10.0, size=16)
    assert shifted.shape == (3, 2, 16, 16, 1)
    expected = jax.image.resize(mnist.rotate(images, -20.0)[..., None], (3, 16, 16, 1),
                                "linear", antialias=True)
    np.testing.assert_allclose(shifted[:, 1], np.clip(np.asarray(expected), 0, 1), atol=1e-6)


# ---------------------------------------------------------------------------------- data set


def test_rotating_mnist_is_seeded_and_tests_on_held_out_digits(digits):
    kwargs = dict(num_train=6, num_test=3, sequence_length=4, image_size=None, digits=digits,
                  test_sequence_length=7)
    a = mnist.load_rotating_mnist(seed=0, **kwargs)
    b = mnist.load_rotating_mnist(seed=0, **kwargs)
    c = mnist.load_rotating_mnist(seed=1, **kwargs)
    assert a.train.shape == (6, 4, 28, 28, 1) and a.test.shape == (3, 7, 28, 28, 1)
    np.testing.assert_array_equal(a.train, b.train)
    np.testing.assert_array_equal(a.test, b.test)
    assert not np.array_equal(a.train, c.train)
    assert "counter-clockwise" in a.source and "scikit-learn" in a.source

    def index_in(images, frame):
        hits = np.flatnonzero(np.all(np.abs(images - frame) < 1e-6, axis=(1, 2)))
        return hits.tolist()

    for sequence in a.test:  # frame 0 is an unrotated test digit, never a train digit
        assert len(index_in(digits.test_images, sequence[0, ..., 0])) == 1
        assert index_in(digits.train_images, sequence[0, ..., 0]) == []
    firsts = {s[0].tobytes() for s in a.train}
    assert len(firsts) == 6  # distinct digits while there are enough


def test_more_sequences_than_digits_cycles_through_all_of_them():
    idx = mnist._choose(25, 10, seed=3, split=0)
    assert sorted(idx[:10].tolist()) == list(range(10))
    assert sorted(idx[10:20].tolist()) == list(range(10))
    np.testing.assert_array_equal(idx, mnist._choose(25, 10, seed=3, split=0))
    assert mnist._choose(0, 10, 0, 0).shape == (0,)


def test_a_truncated_gzip_in_the_mnist_folder_is_one_line_and_exit_2(tmp_path, monkeypatch,
                                                                     capsys):
    from locornn import cli

    images, labels = _fake_mnist(np.random.default_rng(2))
    folder = _write_folder(tmp_path / "m", images, labels, gz=("train",))
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    monkeypatch.setenv(mnist.ENV_VAR, str(folder))
    code = cli.main(["train", "--config", "rotating_mnist:smoke",
                     "--workdir", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "corrupt or truncated gzip stream" in err and len(err.splitlines()) == 1
