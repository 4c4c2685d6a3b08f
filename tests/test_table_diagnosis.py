"""Table 1 diagnosis: trivial forecasts scored like a model, frame statistics, a run's curves."""

import json

import numpy as np
import pytest

from locornn import metrics, train
from locornn.cli import main
from locornn.reproduce import table_diagnosis as diagnosis

BACKGROUND = np.array([0.321, 0.349, 0.368], np.float32)


def moving_square(num: int = 3, frames: int = 12, step: int = 1, size: int = 4) -> np.ndarray:
    """``(num, frames, 16, 32, 3)``: a red ``size``-pixel square moving ``step`` pixels per
    frame along the columns on the suite's grey background (trajectory i starts at column i;
    it never reaches the right border at the sizes used here)."""
    video = np.broadcast_to(BACKGROUND, (num, frames, 16, 32, 3)).copy()
    for i in range(num):
        for t in range(frames):
            col = i + t * step
            assert col + size <= 32
            video[i, t, 6:6 + size, col:col + size] = (1.0, 0.0, 0.0)
    return video


def test_trivial_forecasts_repeat_the_right_frames_and_a_black_frame_scores_one():
    video = moving_square()
    mean_frame = video.mean(axis=(0, 1))
    forecasts = diagnosis.trivial_forecasts(video, mean_frame, context=3, start=6)
    assert set(forecasts) == set(diagnosis.TRIVIAL)
    for forecast in forecasts.values():
        assert forecast.shape == (3, 6, 16, 32, 3)
    np.testing.assert_array_equal(forecasts["last_read_frame"][:, 4], video[:, 2])
    np.testing.assert_array_equal(forecasts["frame_before_vpt"][:, 0], video[:, 5])
    np.testing.assert_array_equal(forecasts["mean_train_frame"][1, 3], mean_frame)
    errors = diagnosis.trivial_errors((video * 255).round().astype(np.uint8), mean_frame, 3, 6,
                                      chunk=2)
    assert errors["black"].shape == (3, 6)
    np.testing.assert_allclose(errors["black"], 1.0)  # mean(gt^2) / mean(gt^2)
    with pytest.raises(ValueError, match="context"):
        diagnosis.trivial_forecasts(video, mean_frame, context=7, start=6)


def test_a_still_scene_is_forecast_for_the_whole_horizon_and_a_moving_one_is_not():
    still = moving_square(step=0)
    errors = diagnosis.trivial_errors(still, still.mean(axis=(0, 1)), 3, 6)
    summary = diagnosis.error_summary(errors["last_read_frame"], 0.025)
    assert summary == {"first_error": 0.0, "median_error": 0.0, "vpt": 6.0}

    moving = moving_square(step=2)  # half the square moves off itself in a step
    errors = diagnosis.trivial_errors(moving, moving.mean(axis=(0, 1)), 3, 6)["frame_before_vpt"]
    summary = diagnosis.error_summary(errors, 0.025)
    assert summary["vpt"] == 0 and summary["first_error"] > 0.025
    # the same VPT as the metric the table reports
    forecast = diagnosis.trivial_forecasts(moving, moving.mean(axis=(0, 1)), 3, 6)
    expected = metrics.median_vpt(forecast["frame_before_vpt"], moving[:, 6:], 0.025)
    assert summary["vpt"] == float(expected)
    # a threshold between the one-step error and the two-step one (the square off itself,
    # twice the differing pixels): VPT counts the one step before it
    one_step = float(errors[0, 0])
    np.testing.assert_allclose(errors[:, 1], 2 * one_step, rtol=1e-5)
    assert diagnosis.error_summary(errors, one_step * 1.5)["vpt"] == 1


def test_frame_statistics_measure_the_moving_object():
    video = moving_square(num=2, frames=14, step=1, size=4)
    stats = diagnosis.frame_statistics(video)
    assert stats["pixel_min"] == 0.0 and stats["pixel_max"] == 1.0
    assert stats["colours_per_frame"] == 2  # grey and red
    assert stats["moving_pixels"] == 16  # the 4x4 square, off its trajectory's median frame
    assert stats["changed_pixels_per_step"] == 8  # one column leaves, one arrives
    energy = np.mean(video[0, 0] ** 2)
    assert stats["energy"] == pytest.approx(energy, rel=1e-6)
    assert stats["lag_one_error"] == pytest.approx(
        float(metrics.normalised_error(video[0, 1], video[0, 0])), rel=1e-5)


@pytest.mark.slow
def test_diagnosis_on_the_smoke_preset_reproduces_each_runs_vpt(tmp_path, monkeypatch):
    overrides = [f"--config.data.cache_dir={tmp_path / 'cache'}", "--config.figures.enabled=False"]
    md = diagnosis.diagnose("smoke", systems=("pendulum",), models=("lstm",), seed=0,
                            root=tmp_path / "runs", results=tmp_path / "results",
                            overrides=overrides, progress=False)
    text = md.read_text()
    assert "| Pendulum | black frame | 1.0000 | 1.0000 | 0 |" in text
    assert "| Pendulum | LSTM | 10 |" in text
    rows = (tmp_path / "results" / "diagnosis.csv").read_text().splitlines()
    assert len(rows) == 1 + len(diagnosis.TRIVIAL) + 1
    curves = np.load(tmp_path / "results" / "diagnosis_curves.npz")
    assert curves["pendulum/lstm/from_frame_0"].shape == (20,)  # the smoke test trajectories
    assert curves["pendulum/lstm"].shape == curves["pendulum/black"].shape == (10,)
    assert (tmp_path / "results" / "diagnosis.png").stat().st_size > 0
    # the forecast rebuilt from the checkpoint scores what the run itself scored
    run = next((tmp_path / "runs").rglob("summary.json"))
    vpt_file = json.loads((run.parent / "vpt.json").read_text())
    np.testing.assert_allclose(curves["pendulum/lstm"], vpt_file["median_error_per_step"],
                               rtol=1e-5)
    lstm = next(line for line in rows if ",lstm," in line)
    assert f",{json.loads(run.read_text())['test']['vpt']}," in lstm

    # --no-train: the finished run is diagnosed again, the missing one named, nothing trained
    monkeypatch.setattr(train, "train_and_evaluate", lambda *a, **k: pytest.fail("trained"))
    md = diagnosis.diagnose("smoke", systems=("pendulum",), models=("locornn", "lstm"), seed=0,
                            root=tmp_path / "runs", results=tmp_path / "again",
                            overrides=overrides, progress=False, train_missing=False)
    again = md.read_text()
    assert "| Pendulum | LSTM | 10 |" in again and "| Pendulum | LocoRNN |" not in again
    assert "Not trained (left out): pendulum x locornn." in again


def test_cli_refuses_a_sequence_experiment_and_an_unknown_system(capsys):
    assert main(["reproduce", "table1-diagnosis", "--config", "waves:smoke"]) == 2
    assert "hamiltonian" in capsys.readouterr().err
    assert main(["reproduce", "table1-diagnosis", "--systems", "three_body"]) == 2
    assert "three_body" in capsys.readouterr().err
