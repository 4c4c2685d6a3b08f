"""The ablation and budget-curve commands, and the forecasting configs they refuse."""

import json

import pytest

from locornn import cli, configs, train
from locornn.reproduce import ablation, budget

HAMILTONIAN = "hamiltonian"


def _quiet(tmp_path):
    return [f"--config.data.cache_dir={tmp_path / 'cache'}", "--config.figures.enabled=False"]


def _smoke_window(tmp_path):  # the variants' windows are the cpu preset's: fit the smoke data
    return [*_quiet(tmp_path), "--config.data.sequence_length=10",
            "--config.evaluation.vpt_start=0"]


@pytest.mark.slow
def test_ablation_trains_each_variant_into_its_own_folder_and_tabulates_it(tmp_path,
                                                                           monkeypatch):
    variants = ("open_loop", "undamped", "autoregressive_closed_loop")
    md = ablation.run_ablation("smoke", variants=variants, seeds=(0,), root=tmp_path / "runs",
                               results=tmp_path / "results",
                               extra_overrides=_smoke_window(tmp_path), progress=False)
    rows = [line for line in md.read_text().splitlines() if line.startswith("| ")][1:]
    assert [r.split("|")[1].strip() for r in rows] == list(variants)
    for variant in variants:
        config = json.loads((tmp_path / "runs" / "ablation" / variant / "hamiltonian" / "smoke"
                             / "mass_spring" / "locornn" / "0" / "config.json").read_text())
        for key, value in ablation.VARIANTS[variant][1].items():
            if key in ("data.sequence_length", "evaluation.vpt_start"):
                continue  # overridden to fit the smoke data
            section, field = key.split(".")
            assert config[section][field] == value, (variant, key)
    undamped = next(r for r in rows if r.startswith("| undamped"))
    assert "| 0.000 | 0.000 | > 19" in undamped  # alpha stays 0, K_v sums to 0: no decay
    assert "VPT is capped at 10 steps: test trajectories of 20 frames" in md.read_text()
    monkeypatch.setattr(train, "train_and_evaluate", lambda *a, **k: pytest.fail("retrained"))
    assert ablation.run_ablation("smoke", variants=variants, seeds=(0,), root=tmp_path / "runs",
                                 results=tmp_path / "results",
                                 extra_overrides=_smoke_window(tmp_path),
                                 progress=False).read_text() == md.read_text()


def test_horizon_variants_differ_in_the_training_window_alone():
    """The horizon study: 64-, 128- and 256-frame windows of the same 256-frame trajectories,
    each scored from frame 64 on the same 1000-frame test trajectories (cap 936 steps); and
    whole 512-frame trajectories, scored the same way."""
    fields = {w: ablation.VARIANTS[f"horizon_{w}"][1] for w in (64, 128, 256)}
    for window, changes in fields.items():
        assert changes["data.sequence_length"] == window
        assert {k: v for k, v in changes.items() if k != "data.sequence_length"} == \
            {k: v for k, v in fields[64].items() if k != "data.sequence_length"}
    config = configs.load(f"{HAMILTONIAN}:cpu", ablation.overrides("horizon_256"))
    assert config.data.sequence_length == config.data.trajectory_length == 256
    assert config.data.test_sequence_length - config.evaluation.vpt_start == 936
    longest = configs.load(f"{HAMILTONIAN}:cpu", ablation.overrides("horizon_512"))
    assert longest.data.sequence_length == longest.data.trajectory_length == 512
    assert (longest.data.test_sequence_length, longest.evaluation.vpt_start) == \
        (config.data.test_sequence_length, config.evaluation.vpt_start)


