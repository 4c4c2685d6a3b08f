"""HGN++: the leapfrog integrator, the learned Hamiltonian, and the forecasting core built on
them (``model.kind = "hgn"``)."""

import functools
import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from locornn import cli, tasks, train
from locornn.models import forecasting, hgn
from locornn.optim import create_train_state
from tests.conftest import experiment_config


def oscillator(q, p):
    """Unit harmonic oscillators, ``H = (q^2 + p^2) / 2`` summed over the last axis."""
    return 0.5 * jnp.sum(q**2 + p**2, axis=-1)


def oscillator_solution(q0, p0, t):
    """The exact flow of :func:`oscillator`: a rotation of phase space by ``t``."""
    return q0 * np.cos(t) + p0 * np.sin(t), p0 * np.cos(t) - q0 * np.sin(t)


def learned_hamiltonian(activation, kinetic="mlp", units=3, width=32, depth=2, seed=0):
    """A randomly initialised HGN Hamiltonian (:class:`hgn.HamiltonianMLP`) as ``H(q, p)``."""
    module = hgn.HamiltonianMLP(units, width, depth)
    layers = module.apply(module.init(jax.random.PRNGKey(seed)))
    return functools.partial(hgn.mlp_hamiltonian, layers, activation=activation, kinetic=kinetic)


def random_phase_point(shape, seed=1):
    q_key, p_key = jax.random.split(jax.random.PRNGKey(seed))
    return jax.random.normal(q_key, shape), jax.random.normal(p_key, shape)


def max_energy_error(hamiltonian, q0, p0, dt, duration):
    """``max_t |H(q_t, p_t) - H(q_0, p_0)|`` per sample over ``duration`` time units."""
    qs, ps = hgn.leapfrog_trajectory(hamiltonian, q0, p0, dt, 1, int(round(duration / dt)))
    energy = np.asarray(hamiltonian(qs, ps))
    return np.max(np.abs(energy - energy[0]), axis=0)


# --------------------------------------------------------------------------------------------
# The integrator


def test_harmonic_oscillator_energy_error_is_the_known_dt_squared_over_8():
    """Leapfrog conserves ``(p^2 + (1 - dt^2/4) q^2) / 2`` exactly for the unit oscillator, so
    from ``(q0, 0)`` the energy error peaks at ``dt^2 q0^2 / 8`` (where ``q = 0``) and never
    grows: a quarter of it when ``dt`` halves, over 100 periods."""
    with jax.enable_x64(True):
        q0 = jnp.array([[1.0], [0.3]])
        p0 = jnp.zeros_like(q0)
        errors = {dt: max_energy_error(oscillator, q0, p0, dt, 200 * np.pi)
                  for dt in (0.1, 0.05, 0.025)}
    for dt, error in errors.items():
        np.testing.assert_allclose(error, dt**2 * np.asarray(q0[:, 0])**2 / 8, rtol=1e-3)
    np.testing.assert_allclose(errors[0.1] / errors[0.05], 4.0, rtol=1e-2)
    np.testing.assert_allclose(errors[0.05] / errors[0.025], 4.0, rtol=1e-2)


def test_harmonic_oscillator_trajectory_matches_the_exact_one_to_second_order():
    """Over 20 time units the largest deviation from the exact rotation shrinks 4x when ``dt``
    halves (global error O(dt^2)), and is below 0.01 at dt = 0.1."""
    with jax.enable_x64(True):
        q0, p0 = random_phase_point((4, 2))
        deviations = []
        for dt in (0.1, 0.05, 0.025):
            steps = int(round(20 / dt))
            qs, ps = hgn.leapfrog_trajectory(oscillator, q0, p0, dt, 1, steps)
            t = dt * np.arange(steps + 1)[:, None, None]
            exact_q, exact_p = oscillator_solution(np.asarray(q0), np.asarray(p0), t)
            deviations.append(max(np.max(np.abs(qs - exact_q)), np.max(np.abs(ps - exact_p))))
        amplitude = np.max(np.hypot(np.asarray(q0), np.asarray(p0)))
    assert deviations[0] < 0.01 * amplitude
    ratios = np.array(deviations[:-1]) / np.array(deviations[1:])
    np.testing.assert_allclose(ratios, 4.0, rtol=0.05)


@pytest.mark.parametrize("activation, kinetic", [
    *((activation, "mlp") for activation in hgn.ACTIVATIONS), ("swish", "quadratic_mlp")])
