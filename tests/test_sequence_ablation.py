"""The sequence ablation: one change of the preset per variant, measured against the mean frame;
and the runs table that reads runs without their checkpoints."""

import json
import os
import pathlib
import signal
import subprocess
import sys

import numpy as np
import pytest

from locornn import configs, data
from locornn.reproduce import figures, sequence_ablation
from tests.conftest import ROOT, cache_environment

pytestmark = pytest.mark.slow  # trains two smoke runs, and runs a script of fresh processes
REFERENCE_GPU_TEST = "test_the_reference_gpu_script_starts_only_runs_that_fit_its_time"
# the wave analyses the table reads; the runs' own figures (loss curve, gif) are read by no test
EXTRA = ("--config.analysis.waves=True", "--config.figures.enabled=False")


@pytest.fixture(scope="module", autouse=True)
def reference_gpu(request, tmp_path_factory):
    """experiments/reference_gpu.sh at PRESET=smoke with no time for training, started as this
    module starts: a chain of fresh processes (~20 s) that runs while the other tests here run
    in this one (not started when its test is not selected). ``reference_gpu()`` waits for it
    and gives ``(completed process, folder)``: the script wrote ``folder/out`` and
    ``folder/runs``."""
    if not any(item.name == REFERENCE_GPU_TEST for item in request.session.items):
        yield None
        return
    folder = tmp_path_factory.mktemp("reference_gpu")
    env = {"PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin", "PRESET": "smoke",
           "RUNS": str(folder / "runs"), "PYTHON": sys.executable,
           "PYTHONPATH": str(ROOT / "src"), "OVERHEAD": "0", "HOME": str(folder),
           **cache_environment()}
    with open(folder / "stdout", "w") as stdout, open(folder / "stderr", "w") as stderr:
        script = subprocess.Popen(["bash", "experiments/reference_gpu.sh", str(folder / "out"),
                                   "0"], cwd=ROOT, env=env, stdout=stdout, stderr=stderr,
                                  start_new_session=True)  # a group of its own to stop

    def finished() -> tuple[subprocess.CompletedProcess, pathlib.Path]:
        script.wait(timeout=600)
        return subprocess.CompletedProcess(script.args, script.returncode,
                                           (folder / "stdout").read_text(),
                                           (folder / "stderr").read_text()), folder

    yield finished
    if script.poll() is None:  # its test was not reached: stop the script (a training it
        os.killpg(script.pid, signal.SIGKILL)  # started under `timeout` ends on its own)
        script.wait()


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    base = tmp_path_factory.mktemp("sequence_ablation")
    md = sequence_ablation.run_ablation(
        "waves", "smoke", steps=6, variants=("reference", "dt_0.5"), root=base / "runs",
        results=base / "results", progress=False, extra_overrides=EXTRA)
    return base, md


def test_each_variant_is_the_preset_with_its_own_fields_and_the_budget():
    spec = "waves:reference"
    reference = configs.load(spec, sequence_ablation.overrides("reference", 1000))
    for variant, (_, fields) in sequence_ablation.VARIANTS.items():
        config = configs.load(spec, sequence_ablation.overrides(variant, 1000))
        assert config.train.num_steps == 1000
        changed = {key for key, value in configs.flatten(config).items()
                   if configs.flatten(reference)[key] != value}
        assert changed == {key for key in fields
                           if configs.flatten(reference)[key] != fields[key]}, variant


def test_variants_joined_by_plus_make_all_their_changes_at_once():
    spec = f"{ROOT / 'experiments' / 'waves'}.py:reference"
    both = configs.load(spec, sequence_ablation.overrides("speed_range+dt_0.5", 1000))
    assert (both.data.period_max, both.model.dt) == (0.0, 0.5)
    description, _ = sequence_ablation.describe("speed_range+dt_0.5")
    assert description.startswith(sequence_ablation.VARIANTS["speed_range"][0])
    assert description.endswith(sequence_ablation.VARIANTS["dt_0.5"][0])
    with pytest.raises(ValueError, match="unknown ablation variant 'fast'"):
        sequence_ablation.overrides("dt_0.5+fast", 10)


def test_an_unknown_variant_or_experiment_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown ablation variant 'fast'"):
        sequence_ablation.overrides("fast", 10)
    with pytest.raises(ValueError, match="not 'hamiltonian'"):
        sequence_ablation.run_ablation("hamiltonian", "smoke")


