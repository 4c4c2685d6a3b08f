"""Generation: determinism, per-trajectory parameters, canvas resampling, sampling ranges."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from locornn.data.hamiltonian import SYSTEMS, get_system
from locornn.data.hamiltonian.generate import generate
from locornn.data.hamiltonian.systems import MassSpring, choose_distinct, sample_simplex

STEPS = 255


def assert_same(a, b):
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.dx_dt, b.dx_dt)
    assert a.params.keys() == b.params.keys()
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_same_seed_gives_the_same_bytes():
    """Two generations with seed 0 are byte-identical (images, states, derivatives, params)."""
    a = generate("pendulum", num=4, num_steps=STEPS, seed=0)
    b = generate("pendulum", num=4, num_steps=STEPS, seed=0)
    assert_same(a, b)
    assert a.images.tobytes() == b.images.tobytes()


def test_different_seeds_and_splits_give_different_data():
    """Seeds 0 and 1, and the train and test streams of one seed, share no trajectory."""
    a = generate("pendulum", num=4, num_steps=STEPS, seed=0)
    b = generate("pendulum", num=4, num_steps=STEPS, seed=1)
    c = generate("pendulum", num=4, num_steps=STEPS, seed=0, split="test")
    for other in (b, c):
        assert not np.any(np.all(a.states[:, 0] == other.states[:, 0], axis=-1))
        assert not np.array_equal(a.images, other.images)


def test_trajectory_i_does_not_depend_on_chunking_or_on_how_many_are_generated():
    """Trajectory i comes from its own key: generating 6 in chunks of 4 or 3 in one chunk of
    64 gives the same first three trajectories."""
    many = generate("mass_spring", num=6, num_steps=STEPS, seed=3, chunk_size=4)
    few = generate("mass_spring", num=3, num_steps=STEPS, seed=3)
    np.testing.assert_array_equal(many.images[:3], few.images)
    np.testing.assert_array_equal(many.states[:3], few.states)


def test_parameters_are_drawn_per_trajectory_stored_and_rendered():
    """mass_spring_colors: m ~ U[0.2, 1] per trajectory (k = 2 fixed), a colour index of 6,
    and the drawn disk's area grows with the stored mass."""
    d = generate("mass_spring_colors", num=8, num_steps=STEPS, seed=0)
    m = d.params["m"]
    assert m.shape == (8,) and np.all((m >= 0.2) & (m <= 1.0)) and len(np.unique(m)) == 8
    np.testing.assert_array_equal(d.params["k"], 2.0)
    assert np.all((d.params["color_index"] >= 0) & (d.params["color_index"] < 6))
    # the disk's area (pixels far from the background colour) is proportional to the mass
    background = np.array([81, 88, 93])
    area = np.mean(np.any(np.abs(d.images.astype(int) - background) > 60, axis=-1), axis=(1, 2, 3))
    assert np.corrcoef(m, area)[0, 1] > 0.98


@dataclasses.dataclass(frozen=True)
class NarrowSpring(MassSpring):
    """A spring whose canvas only admits amplitudes up to 0.5 (most draws leave it)."""

    def canvas_bound(self) -> float:
        return 0.5


def test_trajectories_leaving_the_canvas_are_redrawn():
    """As in the suite, a trajectory that leaves the canvas is replaced by a new draw; the ones
    that stayed inside are kept unchanged."""
    narrow = NarrowSpring("narrow_spring")
    wide = get_system("mass_spring")
    got = generate(narrow, num=8, num_steps=STEPS, seed=5)
    first_draw = generate(wide, num=8, num_steps=STEPS, seed=5)
    assert np.all(np.abs(got.states[..., 0]) <= 0.5)
    inside = np.all(np.abs(first_draw.states[..., 0]) <= 0.5, axis=1)
    assert 0 < inside.sum() < 8  # this seed needs redraws
    np.testing.assert_array_equal(got.states[inside], first_draw.states[inside])


def test_sampling_helpers_draw_the_right_supports():
    """Simplex points are non-negative and sum to 1; distinct colour picks never repeat."""
    u = jax.random.uniform(jax.random.PRNGKey(0), (500, 2))
    points = np.asarray(jax.jit(jax.vmap(lambda x: sample_simplex(x, 3)))(u))
    assert np.all(points >= 0)
    np.testing.assert_allclose(points.sum(-1), 1.0, rtol=1e-6)
    picks = np.asarray(jax.jit(jax.vmap(lambda x: choose_distinct(x, 6, 2)))(u))
    assert np.all(picks[:, 0] != picks[:, 1]) and picks.min() == 0 and picks.max() == 5
    counts = np.bincount(picks[:, 0], minlength=6)
    assert counts.min() > 50  # roughly uniform first pick (expected 83 each)


@pytest.mark.parametrize("name", SYSTEMS)
def test_every_system_is_registered_with_the_suite_time_step(name):
    """The six data sets of Table 1 exist; physics at dt 0.05, games at dt 0.1."""
    system = get_system(name)
    assert system.dt == (0.1 if name in ("rock_paper_scissors", "matching_pennies") else 0.05)


def test_unknown_system_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown Hamiltonian-suite system 'spring'"):
        get_system("spring")


def test_generation_runs_in_float64_without_changing_the_global_setting():
    """States are float64 although JAX's global default stays float32."""
    d = generate("mass_spring", num=4, num_steps=STEPS, seed=0)
    assert d.states.dtype == np.float64
    assert jnp.zeros(1).dtype == jnp.float32
