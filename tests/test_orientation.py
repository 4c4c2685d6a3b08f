"""Orientation selectivity of LocoRNN lattices (Figure 2): responses, maps, run analysis, CLI."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from locornn import cli, configs, models, train
from locornn.analysis import after_training
from locornn.analysis.topography import (
    domains,
    map_figures,
    orientation,
    protocols,
    selectivity,
    stimuli,
)
from locornn.analysis.topography.responses import grating_responses
from tests.conftest import experiment_config

SIZE, LATTICE, ORIENTATIONS = 16, 8, 8


def designed_map() -> np.ndarray:
    """The preferred orientation index each neuron of the hand-built model is wired for:
    stripes of constant preference along anti-diagonals, every orientation present."""
    rows, cols = np.mgrid[:LATTICE, :LATTICE]
    return (rows + 2 * cols) % ORIENTATIONS


def hand_built_model(gain: float = 3.0, bias: float = -2.0):
    """A LocoRNN whose neuron j is driven by a grating template of orientation designed[j].

    No LayerNorm, a 1x1 identity drive kernel and zero couplings, so every neuron is an
    independent damped oscillator with the constant drive ``tanh(<t_j, x> + bias)``; its
    time-averaged position is that drive times a positive constant. The template ``t_j`` is a
    zero-mean cosine grating of orientation ``designed[j]`` (phase 0) scaled so that the matched
    grating at phase 0 gives ``<t_j, x> = gain``. With ``bias < 0`` the tanh rectifies: the
    phase average is largest for the matched orientation, which makes it the preferred one.
    """
    config = experiment_config("waves", model__drive_layernorm=False,
                               model__drive_kernel_size=1, model__lattice=LATTICE,
                               model__channels=1, model__encoded_channels=1,
                               data__image_size=SIZE)
    model = models.build_model(config.model, (SIZE, SIZE, 1))
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, 3, SIZE, SIZE, 1)))
    params = jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), shapes["params"])
    params["core"].update(dt_raw=jnp.asarray(0.0), gamma_raw=jnp.asarray(1.0),
                          alpha_raw=jnp.asarray(0.5))  # dt = 0.5, gamma = 1, alpha = 0.5
    g = stimuli.gratings(SIZE, ORIENTATIONS, phases=1, wavelength=4.0).astype(np.float64)[:, 0]
    templates = g - g.mean(axis=(1, 2), keepdims=True)  # (O, s, s), zero mean
    matched = np.einsum("oxy,oxy->o", templates, g - 0.5)  # response to the matched grating
    templates = gain * templates / matched[:, None, None]
    kernel = templates[designed_map().ravel()].reshape(LATTICE * LATTICE, -1).T  # (s*s, L*L)
    params["encoder"]["project"]["kernel"] = jnp.asarray(kernel, jnp.float32)
    params["drive"]["kernel"] = jnp.ones((1, 1, 1, 1))
    params["core"]["bias"] = jnp.full((1,), bias)  # couplings and all other biases stay 0
    return model, params


@pytest.fixture(scope="module")
def hand_built():
    return hand_built_model()


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 5-step waves smoke run (8x8 lattice, 12x12 frames, wavelengths 4 to 8 px)."""
    workdir = tmp_path_factory.mktemp("waves_run")
    config = experiment_config("waves", figures__enabled=False, train__num_steps=5)
    train.train_and_evaluate(config, workdir, progress=False)
    return workdir


# ----------------------------------------------------------------------------------------------
# Responses


def test_grating_responses_have_one_row_per_stimulus_and_one_column_per_neuron(hand_built):
    model, params = hand_built
    responses, labels = grating_responses(
        model, params, SIZE, wavelength=4.0, orientations=6, phases=3, length=12, transient=4,
        batch=5)  # 18 stimuli in batches of 5: the last batch is padded
    assert responses.shape == (18, LATTICE * LATTICE)
    assert np.isfinite(responses).all()
    np.testing.assert_array_equal(labels, np.repeat(np.arange(6), 3))


