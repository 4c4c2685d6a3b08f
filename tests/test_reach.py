"""The reach of a lattice: how far an impulse in one site's drive spreads within a sequence,
and the static spread of an input held on."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

from locornn import cli, dynamics
from locornn.analysis.lattice import reach
from locornn.checkpoints import read_config
from tests.conftest import experiment_config


def _lattice(kernel, *, bias=0.0, dt=0.5, alpha=0.3):
    kernel = jnp.asarray(kernel, jnp.float32).reshape(*np.shape(kernel)[:2], 1, 1)
    return dynamics.OscillatorParams(kernel, jnp.zeros_like(kernel), jnp.asarray([bias]), dt,
                                     1.0, alpha)


def _rest(side, steps):
    zeros = np.zeros((side, side, 1), np.float32)
    return np.zeros((steps, side, side, 1), np.float32), dynamics.State(zeros, zeros)


def test_an_uncoupled_lattice_keeps_every_impulse_on_its_own_site():
    drives, initial = _rest(9, 12)
    centre_only = np.zeros((3, 3))
    centre_only[1, 1] = 0.8  # talks to itself only
    responses = reach.impulse_responses(_lattice(centre_only), drives, initial, [[4, 4], [0, 8]])
    curve, share = reach.reach_curve(responses, [[4, 4], [0, 8]])
    assert np.all(curve == 0.0) and np.all(share == 1.0)
    assert np.abs(responses[0, 5, 4, 4]).max() > 0  # it did respond


def test_the_response_is_the_derivative_of_the_lattice_run_itself():
    """Forward-mode autodiff against a central difference of the nonlinear rollout."""
    rng = np.random.default_rng(0)
    params = _lattice(rng.normal(0, 0.4, (3, 3)), bias=0.2)
    drives = rng.normal(0, 0.5, (10, 7, 7, 1)).astype(np.float32)
    initial = dynamics.State(*(rng.normal(0, 0.3, (7, 7, 1)).astype(np.float32) for _ in "zv"))
    got = reach.impulse_responses(params, drives, initial, [[2, 5]])[0]

    def run(d):
        return np.asarray(dynamics.rollout(params, jnp.asarray(d)[:, None],
                                           dynamics.State(*(x[None] for x in initial))))[:, 0]

    eps = 1e-2
    kick = np.zeros_like(drives)
    kick[0, 2, 5, 0] = eps
    expected = (run(drives + kick) - run(drives - kick)) / (2 * eps)
    np.testing.assert_allclose(got, expected, atol=2e-4 * np.abs(expected).max())


@pytest.mark.parametrize("k", [3, 5])
def test_an_impulse_travels_at_most_half_a_kernel_a_step_and_the_reach_grows(k):
    drives, initial = _rest(31, 8)  # 7 steps of 2 sites stay clear of the boundary
    responses = reach.impulse_responses(_lattice(np.full((k, k), 0.3)), drives, initial,
                                        [[15, 15]])[0, ..., 0]
    rows, cols = np.indices((31, 31))
    chebyshev = np.maximum(abs(rows - 15), abs(cols - 15))
    step = (k - 1) // 2
    for t, z in enumerate(responses):  # z_t: step t carries it t hops further
        assert np.all(z[chebyshev > step * t] == 0.0)
        assert np.any(z[chebyshev == step * t] != 0.0)
    curve, share = reach.reach_curve(responses[None, ..., None], [[15, 15]])
    assert curve[0] == 0.0 and share[0] == 1.0
    assert np.all(np.diff(curve) > 0) and curve[-1] <= np.sqrt(2) * step * 7
    assert np.all(np.diff(share) < 0)


def test_distances_go_the_short_way_round_a_torus_and_straight_across_a_plane():
    responses = np.zeros((1, 1, 6, 6, 1))
    responses[0, 0, 0, 5, 0] = 1.0  # one column left of site (0, 0), through the boundary
    assert reach.reach_curve(responses, [[0, 0]], circular=True)[0][0] == pytest.approx(1.0)
    assert reach.reach_curve(responses, [[0, 0]], circular=False)[0][0] == pytest.approx(5.0)


def test_sites_off_the_lattice_and_mismatched_responses_are_refused():
    drives, initial = _rest(5, 3)
    with pytest.raises(ValueError, match="must lie on the 5x5 lattice"):
        reach.impulse_responses(_lattice(np.zeros((3, 3))), drives, initial, [[5, 0]])
    with pytest.raises(ValueError, match="for 2 sites"):
        reach.reach_curve(np.zeros((1, 3, 5, 5, 1)), [[0, 0], [1, 1]])


def test_a_run_report_measures_the_trained_and_the_untrained_lattice(waves_run, tmp_path):
    run = waves_run
    config = read_config(run)
    trained = reach.reach_report(run, sites=4)
    untrained = reach.reach_report(run, untrained=True, sites=4)
    assert (trained["step"], untrained["step"]) == (4, 0)
    for report, name in ((trained, "reach"), (untrained, "reach_untrained")):
        assert len(report["reach_curve"]) == max(config.data.sequence_length,
                                                 config.analysis.length)
        assert report["reach_training"] == report["reach_curve"][config.data.sequence_length - 1]
        assert 0.0 <= report["centre_share_training"] <= 1.0
        assert json.loads((run / f"{name}.json").read_text())["reach_curve"] == \
            report["reach_curve"]
        assert (run / f"{name}.png").stat().st_size > 0
    assert len({tuple(site) for site in trained["sites"]}) == 4
    # the command line writes the same report
    (run / "reach.json").unlink()
    assert cli.main(["analyze", "reach", str(run), "--sites", "4"]) == 0
    assert json.loads((run / "reach.json").read_text())["reach_curve"] == trained["reach_curve"]
    assert cli.main(["analyze", "reach", str(tmp_path / "missing")]) == 2


def test_a_run_without_a_driven_lattice_is_refused(tmp_path):
    lstm = experiment_config("hamiltonian", model__kind="lstm")
    (tmp_path / "config.json").write_text(json.dumps(lstm.to_dict()))
    with pytest.raises(ValueError, match="'lstm' run: only a LocoRNN"):
        reach.reach_report(tmp_path)
    forecaster = experiment_config("hamiltonian")
    (tmp_path / "config.json").write_text(json.dumps(forecaster.to_dict()))
    with pytest.raises(ValueError, match="forecast"):
        reach.reach_report(tmp_path)


# The static spread: the response to an input held on (Figure 2's recipe screen reads it)


def test_the_static_spread_of_an_uncoupled_lattice_is_zero():
    drives, initial = _rest(9, 20)
    centre = np.zeros((3, 3))
    centre[1, 1] = 0.5
    held = reach.static_responses(_lattice(centre, alpha=0.5), drives, initial, [[4, 4]])
    assert reach.static_spread(held, [[4, 4]], 5) == (0.0, 1.0)
    assert held[0, -1, 4, 4, 0] > 0


def test_the_static_spread_is_the_moment_of_the_held_input_response_and_grows_with_coupling():
    drives, initial = _rest(11, 20)
    ring = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    site, eps = [5, 5], 1e-3
    held = reach.static_responses(_lattice(0.3 * ring, alpha=0.5), drives, initial, [site])[0]
    # a central difference of the nonlinear rollout with the input held on at every step
    tangent = np.zeros_like(drives)
    tangent[:, site[0], site[1], 0] = 1.0
    run = [np.asarray(dynamics.rollout(_lattice(0.3 * ring, alpha=0.5), jnp.asarray(d)[:, None],
                                       dynamics.State(*(x[None] for x in initial)))[:, 0])
           for d in (drives + eps * tangent, drives - eps * tangent)]
    np.testing.assert_allclose(held, (run[0] - run[1]) / (2 * eps), atol=2e-4)
    mean = held[5:].mean(0)[..., 0] ** 2
    rows, cols = np.indices(mean.shape)
    expected = np.sqrt((mean * ((rows - 5) ** 2 + (cols - 5) ** 2)).sum() / mean.sum())
    spread = [reach.static_spread(reach.static_responses(_lattice(g * ring, alpha=0.5), drives,
                                                         initial, [site]), [site], 5)[0]
              for g in (0.1, 0.3, 0.6)]
    assert spread[1] == pytest.approx(expected, rel=1e-6)
    assert 0 < spread[0] < spread[1] < spread[2]
    with pytest.raises(ValueError, match="transient"):
        reach.static_spread(held[None], [site], 20)