def test_a_learned_hamiltonians_energy_is_conserved_to_second_order(activation, kinetic):
    """A randomly initialised HGN Hamiltonian, 50 time units: the energy error stays small and
    shrinks by 4 (to within 2%) each time ``dt`` halves; it does not drift with time."""
    with jax.enable_x64(True):
        hamiltonian = learned_hamiltonian(activation, kinetic)
        q0, p0 = random_phase_point((4, 3))
        errors = [max_energy_error(hamiltonian, q0, p0, dt, 50.0)
                  for dt in (0.1, 0.05, 0.025)]
        first_half = max_energy_error(hamiltonian, q0, p0, 0.05, 25.0)
        energy = np.abs(np.asarray(hamiltonian(q0, p0)))
    assert np.all(errors[0] < 1e-3 * (1 + energy))  # small against the energy at dt = 0.1
    np.testing.assert_allclose(errors[0] / errors[1], 4.0, rtol=0.02)
    np.testing.assert_allclose(errors[1] / errors[2], 4.0, rtol=0.02)
    assert np.all(errors[1] < 1.5 * first_half)  # bounded, not growing: no secular drift


@pytest.mark.parametrize("name", ["oscillator", "learned, kinetic energy even in p"])
def test_flipping_the_momentum_retraces_the_path(name):
    """n steps forward, flip p, n steps, flip p: back at the start to float32 precision, for an
    ``H`` whose kinetic energy is even in ``p`` (time-reversal symmetric)."""
    if name == "oscillator":
        hamiltonian = oscillator
    else:
        learned = learned_hamiltonian("swish")

        def hamiltonian(q, p):  # T(p) + V(q) -> (T(p) + T(-p)) / 2 + V(q)
            return 0.5 * (learned(q, p) + learned(q, -p))

    q0, p0 = random_phase_point((4, 3))
    q1, p1 = hgn.leapfrog(hamiltonian, q0, p0, 0.1, 300)
    assert float(jnp.max(jnp.abs(q1 - q0))) > 0.1  # it went somewhere
    q2, p2 = hgn.leapfrog(hamiltonian, q1, -p1, 0.1, 300)
    np.testing.assert_allclose(q2, q0, atol=2e-5)
    np.testing.assert_allclose(-p2, p0, atol=2e-5)


def test_a_step_of_minus_dt_undoes_a_step_of_dt_for_any_learned_hamiltonian():
    """Symmetry of the method itself, for a learned ``T(p)`` that is not even in ``p``."""
    hamiltonian = learned_hamiltonian("softplus")
    q0, p0 = random_phase_point((4, 3))
    q1, p1 = hgn.leapfrog(hamiltonian, q0, p0, 0.1, 300)
    q2, p2 = hgn.leapfrog(hamiltonian, q1, p1, -0.1, 300)
    np.testing.assert_allclose(q2, q0, atol=2e-5)
    np.testing.assert_allclose(p2, p0, atol=2e-5)


def test_the_trajectory_is_read_every_substeps_leapfrog_steps():
    q0, p0 = random_phase_point((2, 3))
    hamiltonian = learned_hamiltonian("tanh")
    qs, ps = hgn.leapfrog_trajectory(hamiltonian, q0, p0, 0.05, 4, 3)
    assert qs.shape == ps.shape == (4, 2, 3)
    np.testing.assert_array_equal(qs[0], q0)
    q8, p8 = hgn.leapfrog(hamiltonian, q0, p0, 0.05, 8)
    np.testing.assert_allclose(qs[2], q8, atol=1e-6)
    np.testing.assert_allclose(ps[2], p8, atol=1e-6)
    assert hgn.leapfrog_trajectory(hamiltonian, q0, p0, 0.05, 4, 0)[0].shape == (1, 2, 3)


def test_the_quadratic_kinetic_energy_is_half_p_squared_plus_the_mlp():
    q, p = random_phase_point((5, 3))
    with_mass = learned_hamiltonian("tanh", "quadratic_mlp")(q, p)
    np.testing.assert_allclose(with_mass - learned_hamiltonian("tanh")(q, p),
                               0.5 * jnp.sum(p**2, axis=-1), rtol=1e-5)
    with pytest.raises(ValueError, match="kinetic must be one of"):
        learned_hamiltonian("tanh", "cubic")(q, p)


def test_the_learned_hamiltonian_is_separable_with_one_energy_per_sample():
    hamiltonian = learned_hamiltonian("swish")
    q, p = random_phase_point((5, 3))
    energy = hamiltonian(q, p)
    assert energy.shape == (5,)
    # T(p) + V(q): changing p changes H by T alone, whatever q is
    other_q = q[::-1]
    np.testing.assert_allclose(hamiltonian(q, 2 * p) - energy,
                               hamiltonian(other_q, 2 * p) - hamiltonian(other_q, p), atol=1e-5)


# --------------------------------------------------------------------------------------------
# The forecasting core


IMAGE, K, T, B = (8, 8, 3), 3, 6, 2
TINY = dict(kind="hgn", hgn_units=4, hgn_width=8, hgn_depth=1, hgn_dt=0.0625,
            hgn_frame_dt=0.125, hgn_kinetic="quadratic_mlp", gru_units=8, encoded_units=8,
            context_frames=K, encoder="mlp", decoder="mlp")


