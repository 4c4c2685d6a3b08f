r"""The Hamiltonian core of the HGN++ baseline: a learned separable Hamiltonian and leapfrog.

A Hamiltonian Generative Network (Toth et al. 2020; HGN++ is the variant of the Hamiltonian
Dynamics Suite paper, Botev et al. 2021) infers a point ``(q, p)`` in a latent phase space,
moves it along the flow of a *learned* Hamiltonian ``H(q, p)``

.. math:: \dot q = \partial H / \partial p, \qquad \dot p = -\partial H / \partial q,

with a symplectic integrator, and decodes ``q``. This module holds the parts that are not
specific to locornn's forecasting pipeline:

* :func:`leapfrog_step`, :func:`leapfrog`, :func:`leapfrog_trajectory`: the Stormer-Verlet
  ("kick-drift-kick") integrator as pure JAX functions of any ``hamiltonian(q, p)``;
* :class:`HamiltonianMLP` and :func:`mlp_hamiltonian`: the learned Hamiltonian as an explicit
  parameter pytree and a pure function of it (so the integrator sees a plain function, as the
  Neural ODE's vector field in :mod:`locornn.models.forecasting`).

The learned Hamiltonian is separable, ``H(q, p) = T(p) + V(q)`` with one MLP for the kinetic
energy ``T`` and one for the potential ``V``, as the suite's HGN++ (its ``separable_net``
kinetic and potential forms). Separability is what makes the explicit leapfrog below exactly
symplectic and time-reversible; for a ``H`` that mixes ``q`` and ``p`` the same three lines are
only a second-order explicit approximation (the symplectic leapfrog for such ``H`` is implicit).
The kinetic energy is either the MLP alone (``"mlp"``, the suite's) or a unit mass plus the
MLP, ``T(p) = |p|^2 / 2 + MLP(p)`` (``"quadratic_mlp"``; see :data:`KINETIC_ENERGIES`).

Shapes: ``q`` and ``p`` are ``(..., n)`` (any leading batch dimensions); a ``hamiltonian``
maps them to energies of shape ``(...)``, one per sample.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from locornn.models.codecs import apply_mlp, mlp_parameters

Hamiltonian = Callable[[jax.Array, jax.Array], jax.Array]  # (q, p) -> energy per sample

# Hidden-layer activations of the learned Hamiltonian: smooth, because the integrator reads
# H's gradient and training differentiates that gradient again (a ReLU net would have a
# piecewise-constant force and a zero Hessian). swish: the suite's HGN++; softplus: the
# original HGN's.
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "swish": jax.nn.swish, "softplus": jax.nn.softplus, "tanh": jnp.tanh}

# Forms of the kinetic energy T(p). "mlp": the MLP alone, the suite's HGN++. "quadratic_mlp":
# |p|^2 / 2 plus the MLP, so that dq/dt = p + grad MLP(p) cannot vanish everywhere: with the MLP
# alone, short training can flatten T until q stops and the decoder draws the mean frame
# (measured at the cpu preset; docs/experiments.md).
KINETIC_ENERGIES = ("mlp", "quadratic_mlp")


def _partials(hamiltonian: Hamiltonian):
    """``(dH/dq, dH/dp)`` as functions of ``(q, p)``.

    Each sample's energy depends on its own ``(q, p)`` only, so the gradient of the *sum* of
    the energies over the batch is, sample by sample, the gradient of that sample's energy.
    """
    def total(q, p):
        return jnp.sum(hamiltonian(q, p))

    return jax.grad(total, argnums=0), jax.grad(total, argnums=1)


def leapfrog_step(hamiltonian: Hamiltonian, q: jax.Array, p: jax.Array,
                  dt) -> tuple[jax.Array, jax.Array]:
    r"""One leapfrog (Stormer-Verlet, kick-drift-kick) step of size ``dt``:

    .. math::
        p_{1/2} = p - \tfrac{dt}{2}\, \partial_q H(q, p), \quad
        q' = q + dt\, \partial_p H(q, p_{1/2}), \quad
        p' = p_{1/2} - \tfrac{dt}{2}\, \partial_q H(q', p_{1/2}).

    For a separable ``H = T(p) + V(q)`` this is symplectic, symmetric (a step of ``-dt``
    undoes a step of ``dt``; when ``T`` is even in ``p``, as a mechanical kinetic energy, so
    does flipping ``p``, stepping and flipping back) and of second order: the energy error stays
    bounded, ``O(dt^2)``, over any number of steps. ``q, p``: ``(..., n)``; ``dt`` a scalar
    (negative integrates backwards). Returns ``(q', p')`` of the same shapes.
    """
    dh_dq, dh_dp = _partials(hamiltonian)
    p_half = p - 0.5 * dt * dh_dq(q, p)
    q_next = q + dt * dh_dp(q, p_half)
    return q_next, p_half - 0.5 * dt * dh_dq(q_next, p_half)


def leapfrog(hamiltonian: Hamiltonian, q: jax.Array, p: jax.Array, dt,
             steps: int) -> tuple[jax.Array, jax.Array]:
    """``steps`` (a Python int >= 0) leapfrog steps of size ``dt`` in one ``lax.scan``:
    ``(q, p)`` at time ``steps * dt``, each ``(..., n)`` as given."""
    def body(state, _):
        return leapfrog_step(hamiltonian, *state, dt), None

    (q, p), _ = jax.lax.scan(body, (q, p), None, length=steps)
    return q, p


def leapfrog_trajectory(hamiltonian: Hamiltonian, q: jax.Array, p: jax.Array, dt,
                        substeps: int, num_frames: int,
                        unroll: int = 1) -> tuple[jax.Array, jax.Array]:
    """``(qs, ps)`` at the frame times ``t_j = j * substeps * dt``, ``j = 0 .. num_frames``,
    each ``(num_frames + 1, ..., n)`` (time-major, the initial state first): ``substeps``
    leapfrog steps per frame interval, frames in an outer ``lax.scan`` (``unroll`` its
    unrolling)."""
    def frame(state, _):
        state = leapfrog(hamiltonian, *state, dt, substeps)
        return state, state

    _, (qs, ps) = jax.lax.scan(frame, (q, p), None, length=num_frames, unroll=unroll)
    return (jnp.concatenate([q[None], qs], axis=0), jnp.concatenate([p[None], ps], axis=0))


class HamiltonianMLP(nn.Module):
    """Parameters of ``H(q, p) = T(p) + V(q)``: two MLPs ``R^units -> R``, each ``depth``
    hidden layers of ``width`` then a linear layer to one output.

    ``__call__`` returns ``{"kinetic": layers, "potential": layers}``, each a list of
    ``(kernel, bias)`` pairs; :func:`mlp_hamiltonian` evaluates it. Kernels start LeCun-normal,
    biases at zero. (The output biases are constant energies: they never move the state and
    get no gradient.)
    """

    units: int
    width: int
    depth: int

    @nn.compact
    def __call__(self) -> dict[str, list[tuple[jax.Array, jax.Array]]]:
        sizes = [self.units] + [self.width] * self.depth + [1]
        return {energy: mlp_parameters(self, sizes, prefix=f"{energy}_")
                for energy in ("kinetic", "potential")}


def _mlp_energy(layers, x: jax.Array, activation) -> jax.Array:
    """``(..., n) -> (...)``: hidden layers with ``activation``, then the linear output."""
    return apply_mlp(layers, x, activation)[..., 0]


def mlp_hamiltonian(params, q: jax.Array, p: jax.Array, activation: str = "swish",
                    kinetic: str = "mlp") -> jax.Array:
    """``H(q, p) = T(p) + V(q)`` of :class:`HamiltonianMLP`'s ``params``: ``(..., n)``
    positions and momenta -> ``(...)`` energies. ``activation``: a key of
    :data:`ACTIVATIONS`; ``kinetic``: one of :data:`KINETIC_ENERGIES` (``"mlp"``:
    ``T = MLP_T(p)``; ``"quadratic_mlp"``: ``T = |p|^2 / 2 + MLP_T(p)``)."""
    if kinetic not in KINETIC_ENERGIES:
        raise ValueError(f"kinetic must be one of {KINETIC_ENERGIES}, got {kinetic!r}")
    act = ACTIVATIONS[activation]
    energy = _mlp_energy(params["kinetic"], p, act) + _mlp_energy(params["potential"], q, act)
    if kinetic == "quadratic_mlp":
        energy = energy + 0.5 * jnp.sum(p**2, axis=-1)
    return energy


__all__ = ["ACTIVATIONS", "KINETIC_ENERGIES", "HamiltonianMLP", "leapfrog", "leapfrog_step",
           "leapfrog_trajectory", "mlp_hamiltonian"]