def test_the_mean_frame_mse_is_the_variance_of_the_held_out_targets():
    config = configs.load("waves:smoke")
    test = data.load(config.data).test
    assert sequence_ablation.mean_frame_mse(config) == pytest.approx(float(np.var(test[:, 1:])))


def test_the_table_has_one_row_per_variant_with_its_runs_numbers(ablation):
    base, md = ablation
    rows = [line for line in md.read_text().splitlines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[0].strip("| ") for row in rows] == ["reference", "dt_0.5"]
    for row, variant in zip(rows, ("reference", "dt_0.5"), strict=True):
        summary = json.loads((base / "runs" / "sequence_ablation" / variant / "waves" / "smoke"
                              / "0" / "summary.json").read_text())
        assert summary["steps"] == 6
        assert f"{summary['test']['mse']:.4f}" in row
        assert ("Every variant also has `--config.analysis.waves=True "
                "--config.figures.enabled=False`.") in md.read_text()
        # the phase map of the trained network, as its summary holds it (analysis.waves.phase_map)
        trained = summary["waves"]["trained"]
        assert f"| {trained['phase_neighbour_phase_difference']:.2f} | " in row
        assert f"| {trained['phase_plane_wave_fraction']:.2f} | " in row
        # the lattice's coupling, as the run's coupling.json holds it (analysis.lattice.coupling)
        coupled = json.loads((base / "runs" / "sequence_ablation" / variant / "waves" / "smoke"
                              / "0" / "coupling.json").read_text())
        assert (f"| {coupled['spread']['position']:.2f} | "
                f"{coupled['encoder_topography']:+.3f} | ") in row
    saved = json.loads((base / "runs" / "sequence_ablation" / "dt_0.5" / "waves" / "smoke" / "0"
                        / "config.json").read_text())
    assert saved["model"]["dt"] == 0.5
    assert md.with_suffix(".csv").is_file()


def test_a_finished_variant_is_reused_not_retrained(ablation):
    base, md = ablation
    checkpoints = sorted((base / "runs").rglob("checkpoints/*"))
    before = {p: p.stat().st_mtime_ns for p in checkpoints}
    sequence_ablation.run_ablation(
        "waves", "smoke", steps=6, variants=("reference",), root=base / "runs",
        results=base / "again", progress=False, extra_overrides=EXTRA)
    assert {p: p.stat().st_mtime_ns for p in checkpoints} == before
    # Without the overrides it was trained with, it is another config: refused, not lent.
    with pytest.raises(configs.ConfigError, match="analysis.waves"):
        sequence_ablation.run_ablation(
            "waves", "smoke", steps=6, variants=("reference",), root=base / "runs",
            results=base / "again", progress=False)


def test_the_runs_table_reads_summaries_and_wave_reports_without_checkpoints(ablation, tmp_path):
    base, _ = ablation
    run = base / "runs" / "sequence_ablation" / "reference" / "waves" / "smoke" / "0"
    copy = tmp_path / "run"  # what came back from another machine: no checkpoints
    copy.mkdir()
    for name in ("summary.json", "config.json"):
        (copy / name).write_text((run / name).read_text())
    report = {"metrics": {"traveling_wave_strength": 0.25},
              "metrics_reference_band": {"traveling_wave_strength": 0.5}}
    (copy / "waves.json").write_text(json.dumps(report))
    out = figures.runs_table([copy], tmp_path / "runs.md", mean_frame=True)
    lines = out.read_text().splitlines()
    config = configs.from_dict(json.loads((copy / "config.json").read_text()))
    assert f"{sequence_ablation.mean_frame_mse(config):.3f}" in lines[2]
    assert "| trained | raw z |" in lines[2] and "0.250" in lines[2]
    assert "| trained | reference band |" in lines[3] and "0.500" in lines[3]


def test_the_reference_gpu_script_starts_only_runs_that_fit_its_time(reference_gpu):
    """With no time for training, only the spring (budget 0 in the plan) starts; the others are
    named as skipped and the figure commands still run on what exists."""
    result, folder = reference_gpu()
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("orientation", "orientation_noise", "waves", "noise"):
        assert f"skipped {name} (does not fit)" in result.stdout
    assert "training side by side: mass_spring" in result.stdout
    assert (folder / "runs" / "hamiltonian" / "smoke" / "mass_spring" / "locornn" / "0"
            / "summary.json").is_file()
    assert not (folder / "runs" / "waves").exists()
    steps = json.loads((folder / "out" / "steps.json").read_text())
    assert {row["experiment"] for row in steps} == {"orientation", "waves", "rotating_mnist"}
    assert (folder / "out" / "runs.tar.gz").is_file()
