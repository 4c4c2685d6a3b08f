"""Rendering of Hamiltonian-suite frames: soft disks, colours, canvas geometry, game images."""

from __future__ import annotations

import colorsys
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from locornn.data.hamiltonian.generate import generate
from locornn.data.hamiltonian.render import (
    BACKGROUND,
    hsv_to_rgb,
    render_joint_policy,
    to_uint8,
)
from locornn.data.hamiltonian.render import render_particles as _render_particles

# jitted once per input shape (eager execution would compile every primitive separately)
render_particles = jax.jit(_render_particles, static_argnames=("bounds",))

BOUNDS = (-2.0, 2.0)  # canvas [-2, 2]^2, size 4
RED = np.array([1.0, 0.0, 0.0])
CYAN = np.array([0.0, 1.0, 1.0])


def pixel_to_canvas(row: int, col: int, bounds=BOUNDS) -> tuple[float, float]:
    """Canvas (x, y) of a pixel centre: x = lo + col/31 * size (columns), y likewise (rows)."""
    lo, hi = bounds
    return lo + col / 31 * (hi - lo), lo + row / 31 * (hi - lo)


@functools.cache
def render_one(x: float, y: float, mass: float = 0.5, hue: float = 0.0) -> np.ndarray:
    """One frame with a single particle of radius sqrt(m/pi) at canvas (x, y): (32, 32, 3)."""
    frame = render_particles(
        jnp.asarray([[[x, y]]], jnp.float32),
        jnp.asarray([np.sqrt(mass / np.pi)], jnp.float32),
        jnp.asarray([hue], jnp.float32),
        BOUNDS,
    )
    return np.asarray(frame[0])


@pytest.mark.parametrize("row,col", [(5, 20), (0, 0), (31, 31), (16, 3)])
def test_particle_at_a_known_position_lights_the_expected_pixel(row, col):
    """A red disk centred on pixel (row, col)'s centre colours that pixel red; a pixel 12
    pixels away keeps the background."""
    frame = render_one(*pixel_to_canvas(row, col))
    np.testing.assert_allclose(frame[row, col], RED, atol=1e-3)
    far = ((row + 12) % 32, (col + 12) % 32)
    np.testing.assert_allclose(frame[far], BACKGROUND, atol=1e-4)


def test_x_runs_along_columns_and_y_along_rows_from_the_canvas_minimum():
    """Row 0 is the minimum y (the suite does not flip images), column 0 the minimum x."""
    bottom_left = render_one(-2.0, -2.0)
    top_right_in_physics = render_one(-2.0, 2.0)  # x minimal, y maximal
    assert bottom_left[0, 0, 0] > 0.99 and bottom_left[31, 0, 0] < 0.4
    assert top_right_in_physics[31, 0, 0] > 0.99 and top_right_in_physics[0, 0, 0] < 0.4


def test_disk_edge_is_the_sigmoid_with_temperature_80():
    """At distance d from the centre the mask is 1 / (1 + exp(80 (d - r))) in canvas-width
    units: 1/2 exactly on the rim, so the pixel is half red, half background."""
    size = BOUNDS[1] - BOUNDS[0]
    r = np.sqrt(0.5 / np.pi) / size  # unit radius
    x_pix, y_pix = pixel_to_canvas(16, 16)
    for d in (0.0, 0.5 * r, r, 1.2 * r):
        frame = render_one(x_pix - d * size, y_pix)
        mask = 1 / (1 + np.exp(80 * (d - r)))
        expected = mask * RED + (1 - mask) * np.asarray(BACKGROUND)
        np.testing.assert_allclose(frame[16, 16], expected, atol=1e-4)


def test_disk_area_grows_with_mass_in_proportion():
    """Radius sqrt(m/pi): the number of pixels more than half covered is ~ m (31/size)^2."""
    areas = []
    for mass in (0.2, 0.5, 1.0, 2.0):
        frame = render_one(0.0, 0.0, mass=mass)
        covered = frame[..., 0] > (1 + BACKGROUND[0]) / 2
        areas.append(covered.sum())
        assert covered.sum() == pytest.approx(mass * (31 / 4.0) ** 2, rel=0.25)
    assert areas == sorted(areas) and len(set(areas)) == 4


def test_empty_canvas_is_the_suite_background_colour():
    """Far outside the canvas a particle leaves every pixel (0.321, 0.349, 0.368)."""
    frame = render_one(50.0, 50.0)
    np.testing.assert_allclose(frame, np.broadcast_to(BACKGROUND, frame.shape), atol=1e-7)
    np.testing.assert_array_equal(to_uint8(jnp.asarray(frame))[0, 0], [81, 88, 93])


