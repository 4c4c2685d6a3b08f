"""Physics of the generated Hamiltonian-suite data: conservation laws, closed forms, sampling.

Energies and invariants are recomputed here in NumPy from the textbook formulas (not with the
generator's own functions), so these tests also check the generator's Hamiltonians.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from locornn.data.hamiltonian import SYSTEMS, get_system, simulate
from locornn.data.hamiltonian.generate import generate

STEPS = 255  # 256 frames, as in the suite
NUM = 4


@functools.cache
def data(name: str):
    """Four frictionless trajectories of 255 steps (seed 0)."""
    return generate(name, num=NUM, num_steps=STEPS, seed=0)


def relative_drift(energy: np.ndarray, ground: np.ndarray | float = 0.0) -> float:
    """max_t |E(t) - E(0)| / |E(0) - E_ground| over trajectories; energy (N, T)."""
    scale = np.abs(energy[:, :1] - np.reshape(ground, (-1, 1)))
    return float(np.max(np.abs(energy - energy[:, :1]) / scale))


# ----------------------------------------------------------------------------------------------
# Energy conservation (frictionless physics), 255 steps
# ----------------------------------------------------------------------------------------------


def test_mass_spring_energy_is_conserved():
    """H = k q^2/2 + p^2/(2m) is constant to 1e-5 relative over 255 steps."""
    d = data("mass_spring")
    k, m = d.params["k"][:, None], d.params["m"][:, None]
    q, p = d.states[..., 0], d.states[..., 1]
    energy = k * q**2 / 2 + p**2 / (2 * m)
    assert relative_drift(energy) < 1e-5


def test_pendulum_energy_is_conserved():
    """H = m g l (1 - cos q) + p^2/(2 m l^2) is constant to 1e-5 relative over 255 steps."""
    d = data("pendulum")
    m, g, l = (d.params[k][:, None] for k in ("m", "g", "l"))
    q, p = d.states[..., 0], d.states[..., 1]
    energy = m * g * l * (1 - np.cos(q)) + p**2 / (2 * m * l**2)
    assert relative_drift(energy) < 1e-5


def double_pendulum_energy(states: np.ndarray, params: dict) -> np.ndarray:
    m1, m2, l1, l2, g = (params[k][:, None] for k in ("m_1", "m_2", "l_1", "l_2", "g"))
    q1, q2, p1, p2 = (states[..., i] for i in range(4))
    kinetic = (
        m2 * l2**2 * p1**2
        + (m1 + m2) * l1**2 * p2**2
        - 2 * m2 * l1 * l2 * p1 * p2 * np.cos(q1 - q2)
    ) / (2 * m2 * l1**2 * l2**2 * (m1 + m2 * np.sin(q1 - q2) ** 2))
    return kinetic - (m1 + m2) * g * l1 * np.cos(q1) - m2 * g * l2 * np.cos(q2)


def test_double_pendulum_energy_is_conserved():
    """The two-link Hamiltonian is constant to 1e-5 relative to the energy above the rest state.

    (H itself can cross zero, so the drift is measured against H(0) - H_rest with
    H_rest = -(m1 + m2) g l1 - m2 g l2, the energy of both links hanging down at rest.)
    """
    d = data("double_pendulum")
    energy = double_pendulum_energy(d.states, d.params)
    p = d.params
    ground = -(p["m_1"] + p["m_2"]) * p["g"] * p["l_1"] - p["m_2"] * p["g"] * p["l_2"]
    assert relative_drift(energy, ground) < 1e-5


def two_body_parts(states: np.ndarray):
    return states[..., 0:2], states[..., 2:4], states[..., 4:6], states[..., 6:8]


def test_two_body_energy_momentum_and_angular_momentum_are_conserved():
    """H = -g m1 m2/|q1-q2| + sum |p_i|^2/(2 m_i), momentum P = p1 + p2 and angular momentum
    L = sum q_i x p_i are constant."""
    d = data("two_body")
    q1, q2, p1, p2 = two_body_parts(d.states)
    m, g = d.params["m"], d.params["g"][:, None]
    dist = np.linalg.norm(q1 - q2, axis=-1)
    energy = (
        -g * m[:, :1] * m[:, 1:] / dist
        + np.sum(p1**2, -1) / (2 * m[:, :1])
        + np.sum(p2**2, -1) / (2 * m[:, 1:])
    )
    assert relative_drift(energy) < 1e-5
    momentum = p1 + p2
    np.testing.assert_allclose(momentum, momentum[:, :1].repeat(STEPS + 1, 1), atol=1e-8)
    cross = lambda a, b: a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]  # noqa: E731
    angular = cross(q1, p1) + cross(q2, p2)
    assert relative_drift(angular) < 1e-6


def test_two_body_initial_state_gives_circular_orbits():
    """With m = g = 1 the suite's initial momentum (pos_y, -pos_x)/(2 r^1.5) makes circles:
    the separation |q1 - q2| stays 2r and the centre of mass stays at the origin."""
    d = data("two_body")
    q1, q2, p1, p2 = two_body_parts(d.states)
    np.testing.assert_allclose(q1[:, 0], -q2[:, 0])
    assert np.all((q1[:, 0] >= 0.5) & (q1[:, 0] <= 1.5))
    r = np.linalg.norm(q1[:, 0], axis=-1)
    expected_p = np.stack([q1[:, 0, 1], -q1[:, 0, 0]], -1) / (2 * r[:, None] ** 1.5)
    np.testing.assert_allclose(p1[:, 0], expected_p)
    separation = np.linalg.norm(q1 - q2, axis=-1)
    np.testing.assert_allclose(separation, 2 * r[:, None].repeat(STEPS + 1, 1), rtol=1e-6)
    np.testing.assert_allclose(q1 + q2, 0.0, atol=1e-8)


# ----------------------------------------------------------------------------------------------
# Games: simplices and the replicator constant of motion
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,n", [("rock_paper_scissors", 3), ("matching_pennies", 2)])
def test_game_states_stay_on_their_simplices(name, n):
    """Each population's mixed strategy stays positive and sums to one."""
    d = data(name)
    assert d.states.shape == (NUM, STEPS + 1, 2 * n)
    x1, x2 = d.states[..., :n], d.states[..., n:]
    assert np.all(x1 > 0) and np.all(x2 > 0)
    np.testing.assert_allclose(x1.sum(-1), 1.0, atol=1e-9)
    np.testing.assert_allclose(x2.sum(-1), 1.0, atol=1e-9)


