"""The tutorial (docs/tutorial.md) runs: its script, at the smoke preset, goes from an array of
frames to a trained lattice, its phase video, its wave statistics and its reach; and the page
shows the script as it is."""

import json
import re
import runpy
import sys

from tests.conftest import ROOT

SCRIPT = ROOT / "examples" / "own_recording.py"


def test_the_page_shows_the_script_verbatim():
    page = (ROOT / "docs" / "tutorial.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    assert SCRIPT.read_text() in blocks


def test_the_tutorial_script_runs_from_frames_to_waves_and_reach(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--out", str(tmp_path), "--tiny"])
    runpy.run_path(str(SCRIPT), run_name="__main__")
    run = tmp_path / "run"
    for name in ("waves.json", "waves_phase.gif", "phase_map.png", "reach.json", "reach.png",
                 "figure1.png"):
        assert (run / name).is_file(), name
    assert list(run.glob("events.out.tfevents.*"))
    assert json.loads((run / "data.json").read_text())["kind"] == "video"
    assert "traveling-wave strength" in capsys.readouterr().out.splitlines()[-1]