@pytest.mark.slow
def test_budget_curves_read_each_budget_off_one_resumed_run(tmp_path):
    options = dict(systems=("mass_spring",), models=("locornn",), seeds=(0,),
                   root=tmp_path / "runs", results=tmp_path / "results",
                   overrides=_quiet(tmp_path), progress=False)
    md = budget.build_curves("smoke", budgets=(4, 8), **options)
    row = next(line for line in md.read_text().splitlines() if line.startswith("| Spring"))
    assert row.count("(") == 2  # one cell per budget
    text = md.read_text()
    assert "VPT is capped at 10 steps: test trajectories of 20 frames" in text
    decay_row = text.split("Oscillator cores: free decay")[1].split("| Spring | LocoRNN |")[1]
    assert decay_row.count("(alpha ") == 2  # the lattice's decay beside each budget's VPT
    assert (tmp_path / "results" / "vpt_vs_steps_smoke.png").stat().st_size > 0
    run = tmp_path / "runs" / "budget" / "hamiltonian" / "smoke" / "mass_spring" / "locornn" / "0"
    resumed = json.loads((run / "summary_8.json").read_text())
    assert resumed["steps"] == 8
    # the 8-step point of the resumed run is what a separate 8-step run gives
    alone = cli.main(["train", "--config", f"{HAMILTONIAN}:smoke", "--quiet", "--workdir",
                      str(tmp_path / "alone"), "--config.train.num_steps=8", *_quiet(tmp_path)])
    assert alone == 0
    separate = json.loads((tmp_path / "alone" / "summary.json").read_text())
    assert separate["test"]["mse"] == pytest.approx(resumed["test"]["mse"], rel=1e-4)
    assert separate["test"]["vpt"] == resumed["test"]["vpt"]
    # --no-train tabulates what is finished and trains nothing
    md = budget.build_curves("smoke", budgets=(4, 8, 12), train_missing=False, **options)
    row = next(line for line in md.read_text().splitlines() if line.startswith("| Spring"))
    assert row.rstrip(" |").endswith("not run") and row.count("(") == 2
    assert not (run / "summary_12.json").exists()
    # a kept summary is never read for another config, even without training
    with pytest.raises(configs.ConfigError, match="model.gru_units"):
        budget.build_curves("smoke", budgets=(4, 8), train_missing=False,
                            **options | {"overrides": [*options["overrides"],
                                                       "--config.model.gru_units=3"]})


def test_budget_curves_refuse_a_decaying_learning_rate(tmp_path, capsys):
    code = cli.main(["reproduce", "budget", "--config", "hamiltonian:smoke", "--budgets", "4",
                     "--systems", "mass_spring",
                     "--models", "lstm", "--seeds", "0", "--runs-root", str(tmp_path),
                     "--config.train.schedule=cosine"])
    assert code == 2
    assert "constant learning rate" in capsys.readouterr().err


@pytest.mark.parametrize("override, message", [
    ("--config.data.sequence_length=4", "must exceed 'model.context_frames'"),
    ("--config.data.test_sequence_length=10", "'data.test_sequence_length' (10) must exceed"),
    ("--config.model.rollout=closed", "'model.rollout' must be one of"),
    ("--config.model.coupling_init=ones", "'model.coupling_init' must be one of"),
    ("--config.train.closed_loop_frames=3", "needs 'model.rollout' = 'autoregressive'"),
    ("--config.evaluation.vpt_start=2", "'evaluation.vpt_start' (2) must lie in"),
    ("--config.train.late_weight=0", "'train.late_weight' must be a finite number > 0"),
    ("--config.train.blur_sigma=-1", "'train.blur_sigma'"),
])
def test_forecasting_configs_that_cannot_work_exit_2_with_one_line(tmp_path, capsys, override,
                                                                    message):
    code = cli.main(["train", "--config", f"{HAMILTONIAN}:smoke", "--workdir", str(tmp_path),
                     "--quiet", override])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "config.json").exists()  # refused before anything was written


def test_autoregressive_needs_a_recurrent_core(tmp_path, capsys):
    code = cli.main(["train", "--config", f"{HAMILTONIAN}:smoke", "--workdir", str(tmp_path),
                     "--quiet", "--config.model.kind=node",
                     "--config.model.rollout=autoregressive"])
    assert code == 2
    assert "needs a recurrent core" in capsys.readouterr().err


def test_a_warmup_longer_than_the_cosine_schedule_is_a_config_error(tmp_path, capsys):
    code = cli.main(["train", "--config", f"{HAMILTONIAN}:smoke", "--workdir", str(tmp_path),
                     "--quiet", "--config.train.schedule=cosine", "--config.train.warmup_steps=20"])
    assert code == 2
    assert "'train.warmup_steps' (20) must be shorter" in capsys.readouterr().err
