"""Reading (and writing) the Hamiltonian Dynamics Suite's published TFRecord files."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from PIL import Image

from locornn.data.hamiltonian import load_dataset, suite_format
from locornn.data.hamiltonian.generate import generate


@pytest.fixture
def needs_extra():
    """Tests that write TFRecords need the 'suite' extra (`pip install 'locornn[suite]'`)."""
    return pytest.importorskip("tfrecord.writer", reason="needs the 'suite' extra")


T = 6  # frames per trajectory in the hand-made files


def suite_style_pendulum(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """n trajectories shaped like the suite's pendulum examples."""
    return {
        "image": rng.integers(0, 256, (n, T, 32, 32, 3), dtype=np.uint8),
        "x": rng.normal(size=(n, T, 2)),
        "dx_dt": rng.normal(size=(n, T, 2)),
        "other/m": rng.uniform(size=(n, 1)),
        "other/offset": rng.uniform(size=(n, 1, 2)),
        "other/color_index": rng.integers(0, 6, (n, 1, 1)),
    }


def write_like_the_suite(folder, split: str, data: dict[str, np.ndarray]) -> None:
    """Write a data set the way the suite's datasets.py does, without locornn's writer:
    features.txt lines 'key, shape, dtype' (int32 promoted and printed as the suite prints
    it), one tf.train.Example per trajectory, frames as ONE PNG stacked to (T*32, 32, 3),
    float64 stored as int64 bit patterns."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for key, value in data.items():
        dtype = "<class 'numpy.int64'>" if value.dtype.kind == "i" else value.dtype.name
        lines.append(f"{key}, {value.shape[1:]}, {dtype}\n")
    (folder / "features.txt").write_text("".join(lines))
    import tfrecord.writer

    writer = tfrecord.writer.TFRecordWriter(str(folder / f"{split}.tfrecord"))
    for i in range(len(data["x"])):
        datum = {}
        for key, value in data.items():
            v = value[i]
            if v.dtype == np.uint8:
                buffer = io.BytesIO()
                Image.fromarray(v.reshape(-1, 32, 3)).save(buffer, "PNG")
                datum[key] = (buffer.getvalue(), "byte")
            elif v.dtype.kind == "f":
                datum[key] = (v.reshape(-1).view(np.int64), "int")
            else:
                datum[key] = (v.reshape(-1).astype(np.int64), "int")
        writer.write(datum)
    writer.close()


@pytest.fixture
def suite_folder(tmp_path, needs_extra):
    rng = np.random.default_rng(0)
    folder = tmp_path / "toy_physics" / "pendulum_dt_0_05"
    train, test = suite_style_pendulum(rng, 3), suite_style_pendulum(rng, 2)
    write_like_the_suite(folder, "train", train)
    write_like_the_suite(folder, "test", test)
    return folder, train, test


def test_reader_recovers_a_file_written_in_the_suite_format(suite_folder):
    """Images, float64 bit patterns and int parameters come back exactly; the per-trajectory
    leading axis of 1 of the parameters is dropped."""
    folder, train, _ = suite_folder
    traj = suite_format.read_trajectories(folder, "train")
    np.testing.assert_array_equal(traj.images, train["image"])
    assert traj.states.dtype == np.float64
    np.testing.assert_array_equal(traj.states, train["x"])
    np.testing.assert_array_equal(traj.dx_dt, train["dx_dt"])
    np.testing.assert_array_equal(traj.params["m"], train["other/m"][:, 0])
    np.testing.assert_array_equal(traj.params["offset"], train["other/offset"][:, 0])
    np.testing.assert_array_equal(traj.params["color_index"], train["other/color_index"][:, 0])
    assert traj.dt == 0.05  # from the folder name
    assert len(suite_format.read_trajectories(folder, "train", limit=2)) == 2


def test_float32_features_pack_two_values_per_int64(tmp_path, needs_extra):
    """The suite's float32 arrays viewed as int64 hold two floats per integer."""
    rng = np.random.default_rng(1)
    data = {
        "image": rng.integers(0, 256, (2, T, 32, 32, 3), dtype=np.uint8),
        "x": rng.normal(size=(2, T, 2)).astype(np.float32),
    }
    write_like_the_suite(tmp_path / "mass_spring_dt_0_05", "train", data)
    raw = suite_format.read_split(tmp_path / "mass_spring_dt_0_05", "train")
    assert raw["x"].dtype == np.float32
    np.testing.assert_array_equal(raw["x"], data["x"])


