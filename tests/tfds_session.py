"""What tests/test_data_tfds.py checks, done in a process of its own.

TensorFlow defines its Example protobuf, and so does the tfrecord package that the
Hamiltonian suite's tests load: protobuf refuses the second definition, in either order, so
TensorFlow never enters the test session's process. ``python tests/tfds_session.py OUT`` builds
and prepares a small set on disk, reads it, trains on ``moving_mnist`` served by
``tfds.testing.mock_data``, runs the bad cases through the command line, and writes what it saw
to ``OUT/results.json`` (and the sequences read to ``OUT/tiny.npz``) for the tests to judge.
"""

import contextlib
import io
import json
import pathlib
import sys

import numpy as np

FRAMES = 12  # per recording of the set built on disk
BAD_CASES = {
    "unknown set": ["--config.data.tfds_name=no_such_set_anywhere"],
    "unknown split": ["--config.data.tfds_split=validation"],
    "unknown held-out split": ["--config.data.tfds_test_split=tset"],
    "unknown feature": ["--config.data.feature=pixels"],
    "feature that is not frames": ["--config.data.feature=label"],
    "set not prepared": ["--config.data.tfds_name=moving_mnist"],
}


def recording(split: str, index: int) -> np.ndarray:
    """Recording ``index`` of the small set: 12 16x16 grey frames, ``frame t`` everywhere
    ``16 * (index (+ 6 for test)) + t``, so its values say which recording and frame it is."""
    value = (index + (0 if split == "train" else 6)) * 16
    return (value + np.arange(FRAMES, dtype=np.uint8)[:, None, None, None]
            + np.zeros((1, 16, 16, 1), np.uint8))


def prepare(folder: pathlib.Path, tfds) -> None:
    """``locornn_tiny_sequences``: 6 train and 3 test recordings and a label each."""

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

    LocornnTinySequences(data_dir=str(folder)).download_and_prepare()


def _cli(argv) -> tuple[int, str]:
    from locornn import cli

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, err.getvalue()


def main(out: pathlib.Path) -> None:
    from locornn import configs, data
    from locornn.data import tfds_sequences

    tfds = tfds_sequences.import_tfds()
    folder = out / "prepared"
    prepare(folder, tfds)
    results = {"data_dir": str(folder)}

    def load(*overrides):
        config = configs.load("video:smoke", [
            "--config.data.name=tfds", "--config.data.tfds_name=locornn_tiny_sequences",
            f"--config.data.tfds_data_dir={folder}", "--config.data.image_size=16",
            "--config.data.sequence_length=4", "--config.data.tfds_test_split=test",
            "--config.data.num_test=0", *overrides])
        return data.load(config.data)

    tiny = load()
    np.savez(out / "tiny.npz", train=tiny.train[:], test=tiny.test[:])
    results["record"] = tiny.record
    results["record_feature_named"] = load("--config.data.feature=frames").record
    results["record_other_split"] = load("--config.data.tfds_split=train[:3]").record

    with tfds.testing.mock_data(num_examples=16):
        code, err = _cli(["train", "--config", "video:smoke", "--config.data.name=tfds",
                          "--config.data.tfds_name=moving_mnist",
                          "--config.data.tfds_split=test", "--config.data.test_fraction=0.25",
                          f"--config.data.tfds_data_dir={out / 'empty'}",
                          "--config.train.num_steps=4", "--config.figures.enabled=False",
                          "--workdir", str(out / "mock_run"), "--quiet"])
    results["mock_run"] = {"code": code, "err": err}

    results["bad"] = {}
    for case, overrides in BAD_CASES.items():
        run = out / "bad_run"
        code, err = _cli(["train", "--config", "video:smoke", "--config.data.name=tfds",
                          "--config.data.tfds_name=locornn_tiny_sequences",
                          f"--config.data.tfds_data_dir={folder}", *overrides,
                          "--workdir", str(run), "--quiet"])
        results["bad"][case] = {"code": code, "err": err, "run_exists": run.exists()}
    (out / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
