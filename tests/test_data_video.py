"""Your own recordings as training data (``data.name = "video"``, locornn.data.video).

Specification:
* a ``.npy``/``.npz`` array ``(N, T, H, W[, C])``, a folder of PNG frames (natural order), a
  folder of per-recording subfolders or GIF/MP4 files, and one video all read as recordings;
  a ``.npy`` is memory-mapped and read only where a batch asks;
* recordings are cut into training windows of ``data.sequence_length`` frames every
  ``data.window_stride`` frames; the last ``data.test_fraction`` of the frames (in file order)
  is held out as back-to-back windows, and no window crosses the cut or a recording's end;
* values go to [0, 1] by the dtype's range or the data's min/max (``data.scaling``); frames are
  cropped about their middle to a square and resized to ``data.image_size``;
* the run's ``data.json`` fingerprint covers every byte of the frames (not where they lie);
* every bad file is one line, exit 2, naming the file, before anything is written: nothing in
  an existing run directory changes.
"""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from locornn import cli, configs
from locornn.data import video
from tests.conftest import experiment_config, tensorboard_events, tensorboard_scalars


def gratings(num: int = 8, length: int = 48, size: int = 16, seed: int = 0) -> np.ndarray:
    """``num`` recordings of drifting sine gratings, ``(num, length, size, size)`` uint8."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    t = np.arange(length)[:, None, None]
    out = []
    for angle, period in zip(rng.uniform(0, 2 * np.pi, num), rng.uniform(8, 16, num),
                             strict=True):
        along = cols * np.cos(angle) + rows * np.sin(angle)
        out.append(127.5 + 127.5 * np.sin(2 * np.pi * (along / 6 - t / period)))
    return np.round(np.stack(out)).astype(np.uint8)


def _config(path, **updates):
    return experiment_config("video", data__path=str(path), **updates)


def _train(workdir, path, *overrides):
    return cli.main(["train", "--config", "video:smoke", f"--config.data.path={path}",
                     "--workdir", str(workdir), "--quiet", *overrides])


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _write_pngs(folder, frames):
    folder.mkdir(parents=True)
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"frame{t}.png")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A video:smoke run on a .npy of gratings (8 recordings of 48 frames)."""
    root = tmp_path_factory.mktemp("video")
    np.save(root / "frames.npy", gratings())
    assert _train(root / "run", root / "frames.npy", "--config.data.test_fraction=0.25") == 0
    return root


# ------------------------------------------------------------------------------------------
# End to end


def test_a_npy_array_trains_and_records_its_data(trained):
    run = trained / "run"
    for name in ("config.json", "metrics.jsonl", "summary.json", "figure1.png", "hidden.gif"):
        assert (run / name).is_file(), name
    record = json.loads((run / "data.json").read_text())
    assert record["kind"] == "video" and record["path"] == str(trained / "frames.npy")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["data"] == record and np.isfinite(summary["test"]["mse"])
    assert {"train/loss", "test/mse", "final/mse"} <= set(tensorboard_scalars(run))
    images = {value.tag for event in tensorboard_events(run) for value in event.summary.value
              if value.HasField("image")}
    assert {"loss", "figure1"} <= images


def test_a_folder_of_png_frames_trains(tmp_path):
    frames = gratings(num=1, length=200)[0]
    _write_pngs(tmp_path / "frames", frames)
    assert _train(tmp_path / "run", tmp_path / "frames", "--config.train.num_steps=2",
                  "--config.data.test_fraction=0.4",
                  "--config.figures.enabled=False") == 0
    assert "200 frames in 1 recording" in json.loads(
        (tmp_path / "run" / "data.json").read_text())["description"]


# ------------------------------------------------------------------------------------------
# Reading


def test_a_npy_is_memory_mapped_and_reads_only_the_frames_asked_for(tmp_path, monkeypatch):
    array = gratings(num=3, length=10)
    np.save(tmp_path / "a.npy", array)
    loaded = []
    original = np.load
    monkeypatch.setattr(np, "load", lambda *a, **k: loaded.append(k) or original(*a, **k))
    recordings = video.read_recordings(tmp_path / "a.npy")
    assert loaded == [{"mmap_mode": "r"}]
    assert recordings.lengths == (10, 10, 10) and recordings.frame_shape == (16, 16, 1)
    np.testing.assert_array_equal(recordings.read(2, 3, 7), array[2, 3:7, ..., None])


