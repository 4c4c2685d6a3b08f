r"""How long an oscillator lattice keeps moving when nothing drives it: the free decay time.

An open-loop forecaster (``model.rollout = "open_loop"``) runs its core with no input once the
GRU has inferred ``(z_0, v_0)``: every frame of its forecast is a picture of that *free*
oscillation. If the lattice damps it out, the picture stops moving, and a forecast of a
system that keeps moving cannot stay valid much past that time. The decay time measured here
makes that testable: put it beside the run's VPT.

**Amplitude.** For one trajectory, at step ``t`` of the free rollout (eq. 2 of
:func:`locornn.dynamics.step` with drive ``d = 0``), over the ``N`` units of the state

.. math::
    A_t^2 = \frac1N \sum_i (1 - \alpha\Delta t)\, v_{t,i}^2 + \frac{F_{t,i}^2}{\gamma}
            - \Big(\frac{\alpha}{\gamma} - \Delta t\Big) F_{t,i} v_{t,i}, \qquad
    F_t = \frac{v_{t+1} - v_t}{\Delta t} + \alpha v_t
        = \tanh(K_z * z_t + K_v * v_t + b) - \gamma z_t

``F`` is the restoring force of eq. 2, read off the step itself (so eq. 2 stays in
:mod:`locornn.dynamics`). ``A`` is zero exactly at a rest point of the free dynamics
(``v = 0`` and ``F = 0``), whichever rest point the lattice settles to, so none has to be
found. ``gamma`` is floored at :data:`GAMMA_FLOOR` (a core that learnt ``gamma = 0`` would
divide by zero).

Why this form: for the uncoupled lattice (``K_z = K_v = 0``) ``F = -\gamma x`` with
``x = z - z^*``, ``z^* = \tanh(b) / \gamma`` the rest point, and symplectic Euler maps
``(x, v)`` by ``M = [[1 - \gamma\Delta t^2, \Delta t(1 - \alpha\Delta t)], [-\gamma\Delta t,
1 - \alpha\Delta t]]``, ``\det M = 1 - \alpha\Delta t``. ``A^2 = \gamma x^2 + (\alpha -
\gamma\Delta t)\, x v + (1 - \alpha\Delta t)\, v^2`` is the quadratic form with
``Q(M y) = \det M \cdot Q(y)``: one step shrinks it by exactly ``1 - \alpha\Delta t`` in every
phase of the oscillation (for ``alpha = 0`` it is the energy symplectic Euler conserves,
``v^2 + \gamma x^2 - \gamma\Delta t\, x v``). The plain energy ``v^2 + \gamma x^2`` wobbles
within each period (one oscillator at alpha = 0.5, gamma = 1, dt = 0.125: decay times off
by up to 19%, depending on its phase at the start). ``Q`` is
positive definite exactly when ``M`` has complex eigenvalues, ``(\alpha + \gamma\Delta t)^2 <
4\gamma`` (light damping); otherwise the plain energy ``v^2 + F^2 / \gamma`` is used. In a
coupled lattice ``A`` weights each unit's motion as the uncoupled oscillator's form does;
the coupling's own damping (e.g. ``sum(K_v) < 0`` through the tanh) shows in ``A``'s decay.

**Decay time.** The first step ``t`` at which the envelope ``E_t = max_{s >= t} A_s`` (what the
amplitude still reaches from ``t`` on) has fallen to ``A_0 / e``: the amplitude never comes back
above ``A_0 / e`` after it, within the horizon. A rollout that does not get there within the
horizon (an undamped, growing or diverged one) has decay time ``inf``: it is reported as "not
within ``horizon`` steps", never as a number. Two more numbers say what such a lattice does
instead: the first step at which ``A_t`` itself dips to ``A_0 / e`` (:func:`first_below_steps`;
a lattice that dips and then swings up again into a self-sustained oscillation has one, but no
decay time) and ``A`` at the horizon over ``A_0`` (near 0: a slow decay to rest; near or
above 1: it keeps moving).

**Known case.** Uncoupled and lightly damped, ``A_t = (1 - \alpha\Delta t)^{t/2} A_0``, so the
decay time is the first whole step at or after ``-2 / \ln(1 - \alpha\Delta t)``
(:func:`alpha_decay_steps`):
the continuous oscillator's ``2 / \alpha`` time units divided by ``\Delta t``, to first order
in ``\alpha\Delta t`` (``tests/test_free_decay.py``).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from locornn import dynamics

__all__ = ["GAMMA_FLOOR", "alpha_decay_steps", "decay_steps", "first_below_steps",
           "free_amplitudes", "free_decay"]

GAMMA_FLOOR = 1e-3


@functools.partial(jax.jit, static_argnames=("coupling", "steps"))
def free_amplitudes(params: dynamics.OscillatorParams, initial: dynamics.State, coupling,
                    steps: int) -> jax.Array:
    """``A_t`` (module docstring) of the free rollout from ``initial``, ``t = 0 .. steps - 1``.

    Args:
      params: the effective oscillator parameters (e.g.
        :func:`locornn.models.forecasting.oscillator_parameters`).
      initial: ``(z_0, v_0)``, each ``(B, *state_shape)``.
      coupling: the core's coupling (static).
      steps: how many steps to follow (static); step ``t`` needs ``v_{t+1}``, so ``steps``
        steps of the dynamics are run.

    Returns:
      ``(steps, B)``.
    """
    alpha, dt = params.alpha, params.dt
    gamma = jnp.maximum(params.gamma, GAMMA_FLOOR)
    # the step's own form where it has one (light damping), else the plain energy
    light = (alpha + gamma * dt) ** 2 < 4.0 * gamma
    v_weight = jnp.where(light, 1.0 - alpha * dt, 1.0)
    cross = jnp.where(light, alpha / gamma - dt, 0.0)
    units = tuple(range(1, initial.z.ndim))

    def body(state, _):
        new = dynamics.step(params, state, jnp.zeros_like(state.z), coupling)
        force = (new.v - state.v) / dt + alpha * state.v
        squared = v_weight * state.v ** 2 + force ** 2 / gamma - cross * force * state.v
        return new, jnp.sqrt(jnp.mean(squared, axis=units))

    _, amplitudes = lax.scan(body, dynamics.State(*initial), None, length=steps)
    return amplitudes


def decay_steps(amplitudes) -> np.ndarray:
    """Per trajectory, the first step at which the envelope ``max_{s >= t} A_s`` is at most
    ``A_0 / e``; ``inf`` where it never is within the ``T`` steps given (a NaN amplitude, a
    diverged rollout, never decays).

    Args:
      amplitudes: ``(T, B)``.

    Returns:
      ``(B,)`` float64.
    """
    amplitudes = np.asarray(amplitudes, np.float64)
    envelope = np.maximum.accumulate(amplitudes[::-1], axis=0)[::-1]  # NaN spreads backwards
    decayed = envelope <= amplitudes[0] / math.e  # False...False True...True (or all False)
    return np.where(decayed.any(axis=0), np.argmax(decayed, axis=0), np.inf)


def alpha_decay_steps(alpha: float, gamma: float, dt: float) -> float | None:
    """Steps for the *uncoupled* lattice's amplitude to fall to ``1/e``: ``-2 / ln(1 - alpha
    dt)`` (module docstring); ``None`` outside light damping (``alpha <= 0``, or
    ``(alpha + gamma dt)^2 >= 4 gamma``: real eigenvalues of the step, where the decay is not
    set by ``alpha`` alone)."""
    damping = alpha * dt
    if not (0.0 < damping < 1.0 and (alpha + gamma * dt) ** 2 < 4.0 * gamma):
        return None
    return -2.0 / math.log1p(-damping)


def first_below_steps(amplitudes) -> np.ndarray:
    """Per trajectory, the first step at which ``A_t <= A_0 / e`` itself (it may rise again
    later, as in a lattice that swings into a self-sustained oscillation); ``inf`` where it
    never is. ``(T, B) -> (B,)``."""
    amplitudes = np.asarray(amplitudes, np.float64)
    below = amplitudes <= amplitudes[0] / math.e
    return np.where(below.any(axis=0), np.argmax(below, axis=0), np.inf)


def _median_or_none(values: np.ndarray) -> float | None:
    median = float(np.median(values))
    return median if math.isfinite(median) else None


def free_decay(params: dynamics.OscillatorParams, initial: dynamics.State, coupling,
               horizon: int) -> dict:
    """The free decay of a core from ``B`` initial states, summarised for a run's summary.

    Returns:
      ``{"free_decay_steps": median over the B trajectories of :func:`decay_steps` (``None``
      when that median is not reached within the horizon), "free_decay_horizon": horizon,
      "free_decay_undecayed": fraction of trajectories not decayed within the horizon,
      "free_first_below_steps": median of :func:`first_below_steps` (``None`` likewise),
      "free_end_amplitude": median of ``A_{horizon - 1} / A_0`` (what "not decayed" means:
      near 0 a slow decay to rest, near or above 1 a lattice that keeps moving or grows;
      ``None`` if not finite), "alpha_decay_steps": :func:`alpha_decay_steps` of the core's
      constants (``None`` when undefined)}``.
    """
    amplitudes = np.asarray(free_amplitudes(params, dynamics.State(*initial), coupling,
                                            horizon), np.float64)
    times = decay_steps(amplitudes)
    with np.errstate(divide="ignore", invalid="ignore"):
        end = amplitudes[-1] / amplitudes[0]
    return {"free_decay_steps": _median_or_none(times),
            "free_decay_horizon": int(horizon),
            "free_decay_undecayed": float(np.mean(np.isinf(times))),
            "free_first_below_steps": _median_or_none(first_below_steps(amplitudes)),
            "free_end_amplitude": _median_or_none(np.where(np.isnan(end), np.inf, end)),
            "alpha_decay_steps": alpha_decay_steps(float(params.alpha), float(params.gamma),
                                                   float(params.dt))}