def test_load_dataset_reads_suite_files_from_a_parent_folder(suite_folder):
    """load_dataset(suite_dir=...) finds <system>_dt_<dt>/ one level down and crops lengths."""
    folder, train, test = suite_folder
    data = load_dataset(
        "pendulum",
        num_train=3,
        num_test=2,
        train_steps=T - 1,
        test_steps=T - 2,
        seed=0,
        cache_dir="unused",
        suite_dir=folder.parent.parent,
        progress=False,
    )
    np.testing.assert_array_equal(data.train_images, train["image"])
    np.testing.assert_array_equal(data.test_states, test["x"][:, : T - 1])
    assert data.source == str(folder) and data.dt == 0.05
    with pytest.raises(ValueError, match="frames"):
        load_dataset(
            "pendulum",
            num_train=3,
            num_test=2,
            train_steps=T,
            test_steps=1,
            seed=0,
            cache_dir="unused",
            suite_dir=folder,
            progress=False,
        )
    with pytest.raises(FileNotFoundError, match="two_body_dt_0_05"):
        load_dataset(
            "two_body",
            num_train=1,
            num_test=1,
            train_steps=1,
            test_steps=1,
            seed=0,
            cache_dir="unused",
            suite_dir=folder.parent,
            progress=False,
        )


def test_generated_data_exported_and_read_back_is_unchanged(tmp_path, needs_extra):
    """locornn's writer and reader round-trip generated data exactly, and load_dataset gives
    the same arrays from the suite files as from generation."""
    traj = generate("mass_spring", num=4, num_steps=255, seed=0)
    folder = tmp_path / suite_format.folder_name("mass_spring")
    assert folder.name == "mass_spring_dt_0_05"
    suite_format.write_trajectories(folder, "train", traj)
    suite_format.write_trajectories(folder, "test", traj)
    assert "image, (256, 32, 32, 3), uint8" in (folder / "features.txt").read_text()
    back = suite_format.read_trajectories(folder, "train")
    np.testing.assert_array_equal(back.images, traj.images)
    np.testing.assert_array_equal(back.states, traj.states)
    np.testing.assert_array_equal(back.dx_dt, traj.dx_dt)
    for k, v in traj.params.items():
        np.testing.assert_array_equal(back.params[k], v)
    generated = load_dataset(
        "mass_spring",
        num_train=4,
        num_test=4,
        train_steps=255,
        test_steps=255,
        seed=0,
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    from_files = load_dataset(
        "mass_spring",
        num_train=4,
        num_test=4,
        train_steps=255,
        test_steps=255,
        seed=0,
        cache_dir="unused",
        suite_dir=folder,
        progress=False,
    )
    np.testing.assert_array_equal(from_files.train_images, generated.train_images)
    np.testing.assert_array_equal(from_files.train_states, generated.train_states)


def test_truncated_tfrecord_is_reported(suite_folder):
    folder, _, _ = suite_folder
    path = folder / "train.tfrecord"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        suite_format.read_split(folder, "train")


def test_features_file_parsing_accepts_the_suite_spellings():
    text = (
        "image, (256, 32, 32, 3), uint8\n"
        "other/m, (1,), float64\n"
        "other/c, (1, 2), <class 'numpy.int64'>\n"
        "ts, (), float32\n"
    )
    features = suite_format.parse_features(text)
    assert features["image"] == ((256, 32, 32, 3), np.dtype("uint8"))
    assert features["other/m"] == ((1,), np.dtype("float64"))
    assert features["other/c"] == ((1, 2), np.dtype("int64"))
    assert features["ts"] == ((), np.dtype("float32"))
    with pytest.raises(ValueError, match="line 1"):
        suite_format.parse_features("image 256 uint8\n")


def test_without_the_extra_the_error_says_what_to_install(tmp_path, monkeypatch):
    """If `tfrecord` cannot be imported, reading and writing fail with an ImportError naming
    the extra."""
    folder = tmp_path / "pendulum_dt_0_05"
    folder.mkdir()
    (folder / "features.txt").write_text("x, (2,), float64\n")
    (folder / "train.tfrecord").write_bytes(b"")
    for name in [m for m in sys.modules if m == "tfrecord" or m.startswith("tfrecord.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "tfrecord", None)
    with pytest.raises(ImportError, match=r"pip install 'locornn\[suite\]'"):
        suite_format.read_split(folder, "train")
    with pytest.raises(ImportError, match=r"pip install 'locornn\[suite\]'"):
        suite_format.write_split(tmp_path / "out", "train", {"x": np.zeros((1, 2))})


def test_the_published_bucket_layout_is_found_with_its_long_test_set(tmp_path, needs_extra):
    """gs://dm-hamiltonian-dynamics-suite names folders toy_physics/pendulum and
    toy_physics/pendulum_long_trajectory (no _dt_ suffix): pointing data.suite_dir at the bucket
    root, or at either folder, finds the system, and long test trajectories come from the
    _long_trajectory set instead of failing on the short set's length."""
    rng = np.random.default_rng(1)
    short = tmp_path / "toy_physics" / "pendulum"
    write_like_the_suite(short, "train", suite_style_pendulum(rng, 3))
    write_like_the_suite(short, "test", suite_style_pendulum(rng, 2))
    long_test = {k: np.concatenate([v, v], axis=1) if v.ndim >= 3 and k in ("image", "x",
                                                                             "dx_dt") else v
                 for k, v in suite_style_pendulum(rng, 2).items()}  # 2T frames
    write_like_the_suite(tmp_path / "toy_physics" / "pendulum_long_trajectory", "test",
                         long_test)
    for suite_dir in (tmp_path, tmp_path / "toy_physics", short):
        assert suite_format.find_folder(suite_dir, "pendulum") == short
        assert suite_format.find_folder(suite_dir, "pendulum", long_trajectory=True) == (
            tmp_path / "toy_physics" / "pendulum_long_trajectory")
    data = load_dataset("pendulum", num_train=3, num_test=2, train_steps=T - 1,
                        test_steps=2 * T - 1, seed=0, cache_dir="unused", suite_dir=tmp_path,
                        progress=False)
    np.testing.assert_array_equal(data.test_states, long_test["x"])


def _flip_byte(path, offset):
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("where, message", [(-8, "data CRC mismatch"),
                                            (9, "length CRC mismatch")])
def test_a_corrupt_record_is_caught_by_its_crc(suite_folder, where, message):
    folder, _, _ = suite_folder
    path = folder / "train.tfrecord"
    _flip_byte(path, where if where > 0 else path.stat().st_size + where)
    with pytest.raises(ValueError, match=message):
        suite_format.read_split(folder, "train")


def test_a_partial_read_closes_the_file(suite_folder):
    """Reading fewer records than the file holds leaves no file open (counted in /proc)."""
    import os

    folder, train, _ = suite_folder
    open_files = len(os.listdir("/proc/self/fd"))
    first = suite_format.read_split(folder, "train", limit=1)
    assert len(os.listdir("/proc/self/fd")) == open_files
    np.testing.assert_array_equal(first["x"], train["x"][:1])
    examples = suite_format.iter_split(folder, "train")
    assert set(next(examples)) == set(train)  # one trajectory at a time, the rest unread
    examples.close()
    assert len(os.listdir("/proc/self/fd")) == open_files
