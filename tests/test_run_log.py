"""TensorBoard events beside metrics.jsonl (locornn.run_log).

Specification: every number a run logs to ``metrics.jsonl`` is also a TensorBoard scalar
``<split>/<key>`` at its step, the held-out results are ``final/<key>`` and the run's figures
are images; a resumed run marks the step it resumes at so TensorBoard drops the older events
from there on, as the run drops them from ``metrics.jsonl``.
"""

import json

import pytest

from locornn import plots, run_log
from tests.conftest import tensorboard_events, tensorboard_scalars


def test_every_logged_number_is_a_tensorboard_scalar(waves_run):
    scalars = tensorboard_scalars(waves_run)
    records = plots.read_metrics(waves_run / "metrics.jsonl")
    assert records
    for record in records:
        for key, value in record.items():
            if key not in ("step", "split"):
                assert scalars[f"{record['split']}/{key}"][record["step"]] == pytest.approx(
                    value, rel=1e-6), (record["split"], key)
    summary = json.loads((waves_run / "summary.json").read_text())
    assert scalars["final/mse"][summary["steps"]] == pytest.approx(summary["test"]["mse"])


def test_a_resumed_log_marks_the_step_tensorboard_purges_from(tmp_path):
    with run_log.RunLog(tmp_path, purge_step=0) as log:
        for step in (1, 2, 3):
            log.write({"step": step, "split": "train", "loss": 1.0 / step, "note": "text"})
    with run_log.RunLog(tmp_path, purge_step=3) as log:
        log.write({"step": 3, "split": "train", "loss": 0.5})
    starts = [event.step for event in tensorboard_events(tmp_path)
              if event.HasField("session_log")]
    assert starts == [0, 3]
    assert [json.loads(line)["step"] for line in
            (tmp_path / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 3]
    assert tensorboard_scalars(tmp_path)["train/loss"] == {1: 1.0, 2: 0.5, 3: 0.5}


def test_a_log_without_a_workdir_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with run_log.RunLog(None) as log:
        log.write({"step": 1, "split": "train", "loss": 1.0})
    assert list(tmp_path.iterdir()) == []
