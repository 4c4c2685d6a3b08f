"""Figure 1 and the wave table: assembled from runs, training only the missing ones."""

import json

import pytest
from PIL import Image

from locornn import checkpoints, cli, configs, data, train
from locornn.reproduce import figures
from tests.conftest import experiment_config

pytestmark = pytest.mark.slow  # trains two smoke runs (about a minute on 2 busy cores)

FAST = ("--config.train.num_steps=5", "--config.train.eval_every=5",
        "--config.train.checkpoint_every=5", "--config.figures.enabled=false")


@pytest.fixture(scope="module")
def calls():
    """Every train_and_evaluate call (experiment name) made by the figures module."""
    return []


@pytest.fixture(scope="module")
def first(tmp_path_factory, calls):
    """figure1 on the smoke preset for waves and noise, in empty tmp dirs (trains both)."""
    base = tmp_path_factory.mktemp("figures")
    real = train.train_and_evaluate
    patch = pytest.MonkeyPatch()
    patch.setattr(train, "train_and_evaluate",
                  lambda config, workdir, **kw: (calls.append(config.experiment),
                                                 real(config, workdir, **kw))[1])
    result = figures.figure1(base / "results", base / "runs", preset="smoke", seed=0,
                             train_missing=True, experiments=("waves", "noise"),
                             overrides=FAST)
    yield base, result
    patch.undo()


def _checkpoint_mtimes(runs):
    return {p: p.stat().st_mtime_ns for p in sorted(runs.rglob("checkpoints/*/**/*"))
            if p.is_file()}


def test_figure1_trains_missing_runs_and_writes_the_figure_and_one_gif_per_quadrant(first, calls):
    base, result = first
    assert calls == ["waves", "noise"]
    results = base / "results"
    for name in ("waves", "noise"):
        run = base / "runs" / name / "smoke" / "0"
        assert (run / "summary.json").is_file() and (run / "checkpoints" / "5").is_dir()
        assert result["quadrants"][name]["run"] == str(run)
        test_length = data.load(checkpoints.load_run(run)[0].data).test.shape[1]
        with Image.open(results / f"figure1_{name}.gif") as gif:
            assert gif.n_frames == test_length - 1  # one picture per predicted frame
    with Image.open(results / "figure1.png") as figure, \
            Image.open(results / "figure1_waves.png") as quadrant:
        # two quadrants side by side
        assert figure.size[0] >= 2 * quadrant.size[0] and figure.size[1] >= quadrant.size[1]
    assert result["figure"] == str(results / "figure1.png") and result["skipped"] == []


def test_figure1_reuses_finished_runs_and_skips_experiments_without_a_file(first, calls, capsys):
    base, _ = first
    before = _checkpoint_mtimes(base / "runs")
    assert before
    count = len(calls)
    result = figures.figure1(base / "results2", base / "runs", preset="smoke", seed=0,
                             experiments=("waves", "no_such_experiment", "noise"),
                             overrides=FAST)
    assert len(calls) == count  # nothing retrained
    assert _checkpoint_mtimes(base / "runs") == before
    assert result["skipped"] == ["no_such_experiment"]
    assert "skipping no_such_experiment" in capsys.readouterr().out
    assert (base / "results2" / "figure1.png").is_file()
    assert not (base / "results2" / "figure1_no_such_experiment.gif").exists()


def test_figure1_without_training_refuses_when_no_run_exists(tmp_path, calls):
    count = len(calls)
    with pytest.raises(RuntimeError, match="no run to draw"):
        figures.figure1(tmp_path / "results", tmp_path / "runs", preset="smoke",
                        train_missing=False, experiments=("waves", "noise"))
    assert len(calls) == count
    assert not (tmp_path / "runs").exists()


def _fake_run(root, steps_trained, **updates):
    """A waves smoke run's files as training leaves them (config.json, summary.json)."""
    run = root / "waves" / "smoke" / "0"
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(experiment_config("waves", **updates).to_json())
    (run / "summary.json").write_text(json.dumps({"steps": steps_trained}))
    return run


def _ensure(root, *overrides):
    return figures.ensure_run("waves", runs_root=root, preset="smoke", train_missing=False,
                              overrides=overrides)


