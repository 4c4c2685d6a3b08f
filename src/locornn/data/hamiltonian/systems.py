"""The systems of the DeepMind Hamiltonian Dynamics Suite (Botev et al. 2021), in pure JAX.

Every function here describes ONE trajectory (no batch axis); `generate.py` vmaps them.
Nothing here chooses a float precision: the generator runs these functions inside
``jax.enable_x64(True)`` so that states, parameters and the ODE solve are float64 (the energy
drift over 255 steps must stay below 1e-5, which float32 cannot promise), while rendering is
done in float32.

State layout (the suite's ``x``; ``D`` = state dimension):

* physics systems: ``x = concat(q, p)`` with ``q, p`` of shape ``(D/2,)``;
* games: ``x = concat(x1, x2)``, the mixed strategies of the two populations.

Parameters are drawn per trajectory (``sample_params``) and stored with it. Rendering
parameters (``offset``, the canvas shift, and ``color_index``) are drawn by
``sample_render_params`` and stored alongside, under the same names as the suite's
``other/...`` features.

The numbers (ranges, canvas bounds, colours) follow the suite's ``datasets.py``
configurations; see DESIGN.md section 3.

Length: one module because the systems are read side by side against the suite's ``datasets.py``:
each is its Hamiltonian (or game), its parameter sampler and its rendering parameters.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from locornn.data.hamiltonian import render as _render

Array = jax.Array
Params = dict[str, Array]

PHYSICS_DT = 0.05
GAME_DT = 0.1

# ODE tolerances. The suite uses scipy's RK45 at rtol = atol = 1e-9 (physics) and 1e-12
# (games); we use diffrax's 8th-order Dormand-Prince at least as tight, which is both more
# accurate and faster than RK45 at these tolerances (see benchmarks/bench_hamiltonian.py).
PHYSICS_TOL = 1e-10
GAME_TOL = 1e-12


Range = tuple[float, float]


# Randomness: every trajectory draws ONE vector of NUM_UNIFORMS uniforms U[0, 1) from its key
# and every random choice is a transform of a fixed slice of it (parameters, initial state,
# rendering). Drawing once instead of splitting keys for each choice gives the same
# distributions and cuts the compile time of the generator by seconds per system (each
# threefry call is compiled separately).
NUM_UNIFORMS = 16
PARAMS_SLICE = slice(0, 5)
STATE_SLICE = slice(5, 9)
RENDER_SLICE = slice(9, 14)


def _uniform(u: Array, rng: Range) -> Array:
    """Map u ~ U[0, 1) (any shape) to U[lo, hi)."""
    lo, hi = rng
    return lo + u * (hi - lo)


def uniform_annulus(u: Array, radius_range: Range, uniform_area: bool) -> Array:
    """A point (2,) in the annulus ``r_min <= |z| <= r_max`` with a uniform direction; u (2,).

    The direction is ``(cos 2 pi u0, sin 2 pi u0)`` (the suite normalises a Gaussian vector:
    the same distribution). ``uniform_area=False`` (the suite's ``uniform_annulus=False``,
    used by the six base data sets) draws ``r ~ U[r_min, r_max]``; ``True`` draws
    ``r^2 ~ U[r_min^2, r_max^2]`` (uniform over the annulus' area; the ``_colors`` variants).
    """
    angle = 2 * jnp.pi * u[0]
    lo, hi = radius_range
    if uniform_area:
        r = jnp.sqrt(lo**2 + u[1] * (hi**2 - lo**2))
    else:
        r = lo + u[1] * (hi - lo)
    return jnp.stack([jnp.cos(angle), jnp.sin(angle)]) * r


def sample_simplex(u: Array, dim: int) -> Array:
    """A point (dim,) uniform on the probability simplex from u (dim - 1,): the gaps between
    the sorted uniforms (Rubin 1981, as in the suite)."""
    u = jnp.sort(u[: dim - 1])
    edges = jnp.concatenate([jnp.zeros((1,), u.dtype), u, jnp.ones((1,), u.dtype)])
    return edges[1:] - edges[:-1]


def choose_distinct(u: Array, n: int, k: int) -> Array:
    """k distinct integers of {0..n-1} in uniformly random order, from u (k,).

    Sequential choice without replacement: the j-th pick is the ``floor(u_j (n - j))``-th of
    the values not picked yet (the suite's ``random_int_k_from_n``: a permutation's first k).
    """
    free = jnp.ones((n,), bool)
    picks = []
    for j in range(k):
        rank = jnp.floor(u[j] * (n - j)).astype(jnp.int32)
        position = jnp.cumsum(free) - 1  # rank of each free value among the free ones
        pick = jnp.argmax(free & (position == rank)).astype(jnp.int32)
        picks.append(pick)
        free = free.at[pick].set(False)
    return jnp.stack(picks)


# ----------------------------------------------------------------------------------------------
# Base class
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class System:
    """Common interface. Instances are frozen (hashable), so they can be static jit arguments.

    Subclasses implement ``sample_params``, ``sample_state``, ``vector_field``,
    ``conserved_quantity``, ``render`` and optionally ``closed_form``.
    """

    name: str

    # --- description ------------------------------------------------------------------------
    @property
    def dt(self) -> float:
        raise NotImplementedError

    @property
    def state_dim(self) -> int:
        raise NotImplementedError

    @property
    def tolerance(self) -> float:
        return PHYSICS_TOL

    # --- sampling ---------------------------------------------------------------------------
    def sample_params(self, u: Array) -> Params:
        """Per-trajectory physical parameters from uniforms u (5,): scalars / small vectors."""
        raise NotImplementedError

    def sample_state(self, u: Array, params: Params) -> Array:
        """Initial state x0 (D,) from uniforms u (4,)."""
        raise NotImplementedError

    def sample_render_params(self, u: Array) -> Params:
        """Per-trajectory rendering parameters (``offset``, ``color_index``) from u (5,)."""
        return {}

    def sample(self, key: Array) -> tuple[Params, Array, Params]:
        """(params, x0, render_params) of one trajectory from its PRNG key."""
        u = jax.random.uniform(key, (NUM_UNIFORMS,))
        params = self.sample_params(u[PARAMS_SLICE])
        return (
            params,
            self.sample_state(u[STATE_SLICE], params),
            self.sample_render_params(u[RENDER_SLICE]),
        )

    # --- dynamics ---------------------------------------------------------------------------
    def vector_field(self, t: Array, x: Array, params: Params) -> Array:
        """dx/dt at state x (D,) -> (D,)."""
        raise NotImplementedError

    def conserved_quantity(self, x: Array, params: Params) -> Array:
        """The quantity the frictionless dynamics conserve (energy H, or the games' constant)."""
        raise NotImplementedError

    def closed_form(self, x0: Array, params: Params, ts: Array) -> Array | None:
        """Exact solution at times ts (T,) -> (T, D), or None where there is none."""
        return None

    # --- rendering --------------------------------------------------------------------------
    def render(self, states: Array, params: Params, render_params: Params) -> Array:
        """Frames for a trajectory: states (T, D) -> images (T, 32, 32, 3), float in [0, 1]."""
        raise NotImplementedError

    def in_canvas(self, states: Array, params: Params) -> Array:
        """Whether the trajectory stays inside the canvas (the suite resamples it if not)."""
        return jnp.asarray(True)


# ----------------------------------------------------------------------------------------------
# Physics
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PhysicalSystem(System):
    """A Hamiltonian system ``H(q, p)`` rendered as soft disks.

    Dynamics (with optional friction ``c``, the suite's ``_friction`` variants)::

        dq/dt =  dH/dp
        dp/dt = -dH/dq - c * dH/dp          =>  dH/dt = -c |dH/dp|^2 <= 0
    """

    num_colors: int = 1
    friction: float = 0.0
    randomize_canvas_location: bool = False
    random_canvas_extra_ratio: float = 0.4
    uniform_area: bool = False

    @property
    def dt(self) -> float:
        return PHYSICS_DT

    @property
    def num_particles(self) -> int:
        raise NotImplementedError

    def hamiltonian(self, x: Array, params: Params) -> Array:
        raise NotImplementedError

    def conserved_quantity(self, x: Array, params: Params) -> Array:
        return self.hamiltonian(x, params)

    def vector_field(self, t: Array, x: Array, params: Params) -> Array:
        d = x.shape[-1] // 2
        grad = jax.grad(self.hamiltonian)(x, params)
        dh_dq, dh_dp = grad[:d], grad[d:]
        dq = dh_dp
        dp = -dh_dq
        if self.friction:
            dp = dp - self.friction * dh_dp
        return jnp.concatenate([dq, dp])

    # --- canvas -----------------------------------------------------------------------------
    def canvas_bound(self) -> float:
        """Half-width of the square canvas ``[-b, b]^2`` (before any random extra)."""
        raise NotImplementedError

    def canvas_extra(self) -> float:
        """Extra margin for randomised canvas locations: ratio * canvas size / 2."""
        if not self.randomize_canvas_location:
            return 0.0
        return self.random_canvas_extra_ratio * self.canvas_bound()

    def full_canvas_bounds(self) -> tuple[float, float]:
        b = self.canvas_bound() + self.canvas_extra()
        return (-b, b)

    def canvas_positions(self, q: Array, params: Params) -> Array:
        """Positions checked against the canvas by the suite: q (d,) -> (k, 2)."""
        raise NotImplementedError

    def particle_positions(self, q: Array, params: Params, offset: Array) -> Array:
        """Drawn particle centres: q (d,) -> (num_particles, 2), canvas coordinates."""
        raise NotImplementedError

    def particle_radii(self, params: Params) -> Array:
        """Radius of each disk, ``sqrt(m / pi)`` (area = mass): -> (num_particles,)."""
        raise NotImplementedError

    def sample_render_params(self, u: Array) -> Params:
        """offset ~ U[-extra, extra]^2 (u[0:2]); n distinct colours of num_colors (u[2:4])."""
        extra = self.canvas_extra()
        if extra:
            offset = _uniform(u[0:2], (-extra, extra))
        else:
            offset = jnp.zeros((2,), u.dtype)
        n = self.num_particles
        if self.num_colors == 1:
            color_index = jnp.zeros((n,), jnp.int32)
        else:
            color_index = choose_distinct(u[2:4], self.num_colors, n)
        return {"offset": offset, "color_index": color_index}

    def render(self, states: Array, params: Params, render_params: Params) -> Array:
        d = states.shape[-1] // 2
        q = states[:, :d]
        positions = jax.vmap(
            lambda qi: self.particle_positions(qi, params, render_params["offset"])
        )(q)
        hues = render_params["color_index"].astype(jnp.float32) / self.num_colors
        return _render.render_particles(
            positions.astype(jnp.float32),
            self.particle_radii(params).astype(jnp.float32),
            hues,
            self.full_canvas_bounds(),
        )

    def in_canvas(self, states: Array, params: Params) -> Array:
        d = states.shape[-1] // 2
        pos = jax.vmap(lambda qi: self.canvas_positions(qi, params))(states[:, :d])
        b = self.canvas_bound()
        return jnp.all((pos >= -b) & (pos <= b))


@dataclasses.dataclass(frozen=True)
class MassSpring(PhysicalSystem):
    """Ideal mass-spring (harmonic oscillator), moving vertically.

    ``H = k q^2 / 2 + p^2 / (2 m)``; state x = (q, p). Initial ``(q, p / sqrt(k m))`` is drawn
    on an annulus with radius in ``radius_range`` (so the amplitude is that radius).
    Closed form (frictionless)::

        w = sqrt(k / m),  A = sqrt(q0^2 + p0^2 / (k m)),  phi = atan2(-p0, q0 m w)
        q(t) = A cos(w t + phi),   p(t) = -A m w sin(w t + phi)

    The particle is drawn at ``(0, q)`` (``(u, 0) + offset`` added when ``randomize_x``);
    canvas ``[-b, b]^2`` with ``b = r_max + sqrt(m_max / pi)``.
    """

    k_range: Range = (2.0, 2.0)
    m_range: Range = (0.5, 0.5)
    radius_range: Range = (0.1, 1.0)
    randomize_x: bool = False

    @property
    def state_dim(self) -> int:
        return 2

    @property
    def num_particles(self) -> int:
        return 1

    def sample_params(self, u: Array) -> Params:
        return {"k": _uniform(u[0], self.k_range), "m": _uniform(u[1], self.m_range)}

    def sample_state(self, u: Array, params: Params) -> Array:
        z = uniform_annulus(u, self.radius_range, self.uniform_area)
        return jnp.stack([z[0], z[1] * jnp.sqrt(params["k"] * params["m"])])

    def hamiltonian(self, x: Array, params: Params) -> Array:
        q, p = x[0], x[1]
        return params["k"] * q**2 / 2 + p**2 / (2 * params["m"])

    def closed_form(self, x0: Array, params: Params, ts: Array) -> Array | None:
        if self.friction:
            return None
        k, m = params["k"], params["m"]
        w = jnp.sqrt(k / m)
        amp = jnp.sqrt(x0[0] ** 2 + x0[1] ** 2 / (k * m))
        phi = jnp.arctan2(-x0[1], x0[0] * m * w)
        q = amp * jnp.cos(w * ts + phi)
        p = -amp * m * w * jnp.sin(w * ts + phi)
        return jnp.stack([q, p], axis=-1)

    def canvas_bound(self) -> float:
        return self.radius_range[1] + math.sqrt(self.m_range[1] / math.pi)

    def canvas_positions(self, q: Array, params: Params) -> Array:
        return jnp.stack([jnp.zeros_like(q[0]), q[0]])[None]

    def sample_render_params(self, u: Array) -> Params:
        out = super().sample_render_params(u)
        if self.randomize_canvas_location:
            # The suite draws one scalar canvas shift for this 1-d system and adds it to both
            # coordinates.
            out["offset"] = jnp.full((2,), out["offset"][0])
        if self.randomize_x:  # horizontal position U[0, 1) (u[4])
            out["offset"] = out["offset"] + jnp.stack([u[4], jnp.zeros_like(u[4])])
        return out

    def particle_positions(self, q: Array, params: Params, offset: Array) -> Array:
        return self.canvas_positions(q, params) + offset

    def particle_radii(self, params: Params) -> Array:
        return jnp.sqrt(params["m"] / jnp.pi)[None]


@dataclasses.dataclass(frozen=True)
class Pendulum(PhysicalSystem):
    """Ideal pendulum.

    ``H = m g l (1 - cos q) + p^2 / (2 m l^2)``; (q, p) drawn on an annulus with radius in
    ``radius_range``. Small amplitude: ``q'' = -(g / l) q``. The bob is drawn at
    ``(l sin q, -l cos q)``; canvas half-width ``l_max + sqrt(m_max / pi)``.
    """

    m_range: Range = (0.5, 0.5)
    g_range: Range = (3.0, 3.0)
    l_range: Range = (1.0, 1.0)
    radius_range: Range = (1.3, 2.3)

    @property
    def state_dim(self) -> int:
        return 2

    @property
    def num_particles(self) -> int:
        return 1

    def sample_params(self, u: Array) -> Params:
        return {
            "m": _uniform(u[0], self.m_range),
            "l": _uniform(u[1], self.l_range),
            "g": _uniform(u[2], self.g_range),
        }

    def sample_state(self, u: Array, params: Params) -> Array:
        return uniform_annulus(u, self.radius_range, self.uniform_area)

    def hamiltonian(self, x: Array, params: Params) -> Array:
        m, l, g = params["m"], params["l"], params["g"]
        q, p = x[0], x[1]
        return m * g * l * (1 - jnp.cos(q)) + p**2 / (2 * m * l**2)

    def canvas_bound(self) -> float:
        return self.l_range[1] + math.sqrt(self.m_range[1] / math.pi)

    def canvas_positions(self, q: Array, params: Params) -> Array:
        l = params["l"]
        return jnp.stack([l * jnp.sin(q[0]), -l * jnp.cos(q[0])])[None]

    def particle_positions(self, q: Array, params: Params, offset: Array) -> Array:
        return self.canvas_positions(q, params) + offset

    def particle_radii(self, params: Params) -> Array:
        return jnp.sqrt(params["m"] / jnp.pi)[None]


@dataclasses.dataclass(frozen=True)
class DoublePendulum(PhysicalSystem):
    """Ideal double pendulum (angles q1, q2 from the downward vertical).

    ::

        H = [m2 l2^2 p1^2 + (m1 + m2) l1^2 p2^2 - 2 m2 l1 l2 p1 p2 cos(q1 - q2)]
            / [2 m2 l1^2 l2^2 (m1 + m2 sin^2(q1 - q2))]
            - (m1 + m2) g l1 cos q1 - m2 g l2 cos q2

    Each (q_i, p_i) is drawn on an annulus with radius in ``radius_range``. Bob 1 at
    ``l1 (sin q1, -cos q1)``, bob 2 at bob 1 + ``l2 (sin q2, -cos q2)``; canvas half-width
    ``2 l_max + sqrt(m_max / pi)``; two distinct colours.
    """

    m_range: Range = (0.5, 0.5)
    g_range: Range = (3.0, 3.0)
    l_range: Range = (1.0, 1.0)
    radius_range: Range = (1.3, 2.3)
    num_colors: int = 2

    @property
    def state_dim(self) -> int:
        return 4

    @property
    def num_particles(self) -> int:
        return 2

    def sample_params(self, u: Array) -> Params:
        return {
            "m_1": _uniform(u[0], self.m_range),
            "m_2": _uniform(u[1], self.m_range),
            "l_1": _uniform(u[2], self.l_range),
            "l_2": _uniform(u[3], self.l_range),
            "g": _uniform(u[4], self.g_range),
        }

    def sample_state(self, u: Array, params: Params) -> Array:
        s1 = uniform_annulus(u[0:2], self.radius_range, self.uniform_area)
        s2 = uniform_annulus(u[2:4], self.radius_range, self.uniform_area)
        return jnp.stack([s1[0], s2[0], s1[1], s2[1]])

    def hamiltonian(self, x: Array, params: Params) -> Array:
        m1, m2, l1, l2, g = (params[k] for k in ("m_1", "m_2", "l_1", "l_2", "g"))
        q1, q2, p1, p2 = x[0], x[1], x[2], x[3]
        num = (
            m2 * l2**2 * p1**2
            + (m1 + m2) * l1**2 * p2**2
            - 2 * m2 * l1 * l2 * p1 * p2 * jnp.cos(q1 - q2)
        )
        den = 2 * m2 * l1**2 * l2**2 * (m1 + m2 * jnp.sin(q1 - q2) ** 2)
        return num / den - (m1 + m2) * g * l1 * jnp.cos(q1) - m2 * g * l2 * jnp.cos(q2)

    def canvas_bound(self) -> float:
        return 2 * self.l_range[1] + math.sqrt(self.m_range[1] / math.pi)

    def canvas_positions(self, q: Array, params: Params) -> Array:
        # The suite checks each link's own end point (relative to its pivot).
        l1, l2 = params["l_1"], params["l_2"]
        return jnp.stack(
            [
                jnp.stack([l1 * jnp.sin(q[0]), -l1 * jnp.cos(q[0])]),
                jnp.stack([l2 * jnp.sin(q[1]), -l2 * jnp.cos(q[1])]),
            ]
        )

    def particle_positions(self, q: Array, params: Params, offset: Array) -> Array:
        links = self.canvas_positions(q, params)
        bob1 = links[0] + offset
        bob2 = bob1 + links[1]
        return jnp.stack([bob1, bob2])

    def particle_radii(self, params: Params) -> Array:
        return jnp.sqrt(jnp.stack([params["m_1"], params["m_2"]]) / jnp.pi)


@dataclasses.dataclass(frozen=True)
class TwoBody(PhysicalSystem):
    """Two bodies under Newtonian gravity in the plane.

    ``H = -g m1 m2 / |q1 - q2| + |p1|^2 / (2 m1) + |p2|^2 / (2 m2)``;
    state x = (q1x, q1y, q2x, q2y, p1x, p1y, p2x, p2y).

    Initial state: ``pos ~ U[0.5, 1.5]^2``, ``r = |pos|``; body 1 at ``+pos`` with momentum
    ``(pos_y, -pos_x) / (2 r^1.5)``, body 2 at ``-pos`` with the opposite momentum: a circular
    orbit about the origin when ``m = g = 1`` (separation ``2r``, speed ``1 / (2 sqrt r)``).
    Conserved: H, total momentum ``p1 + p2`` and angular momentum ``sum q_i x p_i``.
    Canvas ``[-2.75, 2.75]^2`` (``[-5, 5]^2`` for ``two_body_colors``); two distinct colours.
    """

    m_range: Range = (1.0, 1.0)
    g_range: Range = (1.0, 1.0)
    radius_range: Range = (0.5, 1.5)
    bound: float = 2.75
    num_colors: int = 2

    @property
    def state_dim(self) -> int:
        return 8

    @property
    def num_particles(self) -> int:
        return 2

    def sample_params(self, u: Array) -> Params:
        return {"m": _uniform(u[0:2], self.m_range), "g": _uniform(u[2], self.g_range)}

    def sample_state(self, u: Array, params: Params) -> Array:
        pos = _uniform(u[0:2], self.radius_range)
        r = jnp.linalg.norm(pos)
        vel = jnp.stack([pos[1], -pos[0]]) / (2 * r**1.5)
        return jnp.concatenate([pos, -pos, vel, -vel])

    def hamiltonian(self, x: Array, params: Params) -> Array:
        m, g = params["m"], params["g"]
        q1, q2, p1, p2 = x[0:2], x[2:4], x[4:6], x[6:8]
        dist = jnp.sqrt(jnp.sum((q1 - q2) ** 2))
        kinetic = jnp.sum(p1**2) / (2 * m[0]) + jnp.sum(p2**2) / (2 * m[1])
        return -g * m[0] * m[1] / dist + kinetic

    def canvas_bound(self) -> float:
        return self.bound

    def canvas_positions(self, q: Array, params: Params) -> Array:
        return q.reshape(2, 2)

    def particle_positions(self, q: Array, params: Params, offset: Array) -> Array:
        return q.reshape(2, 2) + offset

    def particle_radii(self, params: Params) -> Array:
        return jnp.sqrt(params["m"] / jnp.pi)


# ----------------------------------------------------------------------------------------------
# Games
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ZeroSumGame(System):
    """Two-population replicator dynamics of a zero-sum matrix game.

    Row payoff ``A`` (n x n), column payoff ``B = -A``; x1, x2 on the simplex::

        dx1_i/dt = x1_i [(A x2)_i   - x1 . A x2]
        dx2_j/dt = x2_j [(B^T x1)_j - x2 . B^T x1]

    With an interior equilibrium (x1*, x2*) (uniform for both games here), the sum of
    log-probabilities weighted by it, ``V = x1* . log x1 + x2* . log x2``, is a constant of
    motion (its time derivative is ``x1*^T A x2 - x1^T A x2* = v - v = 0``, v the game's
    value). Image: the joint policy ``x1 x2^T`` (n x n), each cell a ``ceil(32/n)`` block,
    cropped to 32 x 32, grey in 3 channels. dt = 0.1.
    """

    payoff: tuple[tuple[float, ...], ...] = ()
    equilibrium: tuple[float, ...] = ()

    @property
    def dt(self) -> float:
        return GAME_DT

    @property
    def n(self) -> int:
        return len(self.payoff)

    @property
    def state_dim(self) -> int:
        return 2 * self.n

    @property
    def tolerance(self) -> float:
        return GAME_TOL

    def sample_params(self, u: Array) -> Params:
        return {}

    def sample_state(self, u: Array, params: Params) -> Array:
        m = self.n - 1
        return jnp.concatenate(
            [sample_simplex(u[:m], self.n), sample_simplex(u[m : 2 * m], self.n)]
        )

    def vector_field(self, t: Array, x: Array, params: Params) -> Array:
        a = jnp.asarray(self.payoff, x.dtype)
        x1, x2 = x[: self.n], x[self.n :]
        f1 = a @ x2  # row population's fitness
        f2 = -a.T @ x1  # column population's fitness, B^T x1 with B = -A
        return jnp.concatenate([x1 * (f1 - x1 @ f1), x2 * (f2 - x2 @ f2)])

    def conserved_quantity(self, x: Array, params: Params) -> Array:
        eq = jnp.asarray(self.equilibrium, x.dtype)
        x1, x2 = x[: self.n], x[self.n :]
        return eq @ jnp.log(x1) + eq @ jnp.log(x2)

    def render(self, states: Array, params: Params, render_params: Params) -> Array:
        x1, x2 = states[:, : self.n], states[:, self.n :]
        return _render.render_joint_policy(x1.astype(jnp.float32), x2.astype(jnp.float32))


# ----------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------

RPS_PAYOFF = ((0.0, -1.0, 1.0), (1.0, 0.0, -1.0), (-1.0, 1.0, 0.0))
MP_PAYOFF = ((1.0, -1.0), (-1.0, 1.0))

_REGISTRY: dict[str, System] = {}


def _register(system: System) -> None:
    _REGISTRY[system.name] = system


# The six data sets of the paper's Table 1.
_register(MassSpring("mass_spring"))
_register(Pendulum("pendulum"))
_register(DoublePendulum("double_pendulum"))
_register(TwoBody("two_body"))
_register(ZeroSumGame("rock_paper_scissors", payoff=RPS_PAYOFF, equilibrium=(1 / 3,) * 3))
_register(ZeroSumGame("matching_pennies", payoff=MP_PAYOFF, equilibrium=(0.5, 0.5)))

# The suite's variants: random parameters, 6 colours, random canvas location, uniform-area
# annulus sampling; `_friction` adds dp/dt -= 0.05 dH/dp.
_COLORS = dict(num_colors=6, randomize_canvas_location=True, uniform_area=True)
_register(MassSpring("mass_spring_colors", m_range=(0.2, 1.0), randomize_x=True, **_COLORS))
_register(
    MassSpring(
        "mass_spring_colors_friction",
        m_range=(0.2, 1.0),
        randomize_x=True,
        friction=0.05,
        **_COLORS,
    )
)
_PCOL = dict(m_range=(0.5, 1.5), g_range=(3.0, 4.0), l_range=(0.5, 1.0), **_COLORS)
_register(Pendulum("pendulum_colors", **_PCOL))
_register(Pendulum("pendulum_colors_friction", friction=0.05, **_PCOL))
_DCOL = dict(
    m_range=(0.4, 0.6), g_range=(2.5, 4.0), l_range=(0.75, 1.0), radius_range=(1.0, 2.5), **_COLORS
)
_register(DoublePendulum("double_pendulum_colors", **_DCOL))
_register(DoublePendulum("double_pendulum_colors_friction", friction=0.05, **_DCOL))
_register(
    TwoBody("two_body_colors", m_range=(0.5, 1.5), g_range=(0.5, 1.5), bound=5.0, num_colors=6)
)
# Not in the published suite (its code supports them): the base systems with friction 0.05.
_register(MassSpring("mass_spring_friction", friction=0.05))
_register(Pendulum("pendulum_friction", friction=0.05))
_register(DoublePendulum("double_pendulum_friction", friction=0.05))

SYSTEMS: tuple[str, ...] = (
    "mass_spring",
    "pendulum",
    "double_pendulum",
    "two_body",
    "rock_paper_scissors",
    "matching_pennies",
)
VARIANTS: tuple[str, ...] = tuple(k for k in _REGISTRY if k not in SYSTEMS)
ALL_SYSTEMS: tuple[str, ...] = SYSTEMS + VARIANTS


def get_system(name: str | System) -> System:
    """The System named ``name`` (one of ``ALL_SYSTEMS``); a System passes through."""
    if isinstance(name, System):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown Hamiltonian-suite system {name!r}; choose one of {', '.join(ALL_SYSTEMS)}"
        ) from None
