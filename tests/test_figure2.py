"""Figure 2: orientation maps (waves / noise / untrained) and the domain-size sweep, from runs."""

import json

import pytest
from PIL import Image

from locornn import cli, train
from locornn.analysis.topography import domains
from locornn.reproduce import figures
from locornn.reproduce.figures import _cell

pytestmark = pytest.mark.slow  # trains six 5-step smoke runs (about a minute on 2 busy cores)

FAST = ("--config.train.num_steps=5", "--config.train.eval_every=5",
        "--config.train.checkpoint_every=5", "--config.figures.enabled=false")
SWEEP = dict(wavelengths=(4, 6), kernel_sizes=(3, 5))


@pytest.fixture(scope="module")
def calls():
    """Every train_and_evaluate call (workdir) made by the figures module."""
    return []


@pytest.fixture(scope="module")
def first(tmp_path_factory, calls):
    """figure2 on the smoke preset with a tiny sweep, in empty tmp dirs (trains every run)."""
    base = tmp_path_factory.mktemp("figure2")
    real = train.train_and_evaluate
    patch = pytest.MonkeyPatch()
    patch.setattr(train, "train_and_evaluate",
                  lambda config, workdir, **kw: (calls.append(str(workdir)),
                                                 real(config, workdir, **kw))[1])
    result = figures.figure2(base / "results", base / "runs", preset="smoke", seed=0,
                             overrides=FAST, **SWEEP)
    yield base, result
    patch.undo()


def _table(text: str, title: str) -> list[str]:
    section = text.split(f"## {title}", 1)[1].split("## ", 1)[0]
    return [line for line in section.splitlines()
            if line.startswith("| ") and "---" not in line]


def test_figure2_trains_every_run_and_writes_maps_sweep_and_table(first, calls):
    base, result = first
    runs = base / "runs"
    sweep = runs / "orientation_sweep" / "smoke"
    expected = [runs / "orientation" / "smoke" / "0", runs / "orientation_noise" / "smoke" / "0",
                sweep / "wavelength_4" / "0", sweep / "wavelength_6" / "0",
                sweep / "kernel_3" / "0", sweep / "kernel_5" / "0"]
    assert calls == [str(p) for p in expected]
    for run in expected:
        assert (run / "summary.json").is_file()
        assert (run / "selectivity.json").is_file()
        assert (run / "orientation_maps_untrained.npz").is_file()
    noise = json.loads((expected[1] / "config.json").read_text())
    assert noise["data"]["name"] == "noise" and noise["analysis"]["orientation"] is True
    w6 = json.loads((expected[3] / "config.json").read_text())
    assert w6["data"]["wavelength_min"] == w6["data"]["wavelength_max"] == 6.0
    assert json.loads((expected[5] / "config.json").read_text())["model"]["kernel_size"] == 5
    assert json.loads((expected[3] / "selectivity.json").read_text())["stimuli"]["wavelength"] \
        == 6.0

    results = base / "results"
    assert result["figure"] == str(results / "figure2.png")
    with Image.open(results / "figure2.png") as maps, \
            Image.open(results / "figure2_sweep.png") as plot:
        assert maps.size[0] > 2 * maps.size[1]  # three panels side by side
        assert plot.size[0] > plot.size[1]  # two panels
    assert list(result["maps"]) == ["trained on waves", "trained on noise", "untrained"]
    assert result["skipped"] == []

    text = (results / "figure2.md").read_text()
    assert "measured" in text
    maps_rows = _table(text, "Maps")
    assert [r.split("|")[1].strip() for r in maps_rows[1:]] == list(result["maps"])
    header, *body = _table(text, "Sweep")
    assert "domain size (trained)" in header and "fraction selective (trained)" in header
    assert [r.split("|")[1:3] for r in body] == [
        [" training wavelength (px) ", " 4 "], [" training wavelength (px) ", " 6 "],
        [" coupling kernel size ", " 3 "], [" coupling kernel size ", " 5 "]]
    assert all(len(r.split("|")) == len(header.split("|")) for r in body)
    domain = json.loads((expected[4] / "selectivity.json").read_text())["domain_size"]
    cell = "NaN" if domain is None else f"{domain:.3f}"
    assert body[2].split("|")[4].strip() == cell
    # the authors' numbers beside the sweep's own, where the authors have that sweep point
    assert "authors' neighbour agreement" in header
    authors = domains.AUTHORS_NUMBERS[("kernel", 3)]
    assert [c.strip() for c in body[2].split("|")[-3:-1]] == [_cell(v) for v in authors]
    assert [c.strip() for c in body[0].split("|")[-3:-1]] == ["n/a", "n/a"]  # 4 px: none
    # every protocol's numbers, for each of the three panels
    protocol_rows = _table(text, "Protocols")[1:]
    assert [tuple(c.strip() for c in r.split("|")[1:3]) for r in protocol_rows] == [
        (panel, name) for panel in result["maps"] for name in ("phases", "trials", "amplitude")]
    assert result["sweep_maps_figure"] == str(results / "figure2_sweep_maps.png")
    with Image.open(results / "figure2_sweep_maps.png") as sweep_maps:
        assert sweep_maps.size[1] > 0.5 * sweep_maps.size[0]  # two rows of panels


