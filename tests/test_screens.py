"""``locornn reproduce screen``: tables of screens remade from the files finished runs wrote."""

import csv
import json
import math
import pathlib

import numpy as np
import pytest
from PIL import Image

from locornn import cli
from locornn.reproduce import screens

RESULTS = pathlib.Path(__file__).resolve().parents[1] / "results"


def _write(run: pathlib.Path, name: str, content) -> None:
    run.mkdir(parents=True, exist_ok=True)
    if name.endswith(".jsonl"):
        (run / name).write_text("".join(json.dumps(r) + "\n" for r in content))
    else:
        (run / name).write_text(json.dumps(content))


def _protocols(agreement):
    return {"protocols": {p: {"fraction_selective": 0.5, "neighbour_agreement": agreement,
                              "chance_agreement": 0.13, "domain_area": 9.0}
                          for p in screens.PROTOCOLS}}


PROBE = {"split": "probe", "step": 2000, "phase_mean_wavelength": 3.5,
         "phase_peak_wavelength": 4.0, "phase_neighbour_phase_difference": 1.25,
         "phase_plane_wave_fraction": 0.3, "traveling_wave_strength": 0.75}


def orientation_run(root: pathlib.Path, data: str = "waves") -> pathlib.Path:
    """A finished orientation run's files: log, config, selectivity (the untrained one without
    selective sites' agreement) and reach."""
    run = root / f"run_{data}"
    _write(run, "metrics.jsonl", [{"split": "test", "step": 1000, "mse": 0.2},
                                  {**PROBE, "step": 1000}, {"split": "test", "step": 2000,
                                                            "mse": 0.05}, PROBE])
    _write(run, "config.json", {"data": {"name": data}})
    _write(run, "selectivity.json", _protocols(0.4))
    _write(run, "selectivity_untrained.json", _protocols(None))
    reach = {"lattice": 32, "dt": 0.96, "gamma": 0.47, "alpha": 0.51, "reach_training": 0.3,
             "sequence_length": 20, "reach_analysis": 0.35, "analysis_length": 100,
             "centre_share_training": 0.93, "reach_curve": [0.0, 0.2, 0.3]}
    _write(run, "reach.json", reach)
    _write(run, "reach_untrained.json", {**reach, "reach_training": 0.01})
    return run


def test_the_orientation_screen_reads_the_last_test_and_probe_and_every_protocol(tmp_path):
    run = orientation_run(tmp_path)
    text = screens.make("orientation", [f"KL 0.5={run}"], tmp_path / "screen.md")
    head, rule, row = text.splitlines()
    assert head.startswith("| run | steps | held-out MSE | / mean frame | phase wavelength |")
    assert rule == "|" + "---|" * 12
    trained, untrained = "0.50 / 0.40 (0.13) / 9", "0.50 / -"
    assert row == ("| KL 0.5 | 2000 | 0.0500 | 0.400 | 3.50 | 1.25 | "
                   + " | ".join([trained] * 3 + [untrained] * 3) + " |")
    assert (tmp_path / "screen.md").read_text() == text


def test_the_reach_table_sets_each_reach_beside_the_radius_of_its_domain_area(tmp_path):
    waves, mnist = orientation_run(tmp_path), orientation_run(tmp_path, "rotating_mnist")
    text = screens.make("reach", [f"waves={waves}", f"mnist={mnist}"], tmp_path / "reach.md")
    rows = [line.split(" | ") for line in text.splitlines()[2:]]
    radius = f"{math.sqrt(9 / math.pi):.2f}"
    assert rows[0] == ["| waves", "32x32", "0.40", "0.960", "0.47", "0.51", "0.30 (20 steps)",
                       "0.35 (100 steps)", "0.93", "0.40 (0.13)", "9", radius, "0.01 |"]
    assert rows[1][2] == "-"  # no known mean-frame MSE for rotating MNIST


def test_the_probe_log_lists_every_probe_with_the_held_out_mse_of_its_step(tmp_path):
    run = orientation_run(tmp_path)
    _write(run, "metrics.jsonl", [{**PROBE, "step": 750}, {"split": "test", "step": 2000,
                                                           "mse": 0.05}, PROBE])
    rows = screens.make("probes", [str(run)], tmp_path / "probes.md").splitlines()[2:]
    assert rows == ["| 750 | - | 3.50 | 4.00 | 1.25 | 0.30 | 0.75 |",
                    "| 2000 | 0.0500 | 3.50 | 4.00 | 1.25 | 0.30 | 0.75 |"]


