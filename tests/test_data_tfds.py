"""tensorflow-datasets sequences (``data.name = "tfds"``, locornn.data.tfds_sequences), for real.

Specification: a prepared set is read from ``data.tfds_data_dir`` with nothing downloaded, the
frames taken from the feature ``data.feature`` names (or the only video), windowed and split
as your own recordings are; ``locornn train --config video:smoke --config.data.name=tfds``
trains on it (``moving_mnist`` served by ``tfds.testing.mock_data``); a set or split that does
not exist, a set not prepared, and a feature that is not frames are one line and exit 2, with
nothing written. TensorFlow runs in a process of its own (tests/tfds_session.py says why).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.tfds_session import BAD_CASES, recording


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    out = tmp_path_factory.mktemp("tfds")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "tfds_session.py"), str(out)],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, json.loads((out / "results.json").read_text())


def test_a_prepared_set_is_read_by_split_and_feature(session):
    out, results = session
    tiny = np.load(out / "tiny.npz")
    assert tiny["train"].shape == (18, 4, 16, 16, 1) and tiny["test"].shape == (9, 4, 16, 16, 1)
    for split, count in (("train", 6), ("test", 3)):
        seen = set()  # tfds stores examples in an order of its own: find each by its values
        for window in tiny[split]:
            first = round(float(window[0, 0, 0, 0]) * 255)
            index, start = first // 16 - (0 if split == "train" else 6), first % 16
            np.testing.assert_allclose(window, recording(split, index)[start:start + 4] / 255.0,
                                       atol=1e-7)
            seen.add((index, start))
        assert seen == {(i, s) for i in range(count) for s in (0, 4, 8)}, split


def test_the_record_follows_the_frames_read(session):
    _, results = session
    record = results["record"]
    assert record["kind"] == "tfds-sequences" and record["path"] == results["data_dir"]
    assert results["record_feature_named"]["fingerprint"] == record["fingerprint"]
    assert results["record_other_split"]["fingerprint"] != record["fingerprint"]


def test_moving_mnist_from_mock_data_trains_end_to_end(session):
    out, results = session
    assert results["mock_run"]["code"] == 0, results["mock_run"]["err"]
    run = out / "mock_run"
    record = json.loads((run / "data.json").read_text())
    assert record["kind"] == "tfds-sequences"
    assert "moving_mnist (image_sequence)" in record["description"]
    assert "320 frames in 16 recording(s)" in record["description"]
    assert (run / "summary.json").is_file() and list(run.glob("events.out.tfevents.*"))


WORDS = {
    "unknown set": ["no tensorflow-datasets set 'no_such_set_anywhere'"],
    "unknown split": ["no such split", "validation"],
    "unknown held-out split": ["no such split", "tset"],
    "unknown feature": ["no feature 'pixels'", "frames, label"],
    "feature that is not frames": ["'label'", "not frames"],
    "set not prepared": ["'moving_mnist' is not prepared", "nothing is downloaded"],
}


@pytest.mark.parametrize("case", BAD_CASES)
def test_a_bad_tfds_set_is_one_line_exit_2_and_writes_nothing(session, case):
    _, results = session
    seen = results["bad"][case]
    err = seen["err"].strip()
    assert seen["code"] == 2 and len(err.splitlines()) == 1, err
    for word in WORDS[case]:
        assert word in err, (word, err)
    assert not seen["run_exists"]