@pytest.mark.parametrize("name,n", [("rock_paper_scissors", 3), ("matching_pennies", 2)])
def test_zero_sum_replicator_constant_of_motion_is_conserved(name, n):
    """V = sum_i x1*_i log x1_i + sum_j x2*_j log x2_j, with the interior equilibrium
    x* = uniform, is constant along zero-sum replicator dynamics."""
    d = data(name)
    x1, x2 = d.states[..., :n], d.states[..., n:]
    v = np.log(x1).mean(-1) + np.log(x2).mean(-1)
    np.testing.assert_allclose(v, v[:, :1].repeat(STEPS + 1, 1), rtol=0, atol=1e-7)


@pytest.mark.parametrize(
    "name,payoff",
    [
        ("rock_paper_scissors", [[0, -1, 1], [1, 0, -1], [-1, 1, 0]]),
        ("matching_pennies", [[1, -1], [-1, 1]]),
    ],
)
def test_games_follow_two_population_replicator_dynamics(name, payoff):
    """Stored dx/dt is x1 * (A x2 - x1.A x2) and x2 * (-A^T x1 + x2.A^T x1), and dt = 0.1."""
    a = np.asarray(payoff, float)
    n = len(a)
    d = data(name)
    assert d.dt == pytest.approx(0.1)
    x1, x2 = d.states[..., :n], d.states[..., n:]
    f1 = np.einsum("ij,...j->...i", a, x2)
    f2 = np.einsum("ji,...j->...i", -a, x1)
    expected = np.concatenate(
        [
            x1 * (f1 - (x1 * f1).sum(-1, keepdims=True)),
            x2 * (f2 - (x2 * f2).sum(-1, keepdims=True)),
        ],
        -1,
    )
    np.testing.assert_allclose(d.dx_dt, expected, atol=1e-12)
    # and the trajectory really follows it: central differences match dx/dt.
    central = (d.states[:, 2:] - d.states[:, :-2]) / (2 * d.dt)
    np.testing.assert_allclose(central, d.dx_dt[:, 1:-1], atol=5e-3)


# ----------------------------------------------------------------------------------------------
# Closed forms
# ----------------------------------------------------------------------------------------------


def test_integrated_spring_matches_its_closed_form():
    """The adaptive ODE solution of the spring equals A cos(w t + phi), w = sqrt(k/m),
    A = sqrt(q0^2 + p0^2/(k m)), phi = atan2(-p0, q0 m w)."""
    k, m, q0, p0 = 2.0, 0.5, 0.3, -0.7
    with jax.enable_x64(True):
        params = {"k": jnp.asarray(k), "m": jnp.asarray(m)}
        states = np.asarray(
            jax.jit(lambda x: simulate("mass_spring", x, params, STEPS, method="ode"))(
                jnp.asarray([q0, p0])
            )
        )
    t = np.arange(STEPS + 1) * 0.05
    w = np.sqrt(k / m)
    amp = np.sqrt(q0**2 + p0**2 / (k * m))
    phi = np.arctan2(-p0, q0 * m * w)
    np.testing.assert_allclose(states[:, 0], amp * np.cos(w * t + phi), atol=1e-8)
    np.testing.assert_allclose(states[:, 1], -amp * m * w * np.sin(w * t + phi), atol=1e-8)


