r"""Bounded hidden states of the oscillator step (property tests) and ``locornn analyze stability``.

The bound tested
----------------
Rusch & Mishra (2021, Prop. 3.1) bound the energy ``y_n^T y_n + z_n^T z_n / gamma`` of the coRNN
for their IMEX scheme, whose damping ``-dt eps z_n`` is *implicit*. LocoRNN's step
(:func:`locornn.dynamics.step`, like the authors' reference code) is fully explicit in the
damping and updates the velocity first (symplectic Euler). For unit ``i`` (position ``z``,
velocity ``v``) it reads

.. math::
    v_n = (1 - \Delta t\,\alpha) v_{n-1} - \Delta t\,\gamma z_{n-1} + \Delta t f_n, \quad
    z_n = z_{n-1} + \Delta t\, v_n, \qquad f_n = \tanh(K_z * z + K_v * v + d_n + b)_i,

i.e. ``x_n = A x_{n-1} + c f_n`` with ``x = (z, v)``,

.. math::
    A = \begin{pmatrix} 1 - \Delta t^2\gamma & \Delta t (1 - \Delta t\,\alpha) \\
                        -\Delta t\,\gamma & 1 - \Delta t\,\alpha \end{pmatrix}, \qquad
    c = (\Delta t^2, \Delta t).

The coupling (local or dense, of any magnitude) and the drive enter only through ``f_n``, and
``|f_n| <= 1`` because of the tanh. From ``x_0 = 0``, ``x_n = sum_{k<n} A^k c f_{n-k}``, so for
every unit, batch element and step ``n >= 1`` (exact, for any parameters):

.. math::
    |z_n| \le Z_n := \sum_{k=0}^{n-1} |(A^k c)_1|, \qquad
    |v_n| \le V_n := \sum_{k=0}^{n-1} |(A^k c)_2|.                         \tag{1}

(``Z_n`` is attained by the forcing ``f = sign``, so (1) is tight.) The characteristic polynomial
of ``A`` is ``lambda^2 - (2 - dt^2 gamma - dt alpha) lambda + (1 - dt alpha)``; by the Jury
criterion its roots lie strictly inside the unit circle iff

.. math::
    \gamma > 0, \qquad \alpha > 0, \qquad \Delta t > 0, \qquad
    \Delta t^2 \gamma + 2 \Delta t\, \alpha < 4                             \tag{C}

(``alpha dt < 2`` then follows). Under (C) the series converge, ``Z_n <= Z_inf < inf`` and
``V_n <= V_inf < inf``, and the hidden state is bounded uniformly in time, with energy

.. math::
    E_n := z_n^\top z_n + \tfrac{1}{\gamma} v_n^\top v_n
        \le m \big(Z_\infty^2 + \tfrac{1}{\gamma} V_\infty^2\big)          \tag{2}

for all ``n`` (``m`` units per sequence) -- stronger than Prop. 3.1's bound, which grows linearly
in ``t_n``, because the damping here is explicit and ``alpha > 0``. The property test checks
(1) at every step and unit and (2) at every step, for random 5x5 lattice kernels of any
magnitude, random drives, bias, tied or separate kernels, both paddings, and ``gamma, alpha,
dt`` drawn inside (C). Outside (C) (negative damping ``alpha < 0``, or ``dt^2 gamma + 2 dt alpha
> 4``) ``rho(A) > 1`` and the state grows without bound: the concrete examples below exceed
the uniform bound (2) of the nearest admissible parameters by orders of magnitude.
"""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from locornn import cli, dynamics
from locornn.analysis.lattice import stability

LATTICE, BATCH, STEPS = 5, 2, 200


