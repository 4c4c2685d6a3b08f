"""A run is bound to its data: it records what it trained on and refuses anything else.

Specification:
* a run's ``data.json`` names the resolved source (kind, path) and a content fingerprint, for
  every data family; ``summary.json`` and table rows name it too;
* the fingerprint follows the content, not the location: the same digits in another folder
  agree, other digits (or another seed, another generator config) do not;
* ``locornn eval`` and a resumed ``locornn train`` on other data than the record exit 2 in one
  line naming both and write nothing; ``eval --data-override`` evaluates on the other data on
  purpose, into its own folder, with a summary naming both.
"""

import csv
import json
import shutil

import numpy as np
import pytest

from locornn import cli
from locornn.data import fingerprint, hamiltonian, mnist
from locornn.reproduce import table
from tests.conftest import experiment_config

MNIST = "rotating_mnist:smoke"


@pytest.fixture(autouse=True)
def _no_mnist_env(monkeypatch):
    """A developer's own $LOCORNN_MNIST_DIR must not change what these tests read."""
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)


def _mnist_folder(folder, seed=0):
    """Four IDX files of random 28x28 'digits' (a stand-in for MNIST / Fashion-MNIST)."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for (split, kind), stem in mnist.IDX_FILES.items():
        num = 40 if split == "train" else 20
        array = rng.integers(0, 256, (num, 28, 28), dtype=np.uint8) if kind == "images" \
            else rng.integers(0, 10, num).astype(np.uint8)
        mnist.write_idx(folder / stem, array)
    return folder


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------------------------
# Fingerprints


def _digits_record(folder, **updates):
    config = experiment_config("rotating_mnist", data__mnist_dir=str(folder), **updates)
    return fingerprint.digits_record(mnist.load_mnist(str(folder)), config.data, "digits")


def test_the_same_digits_in_another_folder_agree_and_other_digits_do_not(tmp_path):
    original = _digits_record(_mnist_folder(tmp_path / "a"))
    moved = _digits_record(_mnist_folder(tmp_path / "b"))
    other = _digits_record(_mnist_folder(tmp_path / "c", seed=1))
    assert original["kind"] == "idx" and original["path"] == str(tmp_path / "a")
    assert moved["fingerprint"] == original["fingerprint"]
    assert other["fingerprint"] != original["fingerprint"]
    builtin = fingerprint.digits_record(mnist.load_sklearn_digits(),
                                        experiment_config("rotating_mnist").data, "digits")
    assert builtin["kind"] == "digits" and builtin["path"] is None
    assert builtin["fingerprint"] != original["fingerprint"]


def test_one_changed_image_changes_the_fingerprint(tmp_path):
    folder = _mnist_folder(tmp_path / "a")
    before = _digits_record(folder)
    images = mnist.read_idx(folder / "t10k-images-idx3-ubyte")
    images[-1, 14, 14] ^= 0xFF
    mnist.write_idx(folder / "t10k-images-idx3-ubyte", images)
    assert _digits_record(folder)["fingerprint"] != before["fingerprint"]


@pytest.mark.parametrize("name", ["waves", "noise"])
def test_generated_sequences_are_fingerprinted_by_their_config_and_seed(name):
    def record(**updates):
        config = experiment_config(name, **updates)
        return fingerprint.generated_record(name, "generated", config.data)

    assert record()["fingerprint"] == record()["fingerprint"]
    assert record(data__seed=1)["fingerprint"] != record()["fingerprint"]
    assert record(data__num_test=3)["fingerprint"] != record()["fingerprint"]
    assert record()["kind"] == name and record()["path"] is None


def test_generated_hamiltonian_data_is_fingerprinted_by_its_generator_and_named_by_its_cache(
        tmp_path):
    def record(seed):
        config = experiment_config("hamiltonian", data__cache_dir=str(tmp_path / "cache"),
                                   data__seed=seed, data__num_train=2, data__num_test=1,
                                   data__trajectory_length=4, data__test_sequence_length=12,
                                   data__sequence_length=4)
        dc = config.data
        data = hamiltonian.load_dataset(dc.system, num_train=2, num_test=1, train_steps=3,
                                        test_steps=11, seed=seed, cache_dir=dc.cache_dir,
                                        progress=False)
        return fingerprint.hamiltonian_record(data, dc, "generated")

    first, again = record(0), record(0)  # the second reads the cache
    assert first["kind"] == "hamiltonian-generated" and str(tmp_path / "cache") in first["path"]
    assert first["fingerprint"] == again["fingerprint"]
    assert record(1)["fingerprint"] != first["fingerprint"]


def test_the_suite_files_are_fingerprinted_by_their_content(tmp_path):
    pytest.importorskip("tfrecord.writer", reason="needs the 'suite' extra")
    from locornn.data.hamiltonian import generate, suite_format

    folder = tmp_path / "suite" / suite_format.folder_name("pendulum")
    for split in ("train", "test"):
        suite_format.write_trajectories(
            folder, split, generate.generate("pendulum", num=2, num_steps=11, seed=0,
                                             split=split))
    config = experiment_config("hamiltonian", data__system="pendulum")

    def record():
        data = hamiltonian.load_dataset("pendulum", num_train=2, num_test=2, train_steps=5,
                                        test_steps=11, seed=0, cache_dir=str(tmp_path / "c"),
                                        suite_dir=str(tmp_path / "suite"), progress=False)
        return fingerprint.hamiltonian_record(data, config.data, "suite")

    before = record()
    assert before["kind"] == "hamiltonian-suite" and before["path"] == str(folder)
    assert not (tmp_path / "c").exists()  # the suite's files are read, nothing generated
    other = generate.generate("pendulum", num=2, num_steps=11, seed=5, split="test")
    suite_format.write_trajectories(folder, "test", other)
    assert record()["fingerprint"] != before["fingerprint"]


# ------------------------------------------------------------------------------------------
# A run bound to its data, through the command line


def _train(workdir, *extra):
    return cli.main(["train", "--config", MNIST, "--workdir", str(workdir), "--quiet",
                     "--config.train.num_steps=10", "--config.train.checkpoint_every=10",
                     *extra])


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    """A rotating-digits run trained with $LOCORNN_MNIST_DIR set to a folder of IDX files."""
    root = tmp_path_factory.mktemp("bound")
    folder = _mnist_folder(root / "mnist")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(mnist.ENV_VAR, str(folder))
        assert _train(root / "run") == 0
    return root / "run", folder


def test_a_run_records_the_data_it_trained_on(mnist_run):
    run, folder = mnist_run
    recorded = json.loads((run / "data.json").read_text())
    assert recorded["kind"] == "idx" and recorded["path"] == str(folder)
    assert json.loads((run / "summary.json").read_text())["data"] == recorded


def test_eval_and_resume_on_other_data_exit_2_in_one_line_and_write_nothing(
        mnist_run, capsys):
    run, _ = mnist_run  # $LOCORNN_MNIST_DIR unset: the built-in digits would load
    before = _files(run)
    for argv in (["eval", str(run)],
                 ["train", "--config", MNIST, "--workdir", str(run), "--quiet",
                  "--config.train.num_steps=20", "--config.train.checkpoint_every=10"]):
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert "trained on idx" in err and "now is digits" in err, err
        assert _files(run) == before


def test_eval_of_the_same_data_in_a_moved_folder_is_accepted(mnist_run, tmp_path, capsys,
                                                             monkeypatch):
    run, folder = mnist_run
    moved = _mnist_folder(tmp_path / "moved")
    assert _files(moved) == _files(folder)
    monkeypatch.setenv(mnist.ENV_VAR, str(moved))
    assert cli.main(["eval", str(run)]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["data"]["fingerprint"] == result["trained_on"]["fingerprint"]


def test_eval_with_data_override_evaluates_on_other_data_into_its_own_folder(
        mnist_run, tmp_path, capsys):
    run, _ = mnist_run
    own = _files(run)
    other = _mnist_folder(tmp_path / "fashion", seed=7)
    assert cli.main(["eval", str(run), "--data-override",
                     f"--config.data.mnist_dir={other}"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["data"]["path"] == str(other) and result["trained_on"]["kind"] == "idx"
    assert result["data"]["fingerprint"] != result["trained_on"]["fingerprint"]
    folder = run / f"eval_{fingerprint.label(result['data']).replace(':', '_')}"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["data"] == result["data"] and summary["trained_on"] == result["trained_on"]
    assert {p: b for p, b in _files(run).items() if p.parts[0] != folder.name} == own


def test_eval_takes_only_data_overrides(mnist_run, capsys):
    run, _ = mnist_run
    assert cli.main(["eval", str(run), "--config.model.lattice=4"]) == 2
    assert "only data.*" in capsys.readouterr().err


def test_table_rows_name_the_data_of_their_runs(tmp_path):
    md = table.build_table("smoke", seeds=(0,), systems=("mass_spring",), models=("locornn",),
                           root=tmp_path / "runs", results=tmp_path / "results",
                           overrides=[f"--config.data.cache_dir={tmp_path / 'cache'}",
                                      "--config.figures.enabled=False"], progress=False)
    run = tmp_path / "runs" / "hamiltonian" / "smoke" / "mass_spring" / "locornn" / "0"
    recorded = json.loads((run / "data.json").read_text())
    assert recorded["kind"] == "hamiltonian-generated"
    with (tmp_path / "results" / "table1_smoke_20frame.csv").open() as handle:
        assert next(csv.DictReader(handle))["data"] == fingerprint.label(recorded)
    assert fingerprint.label(recorded) in md.read_text()


def test_the_runs_table_names_the_data_of_each_run(mnist_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(mnist_run[0], run)
    (run / "waves.json").write_text(json.dumps({"metrics": {}}))  # a row needs wave metrics
    assert cli.main(["figures", "runs-table", str(run), "--out", str(tmp_path / "runs.md")]) == 0
    header, _, row = (tmp_path / "runs.md").read_text().splitlines()[:3]
    recorded = json.loads((run / "data.json").read_text())
    assert header.split("|")[2].strip() == "data"
    assert row.split("|")[2].strip() == fingerprint.label(recorded)