def test_generated_spring_uses_the_closed_form_with_suite_parameters():
    """Generated springs have k = 2, m = 0.5, amplitude in [0.1, 1] and follow the cosine."""
    d = data("mass_spring")
    np.testing.assert_array_equal(d.params["k"], 2.0)
    np.testing.assert_array_equal(d.params["m"], 0.5)
    q0, p0 = d.states[:, 0, 0], d.states[:, 0, 1]
    amp = np.sqrt(q0**2 + p0**2 / (2.0 * 0.5))
    assert np.all((amp >= 0.1) & (amp <= 1.0))
    np.testing.assert_allclose(np.abs(d.states[..., 0]).max(1), amp, rtol=1e-2)


def test_small_amplitude_pendulum_matches_the_harmonic_approximation():
    """For |q| << 1 the pendulum is q'' = -(g/l) q: q(t) = q0 cos(w t) + p0/(m l^2 w) sin(w t).

    The nonlinear frequency shift is ~q0^2/16, so at q0 = 0.01 the error over 12.75 s stays
    below 1e-3 of the amplitude (a wrong g/l or sign would be off by order one).
    """
    m, g, l, q0, p0 = 0.5, 3.0, 1.0, 0.01, 0.0
    with jax.enable_x64(True):
        params = {"m": jnp.asarray(m), "g": jnp.asarray(g), "l": jnp.asarray(l)}
        states = np.asarray(
            jax.jit(lambda x: simulate("pendulum", x, params, STEPS))(jnp.asarray([q0, p0]))
        )
    t = np.arange(STEPS + 1) * 0.05
    w = np.sqrt(g / l)
    harmonic = q0 * np.cos(w * t) + p0 / (m * l**2 * w) * np.sin(w * t)
    assert np.max(np.abs(states[:, 0] - harmonic)) < 1e-3 * q0


def test_spring_with_friction_is_a_damped_oscillator():
    """With friction c: dp/dt = -k q - c p/m, i.e. q'' + (c/m) q' + (k/m) q = 0, solved by
    q = e^{-gamma t} (a cos(wd t) + b sin(wd t)), gamma = c/(2m), wd = sqrt(k/m - gamma^2);
    the energy decreases monotonically."""
    k, m, c, q0, p0 = 2.0, 0.5, 0.05, 0.8, 0.0
    with jax.enable_x64(True):
        params = {"k": jnp.asarray(k), "m": jnp.asarray(m)}
        states = np.asarray(
            jax.jit(lambda x: simulate("mass_spring_friction", x, params, STEPS))(
                jnp.asarray([q0, p0])
            )
        )
    t = np.arange(STEPS + 1) * 0.05
    gamma = c / (2 * m)
    wd = np.sqrt(k / m - gamma**2)
    v0 = p0 / m
    q = np.exp(-gamma * t) * (q0 * np.cos(wd * t) + (v0 + gamma * q0) / wd * np.sin(wd * t))
    np.testing.assert_allclose(states[:, 0], q, atol=1e-8)
    energy = k * states[:, 0] ** 2 / 2 + states[:, 1] ** 2 / (2 * m)
    assert np.all(np.diff(energy) <= 1e-12)
    assert energy[-1] < 0.6 * energy[0]


# ----------------------------------------------------------------------------------------------
# Sampling and stored derivatives
# ----------------------------------------------------------------------------------------------


def test_pendulum_parameters_initial_radius_and_vector_field():
    """m = 0.5, g = 3, l = 1; |(q0, p0)| in [1.3, 2.3]; dx_dt = (p/(m l^2), -m g l sin q)."""
    d = data("pendulum")
    for name, value in (("m", 0.5), ("g", 3.0), ("l", 1.0)):
        np.testing.assert_array_equal(d.params[name], value)
    radius = np.linalg.norm(d.states[:, 0], axis=-1)
    assert np.all((radius >= 1.3) & (radius <= 2.3))
    q, p = d.states[..., 0], d.states[..., 1]
    np.testing.assert_allclose(d.dx_dt[..., 0], p / 0.5, rtol=1e-12)
    np.testing.assert_allclose(d.dx_dt[..., 1], -0.5 * 3.0 * np.sin(q), rtol=1e-12, atol=1e-14)


def test_double_pendulum_each_link_starts_on_its_annulus():
    """Each (q_i, p_i) pair is drawn on an annulus of radius in [1.3, 2.3]; masses 0.5, l = 1."""
    d = data("double_pendulum")
    for i in range(2):
        radius = np.hypot(d.states[:, 0, i], d.states[:, 0, 2 + i])
        assert np.all((radius >= 1.3) & (radius <= 2.3))
    for name in ("m_1", "m_2"):
        np.testing.assert_array_equal(d.params[name], 0.5)


@pytest.mark.parametrize("name", SYSTEMS)
def test_every_system_has_the_suite_time_step_and_shapes(name):
    """256 frames of 32x32x3 uint8; dt 0.05 for physics, 0.1 for games; float64 states."""
    d = data(name)
    assert d.images.shape == (NUM, STEPS + 1, 32, 32, 3) and d.images.dtype == np.uint8
    assert d.states.dtype == np.float64 and d.states.shape[:2] == (NUM, STEPS + 1)
    assert d.dt == get_system(name).dt == (0.1 if "pennies" in name or "scissors" in name else 0.05)
