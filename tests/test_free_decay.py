"""The free decay time of an oscillator lattice (drive off), and where runs report it.

Specification:
* uncoupled and lightly damped, the lattice's amplitude falls to 1/e at the first whole step
  at or after ``-2 / ln(1 - alpha dt)``, whatever the oscillators' phases and the bias (which
  only moves the rest point), and within a step and 1% of the continuous ``2 / (alpha dt)``;
* a lattice that does not decay within the horizon (undamped, diverged) has no decay time:
  ``inf`` per trajectory, ``None`` with the horizon in a summary, never a number;
* damping through the coupling (``sum(K_v) < 0``) shows: such a lattice decays before
  ``alpha`` alone would let it;
* a forecasting run's summary reports, for oscillator cores only, the free decay of its core
  from the GRU's inferred initial states over ``test_sequence_length - 1`` steps.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from locornn import dynamics, optim, tasks
from locornn.analysis.lattice import free_decay
from tests.conftest import experiment_config

LOCAL = dynamics.LocalCoupling()


def _uncoupled(alpha, gamma, dt, bias=0.3):
    zero = jnp.zeros((3, 3, 1, 1))
    return dynamics.OscillatorParams(zero, zero, jnp.full((1,), bias), dt, gamma, alpha)


def _random_phases(batch=4, side=8, seed=0):
    key = jax.random.PRNGKey(seed)
    return dynamics.State(jax.random.normal(key, (batch, side, side, 1)),
                          jax.random.normal(jax.random.fold_in(key, 1), (batch, side, side, 1)))


def _one_phase_each(bias, gamma, count=12):
    """Every unit of a lattice alike, one lattice per starting phase about the rest point."""
    phase = jnp.linspace(0, 2 * np.pi, count, endpoint=False)[:, None, None, None]
    rest = math.tanh(bias) / gamma
    shape = (count, 4, 4, 1)
    return dynamics.State(jnp.broadcast_to(rest + jnp.cos(phase), shape),
                          jnp.broadcast_to(jnp.sin(phase), shape))


@pytest.mark.parametrize("alpha, gamma, dt", [(0.05, 1.0, 0.125), (0.2, 1.0, 0.125),
                                              (0.5, 1.0, 0.125), (0.05, 2.0, 0.25),
                                              (0.7, 0.8, 0.1)])
def test_an_uncoupled_lattice_decays_as_the_damped_oscillator(alpha, gamma, dt):
    params = _uncoupled(alpha, gamma, dt)
    exact = free_decay.alpha_decay_steps(alpha, gamma, dt)
    assert exact == pytest.approx(-2 / math.log(1 - alpha * dt))
    horizon = int(2 * exact) + 10
    for initial in (_random_phases(), _one_phase_each(0.3, gamma)):
        amplitudes = free_decay.free_amplitudes(params, initial, LOCAL, horizon)
        measured = free_decay.decay_steps(amplitudes)
        # float32 rounding may land a step early when the exact time is a whole number
        assert np.all(np.abs(measured - math.ceil(exact - 1e-3)) <= 1), (measured, exact)
        continuous = 2 / (alpha * dt)  # 2 / alpha time units, in steps
        assert np.all(np.abs(measured - continuous) <= 1 + 0.01 * continuous + alpha * dt * exact)


def test_an_undamped_lattice_never_decays_and_says_so():
    params = _uncoupled(alpha=0.0, gamma=1.0, dt=0.125)
    initial = _random_phases()
    times = free_decay.decay_steps(free_decay.free_amplitudes(params, initial, LOCAL, 500))
    assert np.all(np.isinf(times))
    summary = free_decay.free_decay(params, initial, LOCAL, 500)
    assert {key: summary[key] for key in ("free_decay_steps", "free_decay_horizon",
                                          "free_decay_undecayed", "free_first_below_steps",
                                          "alpha_decay_steps")} == {
        "free_decay_steps": None, "free_decay_horizon": 500, "free_decay_undecayed": 1.0,
        "free_first_below_steps": None, "alpha_decay_steps": None}
    assert summary["free_end_amplitude"] == pytest.approx(1.0, rel=1e-3)  # it keeps moving


def test_a_lattice_that_dips_and_swings_up_again_has_no_decay_time_but_a_first_dip():
    t = np.arange(300.0)
    dip_then_cycle = 1.0 - 0.8 * np.exp(-((t - 40) / 15) ** 2) + 0.3 * (t > 100)
    amplitudes = np.stack([dip_then_cycle, np.exp(-t / 50.0)], axis=1)
    assert np.isinf(free_decay.decay_steps(amplitudes)[0])
    first = free_decay.first_below_steps(amplitudes)
    assert first[0] == np.argmax(dip_then_cycle <= 1 / math.e) and first[1] == 50


def test_the_decay_is_that_of_the_envelope_counted_from_the_first_step():
    t = np.arange(200.0)
    smooth = np.exp(-t / 50.0)  # 1/e at step 50
    wobbling = smooth * (1.0 + 0.5 * np.cos(t))  # comes back above 1/e after first dipping
    at_rest = np.zeros(200)
    growing = np.exp(t / 50.0)
    diverged = np.where(t < 20, smooth, np.nan)
    times = free_decay.decay_steps(np.stack([smooth, wobbling, at_rest, growing, diverged], 1))
    assert times[0] == 50
    decayed, threshold = int(times[1]), wobbling[0] / math.e
    assert np.all(wobbling[decayed:] <= threshold)  # never back above 1/e after it ...
    assert np.max(wobbling[decayed - 1:]) > threshold  # ... and it is the first such step,
    assert np.min(wobbling[:decayed]) <= threshold  # later than the first dip below 1/e
    assert times[2] == 0
    assert np.isinf(times[3]) and np.isinf(times[4])


def test_damping_through_the_velocity_coupling_shortens_the_decay():
    alpha, gamma, dt = 0.1, 1.0, 0.125
    centre = jnp.zeros((3, 3, 1, 1)).at[1, 1, 0, 0].set(-0.5)  # sum(K_v) < 0: extra damping
    params = dynamics.OscillatorParams(jnp.zeros((3, 3, 1, 1)), centre, jnp.zeros((1,)), dt,
                                       gamma, alpha)
    initial = dynamics.State(*(0.1 * x for x in _random_phases()))  # tanh near linear
    measured = free_decay.free_decay(params, initial, LOCAL, 600)["free_decay_steps"]
    assert measured < 0.9 * free_decay.alpha_decay_steps(alpha, gamma, dt)


def test_alpha_alone_gives_no_decay_time_outside_light_damping():
    assert free_decay.alpha_decay_steps(0.0, 1.0, 0.125) is None
    assert free_decay.alpha_decay_steps(3.0, 1.0, 0.125) is None  # real eigenvalues
    assert free_decay.alpha_decay_steps(0.5, 1.0, 0.125) == pytest.approx(30.99, abs=0.01)


def test_a_forecasting_summary_reports_the_oscillator_cores_free_decay_only(tmp_path):
    cache = str(tmp_path / "cache")
    reported = {}
    for kind in ("locornn", "lstm"):
        config = experiment_config("hamiltonian", data__cache_dir=cache, model__kind=kind,
                                   data__test_sequence_length=60)
        task = tasks.build_task(config, progress=False)
        params = optim.create_train_state(config, task).params
        reported[kind] = task.final(params, None)
        if kind == "locornn":
            frames = task.dataset.test_images[:, :config.model.context_frames]
            initial = task.model.apply({"params": params}, frames, num_steps=0)["initial_state"]
            from locornn.models.forecasting import oscillator_parameters

            oscillator, coupling = oscillator_parameters(params, config.model)
            expected = free_decay.free_decay(oscillator, initial, coupling, 59)
    assert "core" not in reported["lstm"]  # not an oscillator: nothing, not a fake 0
    core = reported["locornn"]["core"]
    for key, value in expected.items():  # the same numbers (None: not within the horizon)
        assert core[key] == (value if value is None else pytest.approx(value, rel=1e-5)), key
    assert core["free_decay_horizon"] == 59
    assert {"alpha", "dt", "gamma"} <= set(core)
    assert reported["locornn"]["vpt_at_cap"] <= reported["locornn"]["vpt_trajectories"]