def forecasting_run(root, name, *, system="mass_spring", seed=0, steps=1200, budgets=()):
    run = root / name
    test = {"vpt": 100.0 + seed, "vpt_mean": 120.25, "vpt_at_cap": 1, "extrapolation_steps": 936,
            "vpt_start": 64, "vpt_trajectories": 32, "mse": 1.5e-3,
            "core": {"alpha": 0.5, "dt": 0.25, "gamma": 1.0, "free_end_amplitude": 0.125}}
    _write(run, "config.json", {"data": {"system": system}, "seed": seed,
                                "train": {"schedule": "cosine"}})
    _write(run, "summary.json", {"steps": steps, "test": test})
    for budget in budgets:
        _write(run, f"summary_{budget}.json", {"test": {**test, "vpt": float(budget // 100)}})
    _write(run, "vpt.json", {"median_error_per_step": [0.0125, 0.5]})
    return run


def test_the_budget_screen_reads_every_budget_and_the_state_probe_when_it_ran(tmp_path):
    budget = forecasting_run(tmp_path, "budget", budgets=(4800, 1200))
    single = forecasting_run(tmp_path, "single", steps=20000)
    _write(single, "state_probe.json", {"probes": [{"features": "encoder", "r2": 0.91},
                                                   {"features": "state, window", "r2": 0.5},
                                                   {"features": "state, beyond", "r2": -0.2}]})
    rows = screens.make("budget", [f"pixel={budget}", f"train={single}"],
                        tmp_path / "screen.md").splitlines()[2:]
    assert rows == ["| pixel | 1,200 / 4,800 | 12 / 48 | 0.0015 / 0.0015 | 0.013 | not run |",
                    "| train | 20,000 | 100 | 0.0015 | 0.013 | 0.91 / 0.50 / -0.20 |"]


def test_cosine_runs_are_sorted_by_system_steps_and_seed_and_written_as_csv_too(tmp_path):
    runs = [forecasting_run(tmp_path, "c", system="pendulum", steps=20000),
            forecasting_run(tmp_path, "b", seed=1, steps=1200),
            forecasting_run(tmp_path, "a", seed=0, steps=4800),
            forecasting_run(tmp_path, "d", seed=0, steps=1200)]
    text = screens.make("cosine", [str(r) for r in runs], tmp_path / "runs.md")
    rows = [line.split(" | ")[:4] for line in text.splitlines()[2:6]]
    assert rows == [["| mass_spring", "0", "cosine", "1,200"],
                    ["| mass_spring", "1", "cosine", "1,200"],
                    ["| mass_spring", "0", "cosine", "4,800"], ["| pendulum", "0", "cosine",
                                                                "20,000"]]
    assert text.endswith("\nVPT: steps from frame 64 of 32 held-out trajectories of 1000 "
                         "frames, capped at 936 steps.\n")
    with open(tmp_path / "runs.csv") as f:
        records = list(csv.DictReader(f))
    assert [(r["system"], r["seed"], r["steps"]) for r in records] == [
        ("mass_spring", "0", "1200"), ("mass_spring", "1", "1200"), ("mass_spring", "0", "4800"),
        ("pendulum", "0", "20000")]
    assert tuple(records[0]) == screens.COSINE_COLUMNS


@pytest.mark.parametrize("kind, committed, inputs", [
    ("horizon-figure", "horizon/horizon.png", ["horizon"]),
    ("budget-figure", "horizon/budget_spring.png", ["horizon", "lr_decay"]),
])
def test_the_figures_drawn_from_committed_tables_remake_the_committed_figures(
        kind, committed, inputs, tmp_path):
    out = tmp_path / "figure.png"
    assert cli.main(["reproduce", "screen", kind, *(str(RESULTS / i) for i in inputs),
                     "--out", str(out)]) == 0
    made = np.asarray(Image.open(out).convert("RGB"), float)
    kept = np.asarray(Image.open(RESULTS / committed).convert("RGB"), float)
    assert made.shape == kept.shape
    assert np.abs(made - kept).mean() < 1.0  # the same drawing (font rendering aside)


def test_the_reach_figure_draws_every_run(tmp_path):
    run = orientation_run(tmp_path)
    assert cli.main(["reproduce", "screen", "reach-figure", f"a={run}", f"b={run}",
                     "--out", str(tmp_path / "reach.png")]) == 0
    assert Image.open(tmp_path / "reach.png").size == (900, 504)


@pytest.mark.parametrize("argv, message", [
    (["orientation", "{run}"], "give each run as NAME=RUN_DIR"),
    (["orientation", "a={missing}"], "no such run directory"),
    (["reach", "a={bare}"], "no reach.json (screen 'reach' reads it)"),
    (["budget-figure", "{root}"], "two folders"),
])
def test_a_bad_input_is_one_line_and_exit_2_and_nothing_is_written(argv, message, tmp_path,
                                                                    capsys):
    run = orientation_run(tmp_path)
    bare = tmp_path / "bare"
    _write(bare, "config.json", {"data": {"name": "waves"}})
    _write(bare, "metrics.jsonl", [])
    out = tmp_path / "out.md"
    words = [w.format(run=run, missing=tmp_path / "nope", bare=bare, root=RESULTS / "horizon")
             for w in argv]
    assert cli.main(["reproduce", "screen", *words, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_drive_halves_measures_the_drive_and_the_lattice_of_a_trained_run(waves_run, tmp_path):
    text = screens.make("drive-halves", [f"smoke={waves_run}"], tmp_path / "halves.md")
    head, _, row = text.splitlines()
    cells = row.strip("| ").split(" | ")
    assert cells[:2] == ["smoke", "4"]
    numbers = [float(c) for c in cells[2:]]
    assert len(numbers) == 8 and all(math.isfinite(x) for x in numbers)
    assert 0.0 <= numbers[3] <= 1.0 and 0.0 <= numbers[7] <= 1.0  # selective shares