def test_figure2_reuses_finished_runs(first, calls):
    base, _ = first
    count = len(calls)
    result = figures.figure2(base / "results2", base / "runs", preset="smoke", seed=0,
                             overrides=FAST, **SWEEP)
    assert len(calls) == count  # nothing retrained
    assert len(result["sweep"]) == 4
    assert (base / "results2" / "figure2_sweep.png").is_file()


def test_figure2_without_training_skips_missing_runs(first, calls, tmp_path):
    base, _ = first
    count = len(calls)
    with pytest.raises(RuntimeError, match="no run to draw"):
        figures.figure2(tmp_path / "results", tmp_path / "runs", preset="smoke",
                        train_missing=False, **SWEEP)
    # A sweep point that was never trained is skipped; the rest is drawn.
    result = figures.figure2(tmp_path / "results", base / "runs", preset="smoke",
                             train_missing=False, wavelengths=(4, 9), kernel_sizes=(),
                             overrides=FAST)
    assert len(calls) == count
    assert result["skipped"] == ["sweep wavelength_9"]
    assert [r["value"] for r in result["sweep"]] == [4.0]


def test_command_line_figure2(first, calls, capsys, monkeypatch):
    base, _ = first
    count = len(calls)
    monkeypatch.chdir(base)  # outside the repository: the experiments ship with the package
    code = cli.main(["reproduce", "figure2", "--preset", "smoke", "--no-train",
                     "--results-dir", str(base / "cli"), "--runs-root", str(base / "runs"),
                     "--wavelengths", "4", "6", "--kernel-sizes", "3", "5", *FAST])
    assert code == 0
    assert "## Sweep" in capsys.readouterr().out
    assert (base / "cli" / "figure2.png").is_file()
    code = cli.main(["reproduce", "figure2", "--preset", "smoke", "--no-train",
                     "--runs-root", str(base / "empty"), "--results-dir", str(base / "cli2"),
                     "--kernel-sizes"])
    assert code == 2
    assert "no run to draw" in capsys.readouterr().err
    assert len(calls) == count


def test_maps_written_without_every_protocol_are_measured_again(first):
    base, _ = first
    run = base / "runs" / "orientation" / "smoke" / "0"
    trained, untrained = run / "selectivity.json", run / "selectivity_untrained.json"
    before = untrained.stat().st_mtime_ns
    summary = json.loads(trained.read_text())
    del summary["protocols"]  # as the analysis wrote it when it had one protocol
    trained.write_text(json.dumps(summary))
    figures._ensure_maps(run)
    assert set(json.loads(trained.read_text())["protocols"]) == {"phases", "trials", "amplitude"}
    assert untrained.stat().st_mtime_ns == before  # complete: left alone
