"""A LocoRNN cell for ``flax.linen.RNN``: one oscillator step per call, on a lattice.

:class:`LocoRNNCell` is a :class:`flax.linen.RNNCellBase`, so it drops into Flax's own
recurrence tools (``nn.RNN``, ``nn.Bidirectional``, ``nn.scan``)::

    import flax.linen as nn

    layer = nn.RNN(LocoRNNCell(features=1, kernel_size=3))
    frames = jnp.ones((8, 20, 16, 16, 2))             # (batch, time, H, W, input channels)
    variables = layer.init(jax.random.PRNGKey(0), frames)
    zs = layer.apply(variables, frames)               # (8, 20, 16, 16, 1): z after each step

Each call is :func:`locornn.dynamics.step` with the drive ``K_x * x_t`` (a ``k x k`` lattice
convolution of the input frame, same padding as the couplings). The carry is the oscillator
state ``(z, v)``; the output is the new position ``z``. This is the step the library's own
models run (:class:`locornn.models.OscillatorRNN` hoists the drives out of the scan and uses
:func:`locornn.dynamics.rollout`, which is faster to differentiate); the cell is for users who
want LocoRNN as a layer in their own Flax model.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from locornn import dynamics

# The reference's initial values of the learnable constants (raw, before the constraint):
# dt = sigmoid(-1.95) ~ 0.125, gamma = relu(1.0), alpha = relu(0.5).
DT_RAW, GAMMA_RAW, ALPHA_RAW = -1.95, 1.0, 0.5


class LocoRNNCell(nn.RNNCellBase):
    """One LocoRNN step on an ``(H, W, features)`` lattice of damped, driven oscillators.

    Attributes:
      features: oscillator channels ``C`` per lattice site.
      kernel_size: ``k`` of the ``k x k`` couplings ``K_z``, ``K_v`` and drive ``K_x`` (odd).
      padding: ``"circular"`` (a torus, the paper's) or ``"zero"``.
      kernel_init: initialiser of the three kernels (``(k, k, C_in, C_out)``).
      site_bias: one bias per lattice site ``(H, W, C)`` (the reference's) instead of per
        channel ``(C,)``.
    """

    features: int
    kernel_size: int = 3
    padding: dynamics.Padding = "circular"
    kernel_init: Callable = nn.initializers.lecun_normal()
    site_bias: bool = False

    @nn.compact
    def __call__(self, carry: dynamics.State, inputs: jax.Array
                 ) -> tuple[dynamics.State, jax.Array]:
        """``carry`` ``(z, v)``, each ``(B, H, W, C)``; ``inputs`` one frame ``(B, H, W, C_in)``.
        Returns the next state and its position ``z``."""
        params = self.oscillator_params(inputs.shape[-1], carry.z.shape[-3:])
        drive = self.drive(inputs)
        state = dynamics.step(params, dynamics.State(*carry), drive,
                              dynamics.LocalCoupling(self.padding))
        return state, state.z

    def oscillator_params(self, input_channels: int, lattice_shape) -> dynamics.OscillatorParams:
        """The :class:`~locornn.dynamics.OscillatorParams` of this cell's variables."""
        k, c = self.kernel_size, self.features
        kz = self.param("position_kernel", self.kernel_init, (k, k, c, c))
        kv = self.param("velocity_kernel", self.kernel_init, (k, k, c, c))
        bias_shape = tuple(lattice_shape) if self.site_bias else (c,)
        bias = self.param("bias", nn.initializers.zeros, bias_shape)
        raw = [self.param(name, nn.initializers.constant(value), ())
               for name, value in (("dt_raw", DT_RAW), ("gamma_raw", GAMMA_RAW),
                                   ("alpha_raw", ALPHA_RAW))]
        dt, gamma, alpha = dynamics.constrain(*raw)
        return dynamics.OscillatorParams(kz, kv, bias, dt, gamma, alpha)

    def drive(self, inputs: jax.Array) -> jax.Array:
        """``K_x * x``: the input frame ``(B, H, W, C_in)`` on the lattice ``(B, H, W, C)``."""
        k = self.kernel_size
        kx = self.param("input_kernel", self.kernel_init, (k, k, inputs.shape[-1], self.features))
        return dynamics.lattice_conv(inputs, kx, self.padding)

    @nn.nowrap
    def initialize_carry(self, rng: jax.Array, input_shape: tuple[int, ...]) -> dynamics.State:
        """``z = v = 0`` on the lattice of one input frame ``(*batch, H, W, C_in)``."""
        del rng  # the oscillators start at rest
        zeros = jnp.zeros((*input_shape[:-1], self.features))
        return dynamics.State(zeros, zeros)

    @property
    def num_feature_axes(self) -> int:
        return 3  # (H, W, C): a frame is a lattice, not a vector
