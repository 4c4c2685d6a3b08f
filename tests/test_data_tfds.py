"""tensorflow-datasets sequences (``data.name = "tfds"``, locornn.data.tfds_sequences), for real.

Specification: a prepared set is read from ``data.tfds_data_dir`` with nothing downloaded, the
frames taken from the feature ``data.feature`` names (or the only video), windowed and split
as your own recordings are; ``locornn train --config video:smoke --config.data.name=tfds``
trains on it (here: ``moving_mnist`` served by ``tfds.testing.mock_data``, and a small set
built on disk); a set or split that does not exist, a set not prepared, and a feature that is
not frames are one line and exit 2, with nothing written.
"""

import json

import numpy as np
import pytest

from locornn import cli, data
from tests.conftest import experiment_config

FRAMES = 12  # per recording of the set built on disk


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """``locornn_tiny_sequences`` prepared in a folder: 6 train and 3 test recordings of 12
    16x16 grey frames (``frames``, values ``recording * 16 + frame``) and a label each."""
    from locornn.data import tfds_sequences

    tfds = tfds_sequences.import_tfds()

    def recording(split, index):
        value = (index + (0 if split == "train" else 6)) * 16
        return (value + np.arange(FRAMES, dtype=np.uint8)[:, None, None, None]
                + np.zeros((1, 16, 16, 1), np.uint8))

    class LocornnTinySequences(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "frames": tfds.features.Video((FRAMES, 16, 16, 1)),
                "label": tfds.features.ClassLabel(num_classes=2)}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples("train", 6),
                    "test": self._generate_examples("test", 3)}

        def _generate_examples(self, split, count):
            for i in range(count):
                yield f"{split}{i}", {"frames": recording(split, i), "label": i % 2}

    folder = tmp_path_factory.mktemp("tfds")
    LocornnTinySequences(data_dir=str(folder)).download_and_prepare()
    return folder, recording


def _tiny_config(folder, **updates):
    return experiment_config(
        "video", data__name="tfds", data__tfds_name="locornn_tiny_sequences",
        data__tfds_data_dir=str(folder), data__image_size=16, data__sequence_length=4,
        data__tfds_test_split="test", data__num_test=0, **updates).data


def test_a_prepared_set_is_read_by_split_and_feature(tiny):
    folder, recording = tiny
    loaded = data.load(_tiny_config(folder))
    assert loaded.train.shape == (18, 4, 16, 16, 1) and loaded.test.shape == (9, 4, 16, 16, 1)
    for split, sequences, count in (("train", loaded.train, 6), ("test", loaded.test, 3)):
        seen = set()  # tfds stores examples in an order of its own: find each by its values
        for window in sequences[:]:
            first = round(float(window[0, 0, 0, 0]) * 255)
            index, start = first // 16 - (0 if split == "train" else 6), first % 16
            np.testing.assert_allclose(window, recording(split, index)[start:start + 4] / 255.0,
                                       atol=1e-7)
            seen.add((index, start))
        assert seen == {(i, s) for i in range(count) for s in (0, 4, 8)}, split
    record = loaded.record
    assert record["kind"] == "tfds-sequences" and record["path"] == str(folder)
    again = data.load(_tiny_config(folder, data__feature="frames")).record
    assert again["fingerprint"] == record["fingerprint"]
    other = data.load(_tiny_config(folder, data__tfds_split="train[:3]")).record
    assert other["fingerprint"] != record["fingerprint"]


def test_moving_mnist_from_mock_data_trains_end_to_end(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=16):
        code = cli.main(["train", "--config", "video:smoke", "--config.data.name=tfds",
                         "--config.data.tfds_name=moving_mnist",
                         "--config.data.tfds_split=test", "--config.data.test_fraction=0.25",
                         f"--config.data.tfds_data_dir={tmp_path / 'tfds'}",
                         "--config.train.num_steps=4", "--config.figures.enabled=False",
                         "--workdir", str(tmp_path / "run"), "--quiet"])
    assert code == 0
    record = json.loads((tmp_path / "run" / "data.json").read_text())
    assert record["kind"] == "tfds-sequences"
    assert "moving_mnist (image_sequence)" in record["description"]
    assert "320 frames in 16 recording(s)" in record["description"]


@pytest.mark.parametrize("overrides, words", [
    (["--config.data.tfds_name=no_such_set_anywhere"], ["no tensorflow-datasets set"]),
    (["--config.data.tfds_split=validation"], ["no such split", "validation"]),
    (["--config.data.tfds_test_split=tset"], ["no such split", "tset"]),
    (["--config.data.feature=pixels"], ["no feature 'pixels'", "frames, label"]),
    (["--config.data.feature=label"], ["not frames"]),
    (["--config.data.tfds_name=moving_mnist"], ["not prepared", "nothing is downloaded"]),
])
def test_a_bad_tfds_set_is_one_line_exit_2_and_writes_nothing(tiny, tmp_path, capsys,
                                                              overrides, words):
    folder, _ = tiny
    capsys.readouterr()
    code = cli.main(["train", "--config", "video:smoke", "--config.data.name=tfds",
                     "--config.data.tfds_name=locornn_tiny_sequences",
                     f"--config.data.tfds_data_dir={folder}", *overrides,
                     "--workdir", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, (word, err)
    assert not (tmp_path / "run").exists()
