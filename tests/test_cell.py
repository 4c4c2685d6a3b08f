"""The ``flax.linen.RNN`` cell runs the same trajectory as ``dynamics.rollout``."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from locornn import dynamics
from locornn.models import LocoRNNCell


@pytest.mark.parametrize("padding, site_bias", [("circular", False), ("zero", True)])
def test_the_cell_in_nn_rnn_follows_dynamics_rollout(padding, site_bias):
    cell = LocoRNNCell(features=2, kernel_size=3, padding=padding, site_bias=site_bias)
    frames = jax.random.normal(jax.random.PRNGKey(1), (3, 12, 6, 5, 4))  # (B, T, H, W, Cin)
    layer = nn.RNN(cell)
    variables = layer.init(jax.random.PRNGKey(0), frames)
    p = jax.tree.map(lambda x: x + 0.3, variables["params"]["cell"])  # a non-zero bias too
    zs = layer.apply({"params": {"cell": p}}, frames)
    assert zs.shape == (3, 12, 6, 5, 2)

    dt, gamma, alpha = dynamics.constrain(p["dt_raw"], p["gamma_raw"], p["alpha_raw"])
    params = dynamics.OscillatorParams(p["position_kernel"], p["velocity_kernel"], p["bias"],
                                       dt, gamma, alpha)
    drives = jax.vmap(lambda x: dynamics.lattice_conv(x, p["input_kernel"], padding))(
        jnp.swapaxes(frames, 0, 1))  # time-major (T, B, H, W, C)
    expected = dynamics.rollout(params, drives, coupling=dynamics.LocalCoupling(padding))
    np.testing.assert_allclose(zs, jnp.swapaxes(expected, 0, 1), rtol=1e-5, atol=1e-6)
    assert float(jnp.abs(zs).max()) > 0.01  # the drive moved the oscillators


def test_the_cell_starts_at_rest_and_is_differentiable():
    cell = LocoRNNCell(features=1)
    carry = cell.initialize_carry(jax.random.PRNGKey(0), (2, 8, 8, 3))
    assert carry.z.shape == carry.v.shape == (2, 8, 8, 1) and not carry.z.any()
    layer = nn.RNN(cell)
    frames = jnp.ones((2, 5, 8, 8, 3))
    variables = layer.init(jax.random.PRNGKey(0), frames)
    grads = jax.grad(lambda v: jnp.sum(layer.apply(v, frames) ** 2))(variables)
    assert float(jnp.abs(grads["params"]["cell"]["input_kernel"]).sum()) > 0
    assert cell.num_feature_axes == 3