def test_png_frames_are_read_in_natural_order_and_subfolders_are_recordings(tmp_path):
    array = gratings(num=2, length=12)
    for r in range(2):
        _write_pngs(tmp_path / "recordings" / f"cell{r}", array[r])
    recordings = video.read_recordings(tmp_path / "recordings")
    assert recordings.lengths == (12, 12)  # frame10 and frame11 after frame9, not frame1
    np.testing.assert_array_equal(recordings.read(1, 0, 12), array[1, ..., None])


def test_gif_and_mp4_videos_read_as_rgb_recordings(tmp_path):
    import imageio.v3 as iio

    frames = np.repeat(gratings(num=1, length=10, size=32)[0][..., None], 3, axis=-1)
    iio.imwrite(tmp_path / "a.mp4", frames, plugin="FFMPEG", fps=10)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(tmp_path / "b.gif", save_all=True, append_images=images[1:])
    for name in ("a.mp4", "b.gif"):
        recordings = video.read_recordings(tmp_path / name)
        assert recordings.lengths == (10,) and recordings.frame_shape == (32, 32, 3), name
    np.testing.assert_array_equal(video.read_recordings(tmp_path / "b.gif").read(0, 0, 10),
                                  frames)  # a GIF of grey frames is lossless


# ------------------------------------------------------------------------------------------
# Windows, split, values, sizes


def test_windows_never_cross_the_cut_or_a_recordings_end():
    # 2 recordings of 20 frames; the last 25% (10 frames) is held out: recording 1's frames 10-19
    train, test = video.split_windows((20, 20), train_length=4, stride=4, test_length=5,
                                      test_fraction=0.25)
    assert train == [(0, 0), (0, 4), (0, 8), (0, 12), (0, 16), (1, 0), (1, 4)]
    assert test == [(1, 10), (1, 15)]
    overlapping, _ = video.split_windows((10,), 4, 2, 4, 0.4)  # cut at frame 6
    assert overlapping == [(0, 0), (0, 2)]  # (0, 4) would read frame 6
    train, test = video.split_windows((8, 8), 4, 4, 6, 0.5, test_lengths=(13,))
    assert train == [(0, 0), (0, 4), (1, 0), (1, 4)] and test == [(0, 0), (0, 6)]


def _splits(tmp_path, array, **updates):
    np.save(tmp_path / "x.npy", array)
    updates = {"data__image_size": array.shape[-1], **updates}  # no resizing unless asked
    return video.load(_config(tmp_path / "x.npy", **updates).data)


def test_sequences_are_the_windows_scaled_by_the_dtype_range(tmp_path):
    array = gratings(num=1, length=20, size=16)
    splits = _splits(tmp_path, array, data__sequence_length=4, data__test_fraction=0.2,
                     data__num_test=0)
    assert splits.train.shape == (4, 4, 16, 16, 1) and splits.test.shape == (1, 4, 16, 16, 1)
    np.testing.assert_allclose(splits.train[2], array[0, 8:12, ..., None] / 255.0, atol=1e-7)
    np.testing.assert_allclose(splits.test[0], array[0, 16:20, ..., None] / 255.0, atol=1e-7)


def test_minmax_scaling_maps_the_datas_range_to_0_1(tmp_path):
    array = gratings(num=1, length=20).astype(np.float32) * 3.0 - 100.0
    splits = _splits(tmp_path, array, data__sequence_length=4, data__test_fraction=0.2,
                     data__scaling="minmax")
    every = np.concatenate([splits.train[:], splits.test[:]])
    assert every.min() == 0.0 and every.max() == 1.0
    np.testing.assert_allclose(splits.train[0], (array[0, :4, ..., None] - array.min())
                               / (array.max() - array.min()), atol=1e-6)
    uint16 = (gratings(num=1, length=20).astype(np.uint16) * 257)
    by_dtype = _splits(tmp_path, uint16, data__sequence_length=4, data__test_fraction=0.2)
    np.testing.assert_allclose(by_dtype.train[0], uint16[0, :4, ..., None] / 65535, atol=1e-7)