def step_matrix(dt: float, gamma: float, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """``A`` and ``c`` of ``x_n = A x_{n-1} + c f_n`` (module docstring), float64."""
    a = np.array([[1 - dt * dt * gamma, dt * (1 - dt * alpha)],
                  [-dt * gamma, 1 - dt * alpha]])
    return a, np.array([dt * dt, dt])


def partial_bounds(dt, gamma, alpha, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``(Z_n, V_n)`` of (1) for ``n = 1 .. steps``, each ``(steps,)``."""
    a, term = step_matrix(dt, gamma, alpha)
    z, v = np.zeros(steps), np.zeros(steps)
    for n in range(steps):
        z[n], v[n] = abs(term[0]), abs(term[1])
        term = a @ term
    return np.cumsum(z), np.cumsum(v)


def uniform_bounds(dt, gamma, alpha, tol: float = 1e-13) -> tuple[float, float]:
    """``(Z_inf, V_inf)`` under (C) (the series, summed until its terms are negligible)."""
    a, (p, q) = step_matrix(dt, gamma, alpha)
    (a11, a12), (a21, a22) = a
    z_sum = v_sum = 0.0
    for _ in range(10 ** 6):
        z_sum, v_sum = z_sum + abs(p), v_sum + abs(q)
        p, q = a11 * p + a12 * q, a21 * p + a22 * q
        if abs(p) + abs(q) < tol * (z_sum + v_sum):
            break
    tail = 1.0 / (1.0 - max(abs(np.linalg.eigvals(a))))  # crude tail allowance (geometric)
    return z_sum * (1 + tol * tail), v_sum * (1 + tol * tail)


def in_conditions(dt, gamma, alpha) -> bool:
    """Condition (C)."""
    return gamma > 0 and alpha > 0 and dt > 0 and dt * dt * gamma + 2 * dt * alpha < 4


_rollout = jax.jit(dynamics.rollout, static_argnames=("coupling", "return_velocity"))


def run(params: dynamics.OscillatorParams, drives, coupling=None):
    """``(z, v)`` trajectories, numpy float64, each ``(T, B, H, W, 1)``."""
    coupling = coupling or dynamics.LocalCoupling()
    zs, vs = _rollout(params, jnp.asarray(drives, jnp.float32), coupling=coupling,
                      return_velocity=True)
    return np.asarray(zs, np.float64), np.asarray(vs, np.float64)


def lattice_params(rng, kernel_scale, dt, gamma, alpha, tied=False, bias=0.0):
    def kernel():
        return jnp.asarray(rng.normal(size=(3, 3, 1, 1)) * kernel_scale, jnp.float32)

    return dynamics.OscillatorParams(
        position_kernel=kernel(), velocity_kernel=None if tied else kernel(),
        bias=jnp.asarray([bias], jnp.float32), dt=jnp.float32(dt), gamma=jnp.float32(gamma),
        alpha=jnp.float32(alpha))


# ----------------------------------------------------------------------------------------------
# Inside the conditions: the bound holds at every step
# ----------------------------------------------------------------------------------------------


@st.composite
def admissible_constants(draw):
    """``(dt, gamma, alpha)`` inside (C), with a margin (``dt <= 0.95 dt_max``)."""
    gamma = draw(st.floats(0.1, 4.0))
    alpha = draw(st.floats(0.1, 2.0))
    dt_max = (-alpha + math.sqrt(alpha * alpha + 4 * gamma)) / gamma  # dt^2 g + 2 dt a = 4
    dt = draw(st.floats(0.05, 0.95)) * dt_max
    return dt, gamma, alpha


@settings(max_examples=25, deadline=None, derandomize=True)
@given(constants=admissible_constants(), seed=st.integers(0, 2 ** 31 - 1),
       kernel_scale=st.floats(0.0, 100.0), drive_scale=st.floats(0.0, 100.0),
       bias=st.floats(-10.0, 10.0), tied=st.booleans(),
       padding=st.sampled_from(dynamics.PADDINGS))
def test_hidden_state_obeys_the_bound_at_every_step_inside_the_conditions(
        constants, seed, kernel_scale, drive_scale, bias, tied, padding):
    dt, gamma, alpha = constants
    assert in_conditions(dt, gamma, alpha)
    rng = np.random.default_rng(seed)
    params = lattice_params(rng, kernel_scale, dt, gamma, alpha, tied, bias)
    drives = rng.normal(size=(STEPS, BATCH, LATTICE, LATTICE, 1)) * drive_scale
    zs, vs = run(params, drives, dynamics.LocalCoupling(padding))
    # float32 dynamics against float64 bounds: allow a relative 1e-4 (plus rounding near 0).
    z_n, v_n = partial_bounds(float(params.dt), float(params.gamma), float(params.alpha), STEPS)
    z_inf, v_inf = uniform_bounds(float(params.dt), float(params.gamma), float(params.alpha))
    slack = 1 + 1e-4
    worst_z = np.abs(zs).reshape(STEPS, -1).max(axis=1)
    worst_v = np.abs(vs).reshape(STEPS, -1).max(axis=1)
    assert np.all(worst_z <= z_n * slack + 1e-6), "(1) fails for z"
    assert np.all(worst_v <= v_n * slack + 1e-6), "(1) fails for v"
    assert np.all(z_n <= z_inf * slack) and np.all(v_n <= v_inf * slack)
    m = LATTICE * LATTICE
    energy = (np.sum(zs ** 2, axis=(2, 3, 4)) + np.sum(vs ** 2, axis=(2, 3, 4)) / gamma)
    assert np.all(energy <= m * (z_inf ** 2 + v_inf ** 2 / gamma) * slack ** 2), "(2) fails"


def test_the_bound_is_tight_for_forcing_of_constant_sign():
    """``Z_n`` is attained: zero kernels and a saturating drive of sign ``sign((A^k c)_1)``
    reproduce (1) with equality (so the test above is not vacuous)."""
    dt, gamma, alpha, steps = 0.125, 1.0, 0.5, 60
    a, c = step_matrix(dt, gamma, alpha)
    signs = [np.sign((np.linalg.matrix_power(a, k) @ c)[0]) for k in range(steps)]
    drive = np.array(signs[::-1])[:, None, None, None, None] * 50.0  # tanh(+-50) = +-1
    drive = np.broadcast_to(drive, (steps, 1, LATTICE, LATTICE, 1))
    params = lattice_params(np.random.default_rng(0), 0.0, dt, gamma, alpha)
    zs, _ = run(params, drive)
    z_n, _ = partial_bounds(dt, gamma, alpha, steps)
    np.testing.assert_allclose(np.abs(zs[-1]).max(), z_n[-1], rtol=1e-4)


# ----------------------------------------------------------------------------------------------
# Outside the conditions: unbounded
# ----------------------------------------------------------------------------------------------


def test_negative_damping_breaks_the_bound():
    """alpha = -0.2 (dt = 0.125, gamma = 1): det A = 1 + dt |alpha| > 1, the state grows
    exponentially and leaves the uniform bound (2) of alpha = +0.2 far behind."""
    dt, gamma, alpha, steps = 0.125, 1.0, -0.2, 2000
    assert not in_conditions(dt, gamma, alpha)
    assert max(abs(np.linalg.eigvals(step_matrix(dt, gamma, alpha)[0]))) > 1
    rng = np.random.default_rng(0)
    params = lattice_params(rng, 1 / 3, dt, gamma, alpha)
    zs, _ = run(params, rng.normal(size=(steps, BATCH, LATTICE, LATTICE, 1)))
    z_inf, _ = uniform_bounds(dt, gamma, -alpha)
    late = np.abs(zs[-1]).max()
    assert not np.isfinite(late) or late > 1e3 * z_inf
    assert np.abs(zs[steps // 2]).max() < late  # growing, not a transient


def test_a_step_too_large_breaks_the_bound():
    """dt = 2.5 (gamma = 1, alpha = 0.5): dt^2 gamma + 2 dt alpha = 8.75 > 4, an eigenvalue of
    A lies below -1 and the state explodes (to inf in float32) within 200 steps."""
    dt, gamma, alpha, steps = 2.5, 1.0, 0.5, 200
    assert not in_conditions(dt, gamma, alpha)
    assert max(abs(np.linalg.eigvals(step_matrix(dt, gamma, alpha)[0]))) > 1
    rng = np.random.default_rng(1)
    zs, _ = run(lattice_params(rng, 1 / 3, dt, gamma, alpha),
                rng.normal(size=(steps, BATCH, LATTICE, LATTICE, 1)))
    dt_max = (-alpha + math.sqrt(alpha ** 2 + 4 * gamma)) / gamma  # ~1.56: the edge of (C)
    z_inf, _ = uniform_bounds(0.95 * dt_max, gamma, alpha)
    late = np.abs(zs[-1]).max()
    assert not np.isfinite(late) or late > 1e6 * z_inf


# ----------------------------------------------------------------------------------------------
# ``locornn analyze stability``
# ----------------------------------------------------------------------------------------------


def test_stability_command_writes_plot_and_json_with_finite_numbers(tmp_path, capsys):
    out, table = tmp_path / "stability.png", tmp_path / "stability.json"
    code = cli.main(["analyze", "stability", "--steps", "50", "--lattice", "4", "--batch", "2",
                     "--out", str(out), "--json", str(table), "--quiet"])
    assert code == 0
    assert out.stat().st_size > 0
    report = json.loads(table.read_text())
    assert report["horizons"] == [10, 30] and report["units"] == 16
    models = report["models"]
    assert set(models) == {"LocoRNN", "coRNN", "LSTM", "vanilla RNN"}
    for name in ("LocoRNN", "coRNN"):
        assert math.isfinite(models[name]["max_state_final"])
        assert 0 < models[name]["max_state_overall"] < 100
    for value in models["vanilla RNN"]["gradient_norm"].values():
        assert isinstance(value, float) and math.isfinite(value)
    assert "vanilla RNN" in capsys.readouterr().out


def test_gradient_norm_matches_a_plain_rollout():
    """The masked scan gives the gradient of the T-step rollout (here through
    :func:`locornn.dynamics.rollout` directly)."""
    model = stability.default_models(lattice=3, seed=0)[0]
    drives = stability.random_drive(0, 40, 2, 9)
    horizon = 17

    def loss(initial):
        zs = dynamics.rollout(model.params, drives[:horizon].reshape(horizon, 2, 3, 3, 1),
                              dynamics.State(*initial))
        return jnp.sum(zs[-1])

    grad = jax.grad(loss)(model.initial(2))
    expected = math.sqrt(sum(float(jnp.sum(g ** 2)) for g in grad))
    assert math.isclose(stability.gradient_norm(model, drives, horizon), expected, rel_tol=1e-4)


def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys):
    code = cli.main(["analyze", "stability", "--steps", "0", "--out", str(tmp_path / "a.png")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--steps" in err and len(err.splitlines()) == 1
    code = cli.main(["analyze", "stability", "--steps", "5", "--lattice", "2", "--quiet",
                     "--out", str(tmp_path / "b.png"), "--run", str(tmp_path / "missing")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "not a run directory" in err and len(err.splitlines()) == 1
    lstm_run = tmp_path / "lstm_run"
    lstm_run.mkdir()
    (lstm_run / "config.json").write_text(json.dumps({"model": {"kind": "lstm"}}))
    code = cli.main(["analyze", "stability", "--steps", "5", "--lattice", "2", "--quiet",
                     "--out", str(tmp_path / "c.png"), "--run", str(lstm_run)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "locornn or cornn" in err and len(err.splitlines()) == 1
