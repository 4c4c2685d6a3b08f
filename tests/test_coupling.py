"""The coupling analysis: how far a lattice's kernels reach past the centre tap, and whether
neighbouring sites' encoder weights are alike."""

import json

import numpy as np
import pytest

from locornn import train
from locornn.analysis.lattice import coupling
from tests.conftest import experiment_config


def test_a_kernel_that_only_talks_to_itself_has_spread_0_and_one_without_a_centre_1():
    kernel = np.zeros((3, 3, 2, 2))
    kernel[1, 1] = [[1.0, -2.0], [0.5, 3.0]]
    assert coupling.kernel_spread(kernel) == 0.0
    kernel[1, 1] = 0.0
    kernel[0, 2, 1, 0] = -4.0
    assert coupling.kernel_spread(kernel) == 1.0


def test_a_constant_kernel_spreads_all_but_one_tap_in_k_squared():
    for k in (3, 5, 9):
        assert coupling.kernel_spread(np.full((k, k, 1, 1), 1 / 1296)) == pytest.approx(
            1 - 1 / k**2)
    assert np.isnan(coupling.kernel_spread(np.zeros((3, 3, 1, 1))))


def test_a_kernel_of_the_wrong_shape_is_refused():
    for shape in ((3, 3), (4, 4, 1, 1), (3, 5, 1, 1)):
        with pytest.raises(ValueError, match="odd square kernel"):
            coupling.kernel_spread(np.ones(shape))