def test_responses_are_the_time_average_of_z_after_the_transient(hand_built):
    model, params = hand_built
    responses, _ = grating_responses(model, params, SIZE, wavelength=4.0,
                                                 length=12, transient=4)
    g = stimuli.gratings(SIZE, 8, 4, 4.0).reshape(32, SIZE, SIZE, 1)
    frames = np.repeat(g[:, None], 12, axis=1)
    z = np.asarray(model.apply({"params": params}, jnp.asarray(frames))["z"])
    expected = z[:, 4:].mean(axis=1).reshape(32, -1)
    np.testing.assert_allclose(responses, expected, rtol=1e-5, atol=1e-6)
    # and batching does not change them
    batched, _ = grating_responses(model, params, SIZE, wavelength=4.0,
                                               length=12, transient=4, batch=7)
    np.testing.assert_allclose(batched, responses, rtol=1e-6, atol=1e-7)


def test_each_neuron_prefers_the_orientation_its_drive_was_built_for(hand_built):
    model, params = hand_built
    result = orientation.analyze_orientation(model, params, SIZE, (LATTICE, LATTICE, 1),
                                             wavelength=4.0, num_shuffles=50)
    np.testing.assert_array_equal(result["preferred"][..., 0], designed_map())
    assert result["selective"].all()
    np.testing.assert_allclose(result["pref_angle"][..., 0], designed_map() * np.pi / 8)
    summary = result["summary"]
    assert summary["fraction_selective"] == 1.0
    assert summary["preferred_histogram"] == [8] * 8
    # neighbours along a stripe share an orientation: far above shuffled positions
    assert summary["topography_zscore"] > 3
    json.dumps(summary, allow_nan=False)


def test_a_model_with_no_orientation_drive_has_no_selective_neurons(hand_built):
    model, params = hand_built
    flat = jax.tree.map(lambda x: x, params)
    flat["encoder"]["project"]["kernel"] = jnp.zeros_like(params["encoder"]["project"]["kernel"])
    result = orientation.analyze_orientation(model, flat, SIZE, wavelength=4.0, num_shuffles=10)
    assert not result["selective"].any()
    assert result["summary"]["fraction_selective"] == 0.0
    assert result["summary"]["topography_zscore"] is None  # NaN is written as null


def test_class_selectivity_maps_each_neuron_to_the_class_it_is_driven_by(hand_built):
    model, params = hand_built
    g = stimuli.gratings(SIZE, 8, 4, 4.0).reshape(32, SIZE, SIZE, 1)
    labels = np.repeat(np.arange(8), 4)  # "classes" = orientations
    result = orientation.class_selectivity(model, params, g, labels, num_shuffles=20)
    np.testing.assert_array_equal(result["preferred"][..., 0], designed_map())
    assert result["summary"]["pinwheel_density"] is None  # categorical classes
    assert result["summary"]["fraction_selective"] == 1.0


def test_stimuli_that_do_not_fit_the_model_are_refused(hand_built):
    model, params = hand_built
    with pytest.raises(ValueError, match="image"):
        grating_responses(model, params, SIZE + 2, wavelength=4.0)
    with pytest.raises(ValueError, match="transient"):
        grating_responses(model, params, SIZE, wavelength=4.0, length=5,
                                      transient=5)


def test_a_cornn_model_has_no_orientation_map():
    config = experiment_config("waves", model__kind="cornn", model__hidden_units=16)
    model = models.build_model(config.model, (12, 12, 1))
    with pytest.raises(ValueError, match="locornn"):
        orientation.analyze_orientation(model, None, 12, wavelength=6.0)  # before any work


# ----------------------------------------------------------------------------------------------
# Protocols


@pytest.fixture(scope="module")
def every_protocol(hand_built):
    model, params = hand_built
    return orientation.analyze_orientation(model, params, SIZE, wavelength=4.0, num_shuffles=10,
                                           trials=8, noise=0.3)


def test_every_protocol_is_reported_with_its_domain_numbers(every_protocol):
    summary = every_protocol["summary"]
    assert summary["protocol"] == protocols.DEFAULT_PROTOCOL == "phases"
    assert set(summary["protocols"]) == set(protocols.PROTOCOLS)
    for numbers in summary["protocols"].values():
        for key in ("fraction_selective", "mean_max_d", "neighbour_correlation",
                    "neighbour_agreement", "chance_agreement", "domain_area"):
            assert key in numbers
    # the top level is the chosen protocol's
    for key, value in summary["protocols"]["phases"].items():
        assert summary[key] == value
    assert summary["stimuli"]["trials"] == 8 and summary["stimuli"]["noise"] == 0.3
    json.dumps(summary, allow_nan=False)