def test_frames_are_cropped_about_the_middle_and_resized(tmp_path):
    array = np.zeros((1, 20, 4, 8), np.uint8)
    array[..., 2:6] = 255  # the middle 4x4 square is white, the sides black
    splits = _splits(tmp_path, array, data__image_size=4, data__sequence_length=4,
                     data__test_fraction=0.2)
    assert splits.train.shape[2:] == (4, 4, 1) and splits.train[:].min() == 1.0
    big = _splits(tmp_path, gratings(num=1, length=20, size=32), data__image_size=16,
                  data__sequence_length=4, data__test_fraction=0.2)
    assert big.train.shape[2:] == (16, 16, 1) and 0 <= big.train[:].min() < big.train[:].max() <= 1


def test_num_train_keeps_evenly_spaced_windows_and_a_stride_overlaps_them(tmp_path):
    splits = _splits(tmp_path, gratings(num=1, length=100), data__sequence_length=8,
                     data__window_stride=2, data__num_train=3)
    assert len(splits.train) == 3  # of (90 - 8) / 2 + 1 = 42 windows: the first, middle, last
    array = gratings(num=1, length=100)[0, ..., None] / 255.0
    np.testing.assert_allclose(splits.train[2], array[82:90], atol=1e-7)


def test_an_explicit_test_file_is_the_held_out_split(tmp_path):
    np.save(tmp_path / "test.npy", gratings(num=2, length=16, seed=1))
    splits = _splits(tmp_path, gratings(num=2, length=16), data__sequence_length=8,
                     data__test_path=str(tmp_path / "test.npy"), data__num_test=0)
    assert len(splits.train) == 4 and len(splits.test) == 4


# ------------------------------------------------------------------------------------------
# Fingerprint


def test_the_fingerprint_covers_every_byte_and_not_the_location(tmp_path):
    array = gratings(num=2, length=40)

    def record(path):
        from locornn import data

        return data.load(_config(path).data).record

    np.save(tmp_path / "a.npy", array)
    (tmp_path / "moved").mkdir()
    shutil.copy(tmp_path / "a.npy", tmp_path / "moved" / "a.npy")
    np.savez(tmp_path / "a.npz", frames=array)
    changed = array.copy()
    changed[1, 37, 5, 5] ^= 1  # one value, deep inside the file
    np.save(tmp_path / "b.npy", changed)
    first = record(tmp_path / "a.npy")
    assert record(tmp_path / "moved" / "a.npy")["fingerprint"] == first["fingerprint"]
    assert record(tmp_path / "a.npz")["fingerprint"] == first["fingerprint"]
    assert record(tmp_path / "b.npy")["fingerprint"] != first["fingerprint"]


def test_the_file_fields_do_not_move_the_fingerprints_of_generated_sets():
    from locornn.data import fingerprint

    plain = experiment_config("waves")
    other = experiment_config("waves", data__scaling="minmax", data__test_fraction=0.5)
    assert (fingerprint.generated_record("waves", "", plain.data)
            == fingerprint.generated_record("waves", "", other.data))


# ------------------------------------------------------------------------------------------
# Bad files: one line, exit 2, nothing written


def _truncated(path):
    np.save(path, gratings())
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _save(array):
    return lambda path: np.save(path, array)


def _with_nan(path):
    array = gratings().astype(np.float32) / 255
    array[3, 10, 4, 4] = np.nan
    np.save(path, array)


def _with_inf(path):
    array = gratings().astype(np.float32) / 255
    array[0, 0, 0, 0] = np.inf
    np.save(path, array)


def _mixed_sizes(folder):
    _write_pngs(folder, gratings(num=1, length=40)[0])
    Image.fromarray(np.zeros((12, 16), np.uint8)).save(folder / "frame7.png")


def _mixed_recordings(folder):
    _write_pngs(folder / "a", gratings(num=1, length=200, size=16)[0])
    _write_pngs(folder / "b", gratings(num=1, length=200, size=20)[0])


def _broken_png(folder):
    _write_pngs(folder, gratings(num=1, length=200)[0])
    (folder / "frame3.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")


def _broken_npz(path):
    np.savez(path, frames=gratings())
    path.write_bytes(path.read_bytes()[:100])


