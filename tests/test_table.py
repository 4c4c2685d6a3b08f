"""Table 1: every cell filled from real runs, finished runs reused on restart."""

import pytest

from locornn import table, train
from tests.conftest import ROOT


@pytest.mark.slow
def test_table_on_the_smoke_preset_fills_every_cell_and_reuses_finished_runs(
        tmp_path, monkeypatch):
    # A slice of the table (one system, two models, one seed) keeps this test to ~1 minute.
    options = dict(seeds=(0,), systems=("mass_spring",), models=("locornn", "lstm"),
                   root=tmp_path / "runs", results=tmp_path / "results",
                   experiment=ROOT / "experiments" / "hamiltonian.py",
                   overrides=[f"--config.data.cache_dir={tmp_path / 'cache'}",
                              "--config.figures.enabled=False"], progress=False)
    md = table.build_table("smoke", **options)
    text = md.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| Spring"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    assert len(cells) == 6 and all(c[0].isdigit() for c in cells)  # 2 ours + 4 published
    assert "311.8 (27)" in row  # the paper's LocoRNN number beside ours
    csv_rows = (tmp_path / "results" / "table1_smoke.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + 2

    calls = []
    monkeypatch.setattr(train, "train_and_evaluate", lambda *a, **k: calls.append(a))
    assert table.build_table("smoke", **options).read_text() == text
    assert table.build_table("smoke", vmap_seeds=True, **options).read_text() == text
    assert calls == []  # nothing retrained