def test_the_phases_protocol_is_cohens_d_over_the_phases_of_each_orientation(every_protocol,
                                                                             hand_built):
    model, params = hand_built
    responses, labels = grating_responses(model, params, SIZE, wavelength=4.0)
    np.testing.assert_allclose(every_protocol["protocols"]["phases"]["d"],
                               selectivity.cohens_d(responses, labels), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(every_protocol["d"], every_protocol["protocols"]["phases"]["d"])


def test_the_summary_splits_trials_d_into_tuning_and_noise(every_protocol):
    # the hand-built lattice is tuned far above the noise the trials inject
    halves = every_protocol["summary"]["trials_tuning_and_noise"]
    assert halves["tuning_median"] > 3 * halves["noise_median"] > 0
    assert halves["ratio_median"] > 3


@pytest.mark.parametrize("protocol", protocols.PROTOCOLS)
def test_every_protocol_finds_the_hand_built_map(every_protocol, protocol):
    maps = every_protocol["protocols"][protocol]
    np.testing.assert_array_equal(maps["preferred"][..., 0], designed_map())
    assert maps["selective"].all()
    numbers = every_protocol["summary"]["protocols"][protocol]
    assert numbers["neighbour_agreement"] == domains.neighbour_agreement(designed_map())


def test_the_protocol_argument_chooses_the_map(hand_built):
    model, params = hand_built
    result = orientation.analyze_orientation(model, params, SIZE, wavelength=4.0,
                                             num_shuffles=2, protocol="amplitude", trials=0)
    assert result["summary"]["protocol"] == "amplitude"
    assert result["summary"]["protocols"]["trials"] is None  # no trials: not measured
    assert result["summary"]["trials_tuning_and_noise"] is None
    np.testing.assert_array_equal(result["d"], result["protocols"]["amplitude"]["d"])
    assert result["summary"]["mean_max_d"] == \
        result["summary"]["protocols"]["amplitude"]["mean_max_d"]
    with pytest.raises(ValueError, match="trials"):
        orientation.analyze_orientation(model, params, SIZE, wavelength=4.0, protocol="trials",
                                        trials=0)
    with pytest.raises(ValueError, match="protocol"):
        orientation.analyze_orientation(model, params, SIZE, wavelength=4.0, protocol="best")


def test_the_phase_map_is_the_phase_each_neuron_was_wired_for(every_protocol):
    # every template is a phase-0 grating: the matched grating drives it most at phase 0
    phase = every_protocol["preferred_phase"][..., 0]
    assert np.abs(np.angle(np.exp(1j * phase))).max() < 0.2
    assert every_protocol["summary"]["preferred_phase"]["neighbour_phase_difference"] < 0.2


# ----------------------------------------------------------------------------------------------
# Figures


def test_orientation_figures_are_written(tmp_path, hand_built):
    model, params = hand_built
    result = orientation.analyze_orientation(model, params, wavelength=4.0, num_shuffles=10)
    sel = result["selective"].copy()
    sel[0, :3] = False  # some crosses
    map_figures.orientation_map(result["pref_angle"][..., 0], sel[..., 0],
                                tmp_path / "map.png", "hand-built")
    map_figures.orientation_histogram(result["pref_angle"], sel, tmp_path / "hist.png")
    map_figures.side_by_side({"a": (result["pref_angle"], sel),
                              "b": (result["pref_angle"], result["selective"])},
                             tmp_path / "fig2.png")
    for name in ("map.png", "hist.png", "fig2.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def stripe_map(side: int, width: int) -> np.ndarray:
    """Preferred angles in vertical stripes ``width`` sites wide, cycling through 8 angles."""
    return np.broadcast_to(((np.arange(side) // width) % 8) * np.pi / 8, (side, side)).copy()


def test_the_sweep_figure_has_a_panel_per_run_with_its_domain_numbers(tmp_path):
    side = 12
    maps = {("wavelength", w): (stripe_map(side, w // 4), np.ones((side, side), bool))
            for w in (24, 5, 10, 16)}
    maps |= {("kernel", k): (stripe_map(side, k // 2)[..., None], np.ones((side, side, 1), bool))
             for k in (3, 5, 7, 9)}
    sel = np.ones((side, side), bool)
    sel[2, 2] = False
    maps[("kernel", 9)] = (stripe_map(side, 4), sel)
    stats = map_figures.sweep_figure(maps, tmp_path / "sweep.png",
                                     reference={("kernel", 9): (0.91, 391)})
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(stats) == set(maps)
    for key, (pref, selective) in maps.items():
        labels = domains.orientation_labels(np.asarray(pref).reshape(side, side))
        assert stats[key] == domains.domain_statistics(labels, np.reshape(selective,
                                                                          (side, side)))
    # wider stripes: larger domains, as the panels are drawn in increasing order
    areas = [stats[("wavelength", w)]["domain_area"] for w in (5, 10, 16, 24)]
    assert areas == sorted(areas) and areas[0] < areas[-1]
    with pytest.raises(ValueError, match="rows"):
        map_figures.sweep_figure({("speed", 1): maps[("kernel", 3)]}, tmp_path / "x.png")


# ----------------------------------------------------------------------------------------------
# Run directories and the CLI


def _check_summary(summary: dict) -> None:
    for key in ("fraction_selective", "mean_max_d", "neighbour_correlation",
                "topography_zscore", "domain_size", "pinwheel_density"):
        assert key in summary
    assert 0.0 <= summary["fraction_selective"] <= 1.0
    assert len(summary["preferred_histogram"]) == 8
    assert sum(summary["preferred_histogram"]) == round(summary["fraction_selective"] * 64)
    assert summary["num_neurons"] == 64 and summary["lattice_shape"] == [8, 8, 1]
    assert summary["stimuli"]["wavelength"] == 6.0  # middle of the smoke range 4..8
    assert summary["angles_degrees"] == [22.5 * k for k in range(8)]
    nc = summary["neighbour_correlation"]
    assert nc is None or -1.0 <= nc <= 1.0


@pytest.fixture(scope="module")
def analysed_run(trained_run):
    """The trained run analysed once with defaults (a few shuffles, to stay fast)."""
    return trained_run, orientation.run_analysis(trained_run, num_shuffles=20)


def test_run_analysis_writes_the_map_the_histogram_and_the_summary(analysed_run):
    run, summary = analysed_run
    paths = orientation.output_paths(run)
    assert [p.name for p in paths.values()] == [
        "orientation_map.png", "orientation_histogram.png", "selectivity.json",
        "orientation_maps.npz", "orientation_protocols.png"]
    for path in paths.values():
        assert path.exists(), path
    assert paths["map"].read_bytes()[:4] == b"\x89PNG"
    saved = json.loads(paths["json"].read_text())  # strict JSON: no NaN
    _check_summary(saved)
    assert saved["untrained"] is False and saved["step"] == 5
    assert saved["fraction_selective"] == summary["fraction_selective"]
    pref, sel = orientation.load_maps(run)
    assert pref.shape == sel.shape == (8, 8, 1)
    assert sel.mean() == pytest.approx(saved["fraction_selective"])


def test_untrained_control_writes_its_own_files_from_the_initial_parameters(analysed_run):
    run, _ = analysed_run
    trained = {p: p.stat().st_mtime_ns for p in orientation.output_paths(run).values()}
    summary = orientation.run_analysis(run, untrained=True, num_shuffles=20)
    paths = orientation.output_paths(run, untrained=True)
    assert [p.name for p in paths.values()] == [
        "orientation_map_untrained.png", "orientation_histogram_untrained.png",
        "selectivity_untrained.json", "orientation_maps_untrained.npz",
        "orientation_protocols_untrained.png"]
    for path in paths.values():
        assert path.exists(), path
    assert {p: p.stat().st_mtime_ns for p in trained} == trained  # trained files untouched
    saved = json.loads(paths["json"].read_text())
    _check_summary(saved)
    assert saved["untrained"] is True and saved["step"] == 0
    assert saved["dt"] == pytest.approx(0.5)  # the smoke preset's initial dt
    assert saved["averaged_time"] == pytest.approx((30 - 10) * 0.5)
    assert summary["files"]["json"] == str(paths["json"])
    with np.load(paths["maps"]) as untrained_maps, \
            np.load(orientation.output_paths(run)["maps"]) as trained_maps:
        assert not np.allclose(trained_maps["d"], untrained_maps["d"])  # other parameters


def test_untrained_control_needs_only_the_config(tmp_path):
    config = experiment_config("waves", figures__enabled=False)
    (tmp_path / "config.json").write_text(config.to_json())
    orientation.run_analysis(tmp_path, untrained=True, num_shuffles=2)
    assert (tmp_path / "selectivity_untrained.json").exists()
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        orientation.run_analysis(tmp_path)


def test_a_cornn_run_is_refused_with_a_clear_error(tmp_path, capsys):
    config = experiment_config("waves", model__kind="cornn", figures__enabled=False)
    (tmp_path / "config.json").write_text(config.to_json())
    with pytest.raises(ValueError, match="LocoRNN.*'cornn'"):
        orientation.run_analysis(tmp_path)
    assert cli.main(["analyze", "orientation", str(tmp_path)]) == 2
    assert "cornn" in capsys.readouterr().err
    assert not list(tmp_path.glob("orientation_*"))


def test_cli_prints_a_summary_and_the_paths_written(trained_run, capsys):
    code = cli.main(["analyze", "orientation", str(trained_run), "--untrained",
                     "--wavelength", "5", "--threshold", "0.5", "--length", "16",
                     "--transient", "4"])
    assert code == 0
    out = capsys.readouterr().out
    assert "selective" in out and "z =" in out and "domain size" in out
    for path in orientation.output_paths(trained_run, untrained=True).values():
        assert f"wrote {path}" in out
    saved = json.loads((trained_run / "selectivity_untrained.json").read_text())
    assert saved["stimuli"]["wavelength"] == 5.0 and saved["threshold"] == 0.5
    assert saved["stimuli"]["length"] == 16 and saved["stimuli"]["transient"] == 4


def test_cli_protocol_chooses_the_map_and_every_protocol_is_printed(trained_run, capsys):
    code = cli.main(["analyze", "orientation", str(trained_run), "--untrained", "--length", "12",
                     "--transient", "4", "--protocol", "trials", "--trials", "4",
                     "--noise", "0.2"])
    assert code == 0
    out = capsys.readouterr().out
    assert "trials (the map):" in out and "phases:" in out and "amplitude:" in out
    saved = json.loads((trained_run / "selectivity_untrained.json").read_text())
    assert saved["protocol"] == "trials"
    assert saved["stimuli"]["trials"] == 4 and saved["stimuli"]["noise"] == 0.2
    assert saved["fraction_selective"] == saved["protocols"]["trials"]["fraction_selective"]
    pref, sel = orientation.load_maps(trained_run, untrained=True)
    pref_t, sel_t = orientation.load_maps(trained_run, untrained=True, protocol="trials")
    np.testing.assert_array_equal(pref, pref_t)
    np.testing.assert_array_equal(sel, sel_t)
    _, sel_a = orientation.load_maps(trained_run, untrained=True, protocol="amplitude")
    assert sel_a.mean() == pytest.approx(saved["protocols"]["amplitude"]["fraction_selective"])


def test_the_config_chooses_the_protocol_of_the_analysis_after_training():
    config = experiment_config("waves", analysis__protocol="amplitude", analysis__trials=4,
                               analysis__noise=0.25)
    options = after_training.orientation_options(config)
    assert (options["protocol"], options["trials"], options["noise"]) == ("amplitude", 4, 0.25)
    assert configs.all_fields()["analysis.protocol"].domain.values == protocols.PROTOCOLS
    with pytest.raises(configs.ConfigError, match="analysis.protocol"):
        configs.validate(experiment_config("waves", analysis__protocol="best"))


def test_default_wavelength_is_the_middle_of_the_training_range():
    config = configs.base_config()
    assert orientation.default_wavelength(config) == pytest.approx(14.5)
    assert math.isclose(orientation.default_wavelength(experiment_config("waves")), 6.0)
