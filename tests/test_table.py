"""Table 1: every cell filled from real runs, finished runs reused on restart."""

import numpy as np
import pytest

from locornn import configs, train
from locornn.reproduce import table


@pytest.mark.slow
def test_table_on_the_smoke_preset_fills_every_cell_and_reuses_finished_runs(
        tmp_path, monkeypatch):
    # A slice of the table (one system, two models, one seed) keeps this test to ~1 minute.
    options = dict(seeds=(0,), systems=("mass_spring",), models=("locornn", "lstm"),
                   root=tmp_path / "runs", results=tmp_path / "results",
                   experiment="hamiltonian",
                   overrides=[f"--config.data.cache_dir={tmp_path / 'cache'}",
                              "--config.figures.enabled=False"], progress=False)
    md = table.build_table("smoke", **options)
    text = md.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| Spring"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    assert len(cells) == 6 and all(c[0].isdigit() for c in cells)  # 2 ours + 4 published
    assert "311.8 (27)" in row  # the paper's LocoRNN number beside ours
    assert "VPT is capped at 10 steps: test trajectories of 20 frames, counted from frame 10" \
        in text
    assert "| Spring | " in text.split("Oscillator cores: free decay")[1]  # LocoRNN's decay
    assert md == tmp_path / "results" / "table1_smoke_20frame.md"  # the protocol in its name
    csv_rows = (tmp_path / "results" / "table1_smoke_20frame.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + 2
    assert (tmp_path / "results" / "table1_smoke_20frame.png").stat().st_size > 0  # the bars

    calls = []
    monkeypatch.setattr(train, "train_and_evaluate", lambda *a, **k: calls.append(a))
    assert table.build_table("smoke", **options).read_text() == text
    assert table.build_table("smoke", vmap_seeds=True, **options).read_text() == text
    assert calls == []  # nothing retrained

    # A cell whose folder holds a run of another config is an error naming the key, not a
    # number from another setting; a run trained for fewer steps than asked is not finished.
    changed = options | {"overrides": [*options["overrides"], "--config.model.gru_units=3"]}
    with pytest.raises(configs.ConfigError, match="model.gru_units"):
        table.build_table("smoke", **changed)
    longer = options | {"overrides": [*options["overrides"], "--config.train.num_steps=12"]}
    table.build_table("smoke", **longer)
    assert len(calls) == 2  # both cells resumed to 12 steps


def test_each_core_trains_with_its_own_protocol_and_overrides_still_win():
    experiment = "hamiltonian"

    def cell(model, *overrides):
        return table.cell_config("cpu", "mass_spring", model, 0, experiment, overrides)

    # the oscillators and HGN++ on whole 256-frame trajectories, the ODE on 128-frame windows,
    # the LSTM on 64 (each core's measured best: experiments/hamiltonian.py, README)
    assert {cell(m).data.sequence_length for m in ("locornn", "cornn", "hgn")} == {256}
    assert cell("node").data.sequence_length == 128
    assert cell("lstm").data.sequence_length == 64
    assert {cell(m).data.trajectory_length for m in table.MODELS} == {256}  # the same data
    assert cell("locornn").evaluation.vpt_start == 64 and cell("lstm").evaluation.vpt_start == 0
    assert cell("lstm", "--config.data.sequence_length=96").data.sequence_length == 96


def test_every_table_states_the_vpt_cap_its_protocol_allows():
    """The cap is test trajectory length minus the frame VPT counts from, read off the config:
    936 steps at the cpu preset (the paper's 1000-frame test trajectories, from frame 64) for
    every core, 336 on 400-frame ones."""
    def protocol(model, *overrides):
        return table.evaluation_protocol(table.cell_config("cpu", "mass_spring", model, 0,
                                                           "hamiltonian", overrides))

    assert protocol("locornn") == {"window": 256, "test_frames": 1000, "vpt_start": 64,
                                   "vpt_cap": 936}
    assert protocol("lstm")["vpt_cap"] == 936  # 64-frame windows: VPT from their end, 64
    short = protocol("lstm", "--config.data.test_sequence_length=400")
    assert short["vpt_cap"] == 336 and short["test_frames"] == 400
    same = table.cap_note({"LocoRNN": protocol("locornn"), "LSTM": protocol("lstm")})
    assert same.startswith("VPT is capped at 936 steps: test trajectories of 1000 frames")
    mixed = table.cap_note({"LocoRNN": protocol("locornn"), "LSTM": short})
    assert "936 steps for LocoRNN" in mixed and "336 steps for LSTM" in mixed


def test_decay_cells_say_when_the_lattice_did_not_decay_within_the_horizon():
    def runs(*decays):
        return [{"test": {"core": {"alpha": 0.5, "dt": 0.1, "gamma": 1.0,
                                   "free_decay_steps": d, "free_decay_horizon": 399}}}
                for d in decays]

    assert table.decay_cell(table.core_diagnostics(runs(120, 140, 200))) == "140"
    assert table.decay_cell(table.core_diagnostics(runs(120, None, None))) == "> 399"
    swinging = runs(None, None)
    for run, end in zip(swinging, (1.2, 1.3), strict=True):
        run["test"]["core"]["free_end_amplitude"] = end
    assert table.decay_cell(table.core_diagnostics(swinging)) == "> 399, end 1.25x"
    lstm = table.core_diagnostics([{"test": {}}])
    assert table.decay_cell(lstm) == "-" and np.isnan(lstm["alpha"])


def test_every_published_column_is_paired_with_one_of_our_models():
    """HGN++, the Neural ODE, the LSTM and LocoRNN each have a paper column to be marked
    against (coRNN has none)."""
    ours = {table.MODEL_NAMES[m] for m in table.MODELS}
    for system in table.PAPER:
        assert set(table.published(system)) <= ours, system
    assert table.published("mass_spring")[table.MODEL_NAMES["hgn"]] == (447, 0)
    assert table.published("mass_spring")["Neural ODE"] == (430, 26)
