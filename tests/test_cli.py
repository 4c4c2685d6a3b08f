"""The command line: overrides, clear config errors, and a full train run with its outputs."""

import json

import pytest

from locornn import cli, configs

WAVES = "waves"


def test_config_overrides_from_the_command_line_change_the_field():
    config = configs.load(f"{WAVES}:smoke", ["--config.model.lattice=6", "--config.seed=3"])
    assert config.model.lattice == 6 and config.seed == 3 and config.preset == "smoke"


@pytest.mark.parametrize("override, message", [
    ("--config.model.latice=6", "latice"),
    ("--config.model.lattice=abc", "model.lattice"),
    ("--config.model.kernel_size=4", "'model.kernel_size' must be a positive odd number"),
])
def test_bad_overrides_are_refused_with_the_key_named(override, message):
    with pytest.raises(configs.ConfigError, match=message):
        configs.load(f"{WAVES}:smoke", [override])


def test_unknown_preset_and_missing_file_are_refused():
    with pytest.raises(configs.ConfigError, match="unknown preset 'huge'"):
        configs.load(f"{WAVES}:huge")
    with pytest.raises(configs.ConfigError, match="no experiment 'experiments/nope.py'"):
        configs.load("experiments/nope.py:cpu")
    with pytest.raises(configs.ConfigError, match="no experiment 'nope'"):
        configs.load("nope:cpu")


def test_an_experiment_is_named_by_packaged_name_old_path_or_own_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside the repository
    by_name = configs.load("hamiltonian:smoke")
    by_old_path = configs.load("experiments/hamiltonian.py:smoke")
    assert by_name.to_dict() == by_old_path.to_dict()
    mine = tmp_path / "mine.py"
    mine.write_text("from locornn.experiments import waves\n\n\n"
                    "def get_config(preset='cpu'):\n"
                    "    config = waves.get_config(preset)\n"
                    "    config.model.lattice = 5\n"
                    "    return config\n")
    assert configs.load(f"{mine}:smoke").model.lattice == 5
    assert configs.load("mine.py:smoke").model.lattice == 5
    assert "hamiltonian" in configs.experiment_names()


def test_train_command_writes_config_metrics_checkpoint_and_figures(tmp_path, capsys):
    code = cli.main(["train", "--config", f"{WAVES}:smoke", "--workdir", str(tmp_path),
                     "--quiet", "--config.train.num_steps=10"])
    assert code == 0
    for name in ("config.json", "metrics.jsonl", "summary.json", "loss.png", "figure1.png",
                 "hidden.gif"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "checkpoints" / "10").is_dir()
    assert json.loads((tmp_path / "config.json").read_text())["train"]["num_steps"] == 10
    assert cli.main(["eval", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["step"] == 10


def test_train_command_exits_2_on_a_bad_key(tmp_path, capsys):
    code = cli.main(["train", "--config", f"{WAVES}:smoke", "--workdir", str(tmp_path),
                     "--config.train.nm_steps=3"])
    assert code == 2
    assert "nm_steps" in capsys.readouterr().err


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for command in ("train", "eval", "reproduce", "data", "analyze", "bench"):
        assert command in out


def test_default_workdirs_separate_experiments_presets_seeds_and_forecasting_cells():
    from locornn import train

    waves = configs.load(f"{WAVES}:smoke", ["--config.seed=2"])
    assert str(train.default_workdir(waves)) == "runs/waves/smoke/2"
    hamiltonian = configs.load("hamiltonian:cpu",
                               ["--config.data.system=pendulum", "--config.model.kind=lstm"])
    assert str(train.default_workdir(hamiltonian)) == "runs/hamiltonian/cpu/pendulum/lstm/0"


def test_bench_runs_every_script_and_passes_its_flags_through(tmp_path):
    for name in ("bench_a.py", "bench_b.py"):  # each ends with sys.exit(0), as scripts do
        (tmp_path / name).write_text(
            "import pathlib, sys\n"
            f"pathlib.Path(r'{tmp_path}', '{name}.argv').write_text(' '.join(sys.argv[1:]))\n"
            "sys.exit(0)\n")
    assert cli.main(["bench", "--dir", str(tmp_path), "--quick"]) == 0
    assert (tmp_path / "bench_a.py.argv").read_text() == "--quick"
    assert (tmp_path / "bench_b.py.argv").read_text() == "--quick"


@pytest.mark.parametrize("override, message", [
    ("--config.model.kernel_size=11", "'model.kernel_size' (11) is larger than the lattice"),
    ("--config.model.decoder=conv --config.data.image_size=10",
     "needs an image side divisible by 4, got 10"),
])
def test_sizes_that_cannot_work_exit_2_with_one_line(tmp_path, capsys, override, message):
    code = cli.main(["train", "--config", f"{WAVES}:smoke", "--workdir", str(tmp_path / "run"),
                     "--quiet", *override.split()])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_a_workdir_that_cannot_be_written_exits_2_with_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")  # a workdir below a file cannot be created, even as root
    code = cli.main(["train", "--config", f"{WAVES}:smoke", "--workdir", str(blocker / "run"),
                     "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "argument --workdir: must be a folder path (not a file, nor below one)" in err
    assert blocker.read_text() == "not a folder"  # nothing already written is lost


def test_train_without_a_workdir_puts_the_run_under_runs_root(tmp_path):
    code = cli.main(["train", "--config", f"{WAVES}:smoke", "--runs-root", str(tmp_path),
                     "--quiet", "--config.train.num_steps=2", "--config.figures.enabled=False"])
    assert code == 0
    assert (tmp_path / "waves" / "smoke" / "0" / "summary.json").is_file()


@pytest.mark.parametrize("experiment, variant", [("hamiltonian", "fast"),
                                                 ("waves", "dt_0.5+fast")])
def test_ablation_refuses_an_unknown_variant_in_one_line_before_training(
        experiment, variant, tmp_path, capsys):
    code = cli.main(["reproduce", "ablation", "--config", f"{experiment}:smoke", "--variants",
                     variant, "--runs-root", str(tmp_path)])
    assert code == 2
    assert "unknown ablation variant 'fast'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
