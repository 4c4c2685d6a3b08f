"""The rotating-MNIST phase screen: each variant is the reference preset with exactly the stated
details of the reference code turned off, and the table reports what the runs measured."""

import json

import pytest

from locornn import configs
from locornn.reproduce import phase_screen

SPEC = "rotating_mnist:reference"
TINY = {"train.num_steps": 2, "train.batch_size": 4, "data.num_train": 8, "data.num_test": 4,
        "data.test_sequence_length": 8, "data.sequence_length": 6, "model.lattice": 8,
        "model.unused_latents": 8, "train.eval_every": 2, "train.checkpoint_every": 2,
        "train.log_every": 1, "train.eval_batches": 1, "train.probe_sequences": 1,
        "figures.enabled": False}  # the screen reads the runs' summaries and wave reports only


def _config(variant, source="digits", **kwargs):
    return configs.load(SPEC, phase_screen.overrides(variant, source, **kwargs))


def test_reference_variant_is_the_reference_preset_at_the_screening_budget():
    screened, preset = configs.flatten(_config("reference")), configs.flatten(configs.load(SPEC))
    differ = {k for k in preset if screened[k] != preset[k]}
    budget = {k for k, v in phase_screen.SCREEN.items() if preset[k] != v}
    assert budget and differ == budget | {"data.mnist_source"}


def test_details_off_is_the_reference_preset_with_locornns_defaults_for_every_detail():
    config, defaults = configs.flatten(_config("details_off")), configs.flatten(
        configs.base_config())
    for key in phase_screen.DETAILS_OFF:
        assert config[key] == defaults[key], key
    assert config["model.encoder"] == "gaussian"  # the rest of the recipe stays


@pytest.mark.parametrize("variant", [v for v in phase_screen.VARIANTS
                                     if v not in ("reference", "details_off")])
def test_each_variant_turns_on_only_its_own_details(variant):
    config = configs.flatten(_config(variant))
    base = configs.flatten(_config("details_off"))
    reference = configs.flatten(_config("reference"))
    _, kept, extra = phase_screen.VARIANTS[variant]
    changed = {k for k in base if config[k] != base[k]}
    assert changed == {k for k in kept if reference[k] != base[k]} | set(extra)


def test_bad_variant_source_or_missing_folder_are_refused():
    with pytest.raises(ValueError, match="variant"):
        phase_screen.overrides("nope", "digits")
    with pytest.raises(ValueError, match="source"):
        phase_screen.overrides("reference", "nope")
    with pytest.raises(ValueError, match="mnist-dir"):
        phase_screen.overrides("reference", "idx")


@pytest.mark.slow
def test_screen_trains_measures_and_tabulates_each_run(tmp_path):
    md = phase_screen.run_screen(sources=("digits",), variants=("details_off", "reference"),
                                 root=tmp_path / "runs", results=tmp_path, progress=False,
                                 budget=TINY)
    rows = (tmp_path / "phase_screen_rotating_mnist_seed0.csv").read_text().splitlines()
    assert len(rows) == 3  # header and one row per run
    text = md.read_text()
    assert "| digits | details_off | 4 |" in text and "| digits | reference | 4 |" in text
    run = next((tmp_path / "runs" / "phase_screen" / "digits" / "reference").rglob("waves.json"))
    measured = json.loads(run.read_text())["phase_map"]["neighbour_phase_difference"]
    assert f"{measured:.2f}" in text.split("| digits | reference |")[1].split("\n")[0]
    # without training: the finished runs, and the missing one named
    md = phase_screen.run_screen(sources=("digits",), root=tmp_path / "runs", results=tmp_path,
                                 variants=("details_off", "reference", "pytorch_init"),
                                 progress=False, budget=TINY, train_missing=False)
    text = md.read_text()
    assert "| digits | reference |" in text and "| digits | pytorch_init |" not in text
    assert "Not run: digits/pytorch_init." in text


@pytest.mark.slow
def test_without_training_the_table_has_the_finished_runs_and_names_the_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no finished phase-screen run"):
        phase_screen.run_screen(sources=("digits",), variants=("reference",), root=tmp_path,
                                results=tmp_path, progress=False, budget=TINY,
                                train_missing=False)
    assert not (tmp_path / "phase_screen").exists()  # nothing was trained