BAD_FILES = {
    # case: (file name, writer, extra overrides, words the message must hold)
    "rank 2": ("x.npy", _save(np.zeros((40, 16), np.uint8)), (), ["rank 2"]),
    "two channels": ("x.npy", _save(np.zeros((2, 40, 16, 16, 2), np.uint8)), (), ["2 channels"]),
    "one RGB recording without N": ("x.npy", _save(np.zeros((40, 16, 16, 3), np.uint8)), (),
                                    ["(1, T, H, W, C)"]),
    "strings": ("x.npy", _save(np.full((2, 40, 16, 16), "a")), (), ["not numbers"]),
    "complex": ("x.npy", _save(np.zeros((2, 40, 16, 16), np.complex64)), (), ["not numbers"]),
    "objects": ("x.npy", lambda p: np.save(p, np.empty((2, 3), object), allow_pickle=True), (),
                ["Python objects"]),
    "NaN frames": ("x.npy", _with_nan, (), ["1 NaN or Inf"]),
    "Inf frames": ("x.npy", _with_inf, (), ["1 NaN or Inf"]),
    "constant": ("x.npy", _save(np.full((8, 48, 16, 16), 7, np.uint8)), (), ["one constant"]),
    "floats outside [0, 1]": ("x.npy", _save(gratings().astype(np.float32)), (),
                              ["outside [0, 1]", "data.scaling=minmax"]),
    "signed integers by dtype": ("x.npy", _save(gratings().astype(np.int16)), (),
                                 ["signed integers", "data.scaling=minmax"]),
    "truncated npy": ("x.npy", _truncated, (), ["cannot be read", "numpy.save"]),
    "not an npy": ("x.npy", lambda p: p.write_bytes(b"hello, not numpy" * 10), (),
                   ["cannot be read"]),
    "empty file": ("x.npy", lambda p: p.write_bytes(b""), (), ["cannot be read"]),
    "corrupt npz": ("x.npz", _broken_npz, (), ["cannot be read", ".npz"]),
    "frames of different sizes": ("frames", _mixed_sizes, (), ["frame7.png", "one size"]),
    "recordings of different sizes": ("recordings", _mixed_recordings, (), ["one frame size"]),
    "unreadable frame": ("frames", _broken_png, (), ["frame3.png", "cannot be read"]),
    "fewer sequences than a batch": ("x.npy", _save(gratings(num=1, length=60)),
                                     ("--config.data.test_fraction=0.3",),
                                     ["training sequence(s), fewer than one batch"]),
    "empty held-out split": ("x.npy", _save(gratings()), ("--config.data.test_fraction=0.001",),
                             ["held-out split is empty", "data.test_fraction"]),
    "missing path": ("nowhere.npy", lambda p: None, (), ["does not exist"]),
    "held-out file of another type": ("x.npy", _save(gratings()),
                                      ("--config.data.test_path={test}",), ["must agree"]),
    "unknown suffix": ("x.csv", lambda p: p.write_text("1,2\n"), (), ["unknown kind of file"]),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_file_is_one_line_exit_2_and_changes_nothing_in_a_run(case, trained, tmp_path,
                                                                      capsys):
    name, write, overrides, words = BAD_FILES[case]
    path = tmp_path / name
    write(path)
    np.save(tmp_path / "test.npy", gratings().astype(np.uint16))
    overrides = tuple(o.format(test=tmp_path / "test.npy") for o in overrides)
    run = tmp_path / "run"  # an existing run, whose config now names the bad file
    shutil.copytree(trained / "run", run)
    config = configs.load("video:smoke", [f"--config.data.path={path}", *overrides])
    (run / "config.json").write_text(config.to_json(indent=2) + "\n")
    before = _files(run)
    capsys.readouterr()
    assert _train(run, path, *overrides) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err, err
    for word in words:
        assert word in err, (word, err)
    assert _files(run) == before


def test_eval_of_a_run_whose_file_went_bad_is_one_line_exit_2(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    path = tmp_path / "frames.npy"
    _truncated(path)
    config = json.loads((run / "config.json").read_text())
    config["data"]["path"] = str(path)
    (run / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    before = _files(run)
    capsys.readouterr()
    assert cli.main(["eval", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and "cannot be read" in err, err
    assert _files(run) == before


def test_the_config_refuses_a_video_set_without_a_path_or_with_a_bad_fraction():
    with pytest.raises(configs.ConfigError, match="data.path"):
        configs.load("video:smoke")
    with pytest.raises(configs.ConfigError, match="test_fraction"):
        configs.load("video:smoke", ["--config.data.path=x.npy", "--config.data.test_fraction=1.0"])
    with pytest.raises(configs.ConfigError, match="scaling"):
        configs.load("video:smoke", ["--config.data.path=x.npy", "--config.data.scaling=zscore"])