def test_an_unfinished_run_is_not_reused(tmp_path):
    run = _fake_run(tmp_path, 3, train__num_steps=5)
    assert _ensure(tmp_path, "--config.train.num_steps=5") is None
    run = _fake_run(tmp_path, 5, train__num_steps=5)
    assert _ensure(tmp_path, "--config.train.num_steps=5") == run


def test_a_finished_run_shorter_than_asked_is_not_reused_and_a_longer_one_is(tmp_path, capsys):
    run = _fake_run(tmp_path, 5, train__num_steps=5)
    assert _ensure(tmp_path, "--config.train.num_steps=8") is None  # would be resumed to 8
    assert "no run trained to 8 steps" in capsys.readouterr().out
    assert _ensure(tmp_path, "--config.train.num_steps=3") == run
    assert "trained to 5 steps, 3 asked" in capsys.readouterr().out


def test_a_finished_run_of_another_config_is_refused_naming_the_keys(tmp_path):
    """Asked for KL weight 0.5, a figure must not be drawn from the weight-1 run in its folder."""
    run = _fake_run(tmp_path, 5, train__num_steps=5)
    before = (run / "config.json").read_text()
    with pytest.raises(configs.ConfigError, match=r"differs at train\.kl_weight"):
        _ensure(tmp_path, "--config.train.num_steps=5", "--config.train.kl_weight=0.5")
    assert (run / "config.json").read_text() == before  # nothing overwritten


def test_waves_table_has_one_row_per_experiment_and_state(first, calls):
    base, _ = first
    count = len(calls)
    result = figures.waves_table(base / "results", base / "runs", "smoke", 0,
                                 ("waves", "noise"), train_missing=False, num_sequences=2,
                                 overrides=FAST)
    assert len(calls) == count
    text = (base / "results" / "waves.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    header, body = rows[0], rows[1:]
    for column in ("global synchrony", "local synchrony", "traveling-wave strength",
                   "standing-wave index"):
        assert column in header
    assert [r.split("|")[1:3] for r in body] == [
        [" waves ", " untrained "], [" waves ", " trained (5 steps) "],
        [" noise ", " untrained "], [" noise ", " trained (5 steps) "]]
    assert all(len(r.split("|")) == len(header.split("|")) for r in body)
    assert "measured" in text and "traveling-wave strength" in text.split("|")[0]
    # The cells are the reports' numbers (also written into each run).
    trained = json.loads((base / "runs" / "noise" / "smoke" / "0" / "waves.json").read_text())
    assert trained["num_sequences"] == 2
    assert f"{trained['metrics']['global_synchrony']:.3f}" in body[3]
    assert [(r["experiment"], r["state"]) for r in result["rows"]] == [
        ("waves", "untrained"), ("waves", "trained"), ("noise", "untrained"),
        ("noise", "trained")]


def test_command_line_figures(first, calls, capsys, monkeypatch):
    base, _ = first
    count = len(calls)
    monkeypatch.chdir(base)  # outside the repository: the experiments ship with the package
    common = ["--preset", "smoke", "--no-train", "--results-dir", str(base / "cli"),
              "--experiments", "noise"]
    code = cli.main(["reproduce", "waves-table", *common, "--runs-root", str(base / "empty")])
    assert code == 2  # no run and --no-train: nothing to measure, nothing trained
    assert "no run to measure" in capsys.readouterr().err
    code = cli.main(["reproduce", "figure1", *common, "--runs-root", str(base / "runs"),
                     *FAST])
    assert code == 0  # the finished 5-step run, of the config asked for, is reused
    assert f"wrote {base / 'cli' / 'figure1.png'}" in capsys.readouterr().out
    assert (base / "cli" / "figure1_noise.gif").is_file()
    # The same run asked for with another config: refused with the key named, exit 2.
    code = cli.main(["reproduce", "figure1", *common, "--runs-root", str(base / "runs"),
                     *FAST, "--config.model.kernel_size=5"])
    assert code == 2
    assert "model.kernel_size" in capsys.readouterr().err
    assert len(calls) == count


def test_an_experiment_without_the_preset_is_drawn_from_its_cpu_preset_and_says_so(capsys):
    config = figures._load_config("mass_spring", "reference", 0, None, ())
    assert config.preset == "cpu" and config.data.system == "mass_spring"
    assert "hamiltonian.py has no 'reference' preset; using 'cpu'" in capsys.readouterr().out
    assert figures._load_config("waves", "reference", 0, None, ()).preset == "reference"