def _smooth_weights(lattice, inputs, rng, length):
    """Dense weights whose per-site vectors vary smoothly over the lattice (a topographic
    encoder): sums of a few random fields of spatial scale ``length`` sites."""
    y, x = np.mgrid[:lattice, :lattice] * 2 * np.pi / lattice
    fields = []
    for _ in range(inputs):
        kx, ky = rng.integers(0, max(lattice // length, 1), size=2)
        fields.append(np.cos(kx * x + ky * y + rng.uniform(0, 2 * np.pi)))
    return np.stack(fields).reshape(inputs, -1)  # (inputs, sites) in (H, W) order


def test_independent_encoder_weights_score_zero_and_a_smooth_layout_scores_high():
    rng = np.random.default_rng(0)
    lattice, inputs = 16, 400
    independent = rng.normal(size=(inputs, lattice * lattice))
    assert abs(coupling.encoder_topography(independent, lattice)) < 0.02
    smooth = _smooth_weights(lattice, inputs, rng, length=8)
    assert coupling.encoder_topography(smooth, lattice) > 0.8
    # alternate sites' signs: neighbours read the image in opposite ways
    checker = smooth * np.where(np.indices((lattice, lattice)).sum(0) % 2, -1, 1).ravel()
    assert coupling.encoder_topography(checker, lattice) < -0.8


def test_only_the_lattice_units_count_and_their_channels_are_kept_apart():
    rng = np.random.default_rng(1)
    lattice, inputs = 8, 300
    smooth = _smooth_weights(lattice, inputs, rng, length=4)
    # units beyond the lattice's (the VAE's unused latents) are left out
    extra = np.concatenate([smooth, rng.normal(size=(inputs, 50))], axis=1)
    assert coupling.encoder_topography(extra, lattice) == pytest.approx(
        coupling.encoder_topography(smooth, lattice))
    # two channels interleaved in (H, W, C) order, each smooth over the sites
    two = np.stack([smooth, _smooth_weights(lattice, inputs, rng, length=4)], -1)
    assert coupling.encoder_topography(two.reshape(inputs, -1), lattice, channels=2) > 0.5
    with pytest.raises(ValueError, match="dense weights"):
        coupling.encoder_topography(smooth[:, :10], lattice)


def test_what_a_layernorm_removes_or_scales_is_what_the_site_weights_lose_or_gain():
    rng = np.random.default_rng(2)
    lattice, inputs = 6, 20
    weights = rng.normal(size=(inputs, lattice * lattice))
    common = weights + rng.normal(size=(inputs, 1))  # one part shared by every unit
    centred = coupling.site_weights(common, lattice)
    assert np.allclose(centred.reshape(inputs, -1).mean(1), 0.0)
    assert np.allclose(centred, coupling.site_weights(weights, lattice))
    scale = rng.uniform(0.5, 2.0, size=lattice * lattice)
    scaled = coupling.site_weights(weights, lattice, scale=scale)
    assert np.allclose(scaled, coupling.site_weights(weights, lattice) * scale.reshape(
        1, lattice, lattice, 1))
    raw = coupling.site_weights(weights, lattice, centre=False)
    assert np.allclose(raw.reshape(inputs, -1), weights)


def test_the_drive_of_a_centre_tap_is_the_encoder_and_a_box_filter_shares_six_ninths():
    rng = np.random.default_rng(3)
    lattice, inputs = 12, 2000
    field = rng.normal(size=(inputs, lattice, lattice, 1))
    centre = np.zeros((3, 3, 1, 1))
    centre[1, 1] = 2.0
    assert np.allclose(coupling.drive_weights(field, centre), 2.0 * field, atol=1e-5)
    # a 3x3 box sums 9 independent vectors; 4-neighbours share 6 of them
    box = coupling.drive_weights(field, np.ones((3, 3, 1, 1)))
    assert coupling.neighbour_correlation(box) == pytest.approx(6 / 9, abs=0.02)
    assert abs(coupling.neighbour_correlation(field)) < 0.02
    # an off-centre tap shifts the map: site (i, j) is driven by the unit at (i - 1, j + 1)
    shift = np.zeros((3, 3, 1, 1))
    shift[0, 2] = 1.0
    assert np.allclose(coupling.drive_weights(field, shift),
                       np.roll(field, (1, -1), axis=(1, 2)), atol=1e-5)


def test_a_run_report_reads_the_checkpoint_and_the_untrained_control(waves_run):
    run = waves_run
    trained = coupling.coupling_report(run)
    untrained = coupling.coupling_report(run, untrained=True)
    assert (trained["step"], untrained["step"]) == (4, 0)
    # the constant 1/sites initialisation spreads 8/9 of each 3x3 kernel off the centre
    assert untrained["spread"] == pytest.approx(dict.fromkeys(("position", "velocity",
                                                               "drive"), 8 / 9))
    for report, name in ((trained, "coupling"), (untrained, "coupling_untrained")):
        saved = json.loads((run / f"{name}.json").read_text())
        assert saved["spread"] == report["spread"]
        assert coupling.kernel_spread(np.asarray(saved["kernels"]["position"])) == \
            report["spread"]["position"]
        # the smoke preset's dense encoder
        assert np.isfinite(report["encoder_topography"]) and np.isfinite(
            report["drive_topography"])
        assert (run / f"{name}.png").stat().st_size > 0


def test_a_run_without_a_lattice_is_refused_before_its_data_is_built(tmp_path):
    lstm = experiment_config("hamiltonian", model__kind="lstm")
    (tmp_path / "config.json").write_text(json.dumps(lstm.to_dict()))
    with pytest.raises(ValueError, match="'lstm' run: only a LocoRNN"):
        coupling.coupling_report(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json"]


def test_a_forecasting_lattice_has_its_kernels_measured_and_no_encoder_layout(tmp_path):
    """The Hamiltonian models' encoder feeds the GRU that infers the initial state, not the
    lattice: its coupling kernels are measured, its topographies are not defined."""
    config = experiment_config("hamiltonian", figures__enabled=False, train__num_steps=2,
                               train__eval_every=2, train__checkpoint_every=2)
    train.train_and_evaluate(config, tmp_path / "run", progress=False)
    report = coupling.coupling_report(tmp_path / "run")
    assert set(report["spread"]) == {"position", "velocity"}  # open loop: no drive kernel
    assert all(0.0 <= value <= 1.0 for value in report["spread"].values())
    assert np.isnan(report["encoder_topography"]) and np.isnan(report["drive_topography"])