def test_hsv_colours_match_colorsys_and_the_suite_palette():
    """hue k/num_colors with S = V = 1: one colour is red, two are red and cyan."""
    hues = np.linspace(0, 1, 37, endpoint=False)
    ours = np.asarray(hsv_to_rgb(jnp.asarray(hues, jnp.float32)))
    reference = np.array([colorsys.hsv_to_rgb(h, 1.0, 1.0) for h in hues])
    np.testing.assert_allclose(ours, reference, atol=1e-6)
    np.testing.assert_allclose(hsv_to_rgb(jnp.asarray([0.0, 0.5])), [RED, CYAN], atol=1e-7)


def test_first_particle_is_drawn_on_top():
    """Two coincident disks: the first one's colour wins at the centre (up to the soft edge's
    ~0.2% leak at these pixels), whichever the colours."""
    for first, hues in ((CYAN, [0.5, 0.0]), (RED, [0.0, 0.5])):
        frame = render_particles(
            jnp.zeros((1, 2, 2)), jnp.full((2,), 0.4), jnp.asarray(hues), BOUNDS
        )
        centre = np.asarray(frame[0, 15:17, 15:17]).reshape(-1, 3)
        np.testing.assert_allclose(centre, np.broadcast_to(first, centre.shape), atol=5e-3)


def test_game_image_is_the_tiled_outer_product_of_the_two_policies():
    """RPS: cell (i, j) = x1_i x2_j fills rows 11i..11i+10, columns 11j..11j+10 (cropped to
    32); matching pennies uses 16x16 blocks; grey (equal channels)."""
    x1 = jnp.asarray([[0.2, 0.3, 0.5]])
    x2 = jnp.asarray([[0.6, 0.1, 0.3]])
    img = np.asarray(render_joint_policy(x1, x2))[0]
    assert img.shape == (32, 32, 3)
    np.testing.assert_array_equal(img[..., 0], img[..., 1])
    np.testing.assert_array_equal(img[..., 0], img[..., 2])
    outer = np.outer([0.2, 0.3, 0.5], [0.6, 0.1, 0.3])
    for i in range(32):
        for j in range(32):
            assert img[i, j, 0] == pytest.approx(outer[i // 11, j // 11], abs=1e-7)
    pennies = np.asarray(render_joint_policy(jnp.asarray([[1.0, 0.0]]), jnp.asarray([[0.0, 1.0]])))
    np.testing.assert_array_equal(pennies[0, :16, 16:, 0], 1.0)
    assert pennies[0, :, :16].sum() == 0 and pennies[0, 16:].sum() == 0


def test_generated_pendulum_frames_show_the_bob_where_the_state_puts_it():
    """In generated frames the red disk is centred on the bob (l sin q, -l cos q) of the canvas
    +-(l + sqrt(m/pi)) (centroid within half a pixel); the rest is the background's uint8."""
    d = generate("pendulum", num=4, num_steps=255, seed=0)
    assert d.images.dtype == np.uint8
    lo, hi = -(1 + np.sqrt(0.5 / np.pi)), 1 + np.sqrt(0.5 / np.pi)
    for i in range(4):
        for t in (0, 100, 255):
            q = d.states[i, t, 0]
            x, y = np.sin(q), -np.cos(q)
            col, row = (np.array([x, y]) - lo) / (hi - lo) * 31
            img = d.images[i, t].astype(float)
            weight = np.clip(img[..., 0] - img[..., 1] - (81 - 88), 0, None)  # 0 on background
            rows, cols = np.mgrid[:32, :32]
            centroid = (np.sum(weight * rows) / weight.sum(), np.sum(weight * cols) / weight.sum())
            assert np.hypot(centroid[0] - row, centroid[1] - col) < 0.5
    corner_colour = np.array([81, 88, 93])  # floor(255 * background)
    background = np.all(d.images == corner_colour, axis=-1).mean()
    assert background > 0.8


def test_render_output_is_float_in_unit_interval_and_uint8_is_truncation():
    """Frames are floats in [0, 1]; stored bytes are floor(255 x) as in the suite."""
    positions = np.random.default_rng(0).uniform(-2.5, 2.5, (8, 2, 2)).astype(np.float32)
    frames = np.asarray(
        render_particles(positions, jnp.asarray([0.4, 0.6]), jnp.asarray([0.0, 0.5]), BOUNDS)
    )
    assert frames.min() >= 0.0 and frames.max() <= 1.0
    np.testing.assert_array_equal(
        np.asarray(to_uint8(jnp.asarray(frames))), np.floor(frames * 255).astype(np.uint8)
    )