def test_the_hgn_forecast_is_the_leapfrog_trajectory_of_the_inferred_phase_point():
    """``z`` is ``q`` under leapfrog (2 steps of 0.0625 per frame) of the core's Hamiltonian
    (``|p|^2 / 2`` plus the kinetic MLP here) from the inferred ``(q0, p0)``, and the decoder
    reads ``q`` alone."""
    model = forecasting.build_forecast_model(ml_collections.ConfigDict(TINY), IMAGE)
    frames = jax.random.uniform(jax.random.PRNGKey(0), (B, T, *IMAGE))
    variables = model.init(jax.random.PRNGKey(1), frames)
    out = model.apply(variables, frames)
    q0, p0 = out["initial_state"]
    assert q0.shape == p0.shape == (B, 4) and out["z"].shape == (B, T, 4)
    assert out["prediction"].shape == frames.shape
    params = variables["params"]
    layers = hgn.HamiltonianMLP(4, 8, 1).apply({"params": params["core"]})
    hamiltonian = functools.partial(hgn.mlp_hamiltonian, layers, kinetic="quadratic_mlp")
    qs, _ = hgn.leapfrog_trajectory(hamiltonian, q0, p0, 0.0625, 2, T - 1)
    np.testing.assert_allclose(out["z"], jnp.swapaxes(qs, 0, 1), rtol=1e-5, atol=1e-6)
    assert params["decoder"]["project"]["kernel"].shape[0] == 4  # q, not (q, p)


@pytest.mark.slow
def test_hgn_trains_on_the_smoke_preset_and_writes_a_run(tmp_path):
    """``make train EXP=hamiltonian PRESET=smoke MODEL=hgn``: finite losses, a lower held-out
    loss than at initialisation, a checkpoint, a summary with VPT, the figures."""
    config = experiment_config("hamiltonian", model__kind="hgn",
                               data__cache_dir=str(tmp_path / "cache"))
    task = tasks.build_task(config)
    before = task.final(create_train_state(config, task).params, None)["loss"]
    summary = train.train_and_evaluate(config, tmp_path / "run", progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert records and all(np.isfinite(r["loss"]) for r in records)
    assert summary["test"]["loss"] < before
    assert 0 <= summary["test"]["vpt"] <= summary["test"]["extrapolation_steps"]
    assert summary["num_params"] > 0
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 10
    assert (tmp_path / "run" / "checkpoints" / "10").is_dir()
    for name in ("forecast.png", "figure1.png", "hidden.gif"):
        assert (tmp_path / "run" / name).stat().st_size > 0


@pytest.mark.parametrize("override, message", [
    ("--config.model.hgn_dt=0.05",
     "model.hgn_frame_dt (0.125) must be a whole multiple of model.hgn_dt (0.05)"),
    ("--config.model.rollout=autoregressive", "needs a recurrent core"),
    ("--config.model.hgn_activation=relu", "'model.hgn_activation' must be one of"),
    ("--config.model.hgn_kinetic=cubic", "'model.hgn_kinetic' must be one of"),
    ("--config.model.hgn_units=0", "'model.hgn_units' must be an integer >= 1"),
])
def test_hgn_configs_that_cannot_work_exit_2_with_one_line(tmp_path, capsys, override, message):
    code = cli.main(["train", "--config", "hamiltonian:smoke", "--workdir", str(tmp_path),
                     "--quiet", "--config.model.kind=hgn", override])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "config.json").exists()


def test_hgn_is_a_forecasting_core_only(tmp_path, capsys):
    code = cli.main(["train", "--config", "waves:smoke", "--workdir", str(tmp_path), "--quiet",
                     "--config.model.kind=hgn"])
    assert code == 2
    assert "forecasting baseline" in capsys.readouterr().err
    with pytest.raises(ValueError, match="whole multiple of model.hgn_dt"):
        forecasting.build_forecast_model(ml_collections.ConfigDict(dict(TINY, hgn_dt=0.05)), IMAGE)
    assert forecasting.hgn_substeps(0.125, 0.03125) == 4


def test_the_paper_preset_keeps_the_suites_hgn_and_the_cpu_preset_adds_a_unit_mass():
    """paper: the suite's HGN++ (q, p of 16, 4 x 250 swish, T the MLP alone, one leapfrog step
    of 0.125 a frame); cpu: |p|^2 / 2 under the kinetic MLP (docs/experiments.md: the MLP
    alone stopped q at 1200 steps)."""
    paper = experiment_config("hamiltonian", "paper").model
    assert (paper.hgn_units, paper.hgn_width, paper.hgn_depth, paper.hgn_activation,
            paper.hgn_kinetic, paper.hgn_dt, paper.hgn_frame_dt) == (
        16, 250, 4, "swish", "mlp", 0.125, 0.125)
    assert experiment_config("hamiltonian", "cpu").model.hgn_kinetic == "quadratic_mlp"
