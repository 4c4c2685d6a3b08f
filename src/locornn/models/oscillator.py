"""Flax sequence models built on :mod:`locornn.dynamics`: LocoRNN (local) and coRNN (dense).

Both are ``encoder f -> drive -> oscillator rollout -> decoder g``:

* every frame is encoded and turned into a drive ``d_t = K_x * f(x_t)`` *before* the recurrence
  (one batched call over all ``B*T`` frames), so the ``lax.scan`` carries only the oscillator
  step;
* LocoRNN: ``f(x)`` lives on the lattice ``(L, L, encoded_channels)``, ``K_x`` is a ``k x k``
  convolution with the same padding as the couplings, and ``K_z, K_v`` are lattice convolutions;
* coRNN: ``f(x)`` is a vector, ``K_x`` a dense layer, ``K_z, K_v`` dense ``N x N`` matrices.

Index convention: ``z[:, t]`` is the position after reading frame ``t``, and
``prediction[:, t] = g(z[:, t])`` is the forecast of frame ``t + 1`` (the last one has no target).
"""

from __future__ import annotations

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
from jax import lax

from locornn import dynamics, metrics
from locornn.models.codecs import (
    ConvDecoder,
    ConvEncoder,
    GaussianEncoder,
    MLPDecoder,
    MLPEncoder,
    RetinotopicDecoder,
    RetinotopicEncoder,
    time_distributed,
)


def _logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


def _detached(module: nn.Module) -> tuple[nn.Module, dict]:
    """A bound submodule as ``(unbound module, its variables)``, to ``apply`` inside a scan."""
    return module.clone(parent=None), {"params": module.variables["params"]}


KERNEL_INITS = ("lecun", "smoothing", "constant", "wave")
# A wave-equation lattice is stable (symplectic Euler, 5-point Laplacian) up to 1/sqrt(2) sites
# a step: the Courant limit of the 2-D leapfrog scheme.
MAX_WAVE_SPEED = 2 ** -0.5


def wave_kernel(shape: tuple[int, ...], speed: float, dt: float) -> jax.Array:
    """``K_z`` of a lattice that carries waves at ``speed`` sites per step: a discrete Laplacian.

    Linearised (tanh ~ identity), with ``gamma = alpha = 0`` the step is ``z'' = K_z * z``. The
    kernel is a plus of radius ``r = (k - 1) / 2``: weight ``kappa`` on the taps at distances
    ``1 .. r`` along each axis, ``-4 r kappa`` at the centre (no channel mixing). Expanded to
    second order, ``K_z * z = kappa S_r laplacian(z)`` with ``S_r = sum_{d <= r} d^2``: the wave
    equation ``z_tt = c^2 laplacian(z)`` with ``c = sqrt(kappa S_r)`` sites per unit time, i.e.
    ``c dt`` sites per step. So ``kappa = (speed / dt)^2 / S_r``: every kernel size carries long
    waves at ``speed`` (3x3 is the 5-point Laplacian; larger kernels spread the same coupling
    over more neighbours, which changes the short waves' dispersion, not the speed).

    Args:
      shape: ``(k, k, C, C)``, ``k`` odd and >= 3.
      speed: sites per step, in ``(0, MAX_WAVE_SPEED]``.
      dt: the step's time step.
    """
    k, _, c_in, c_out = shape
    if k < 3 or c_in != c_out:
        raise ValueError(f"a wave kernel needs k >= 3 and as many channels in as out, got {shape}")
    r = k // 2
    stencil = jnp.zeros((k, k)).at[r, r].set(-4.0 * r)
    for d in range(1, r + 1):
        for di, dj in ((-d, 0), (d, 0), (0, -d), (0, d)):
            stencil = stencil.at[r + di, r + dj].set(1.0)
    kappa = (speed / dt) ** 2 / sum(d * d for d in range(1, r + 1))
    return kappa * stencil[:, :, None, None] * jnp.eye(c_in)[None, None]


VELOCITY_KERNEL_SUMS = ("free", "zero")


def coupling_initializer(kind: str, sites: int | None = None):
    """Initialiser of a coupling kernel (``K_z``, ``K_v`` or ``K_x``).

    * ``"lecun"``: LeCun normal (variance 1/fan-in), zero mean: couplings of either sign.
    * ``"smoothing"``: the reference's Hamiltonian-suite init (DESIGN.md section 2a),
      ``1/n + N(0, 0.1^2)`` truncated at two standard deviations, where ``n`` is the number of
      taps feeding one unit (``k*k`` for a ``(k, k, 1, 1)`` lattice kernel, ``k*k*Cin`` in
      general, ``N`` for a dense ``(N, N)`` matrix): on average a positive smoothing average of
      the neighbours.
    * ``"constant"``: every tap ``1 / sites``, no noise: the reference's rotating-MNIST init
      (``1/1296`` on its 36x36 lattice; ``sites`` = lattice sites, or units of a dense state).
    * ``"wave"``: for the couplings, :func:`wave_kernel` (``K_z``) and zeros (``K_v``), set by
      :class:`OscillatorCore` itself; this function then gives the drive ``K_x`` its LeCun init.
    """
    if kind == "constant":
        if not sites:
            raise ValueError("coupling_init 'constant' needs the number of lattice sites")
        return nn.initializers.constant(1.0 / sites)
    if kind in ("lecun", "wave"):
        return nn.initializers.lecun_normal()
    if kind == "smoothing":
        noise = nn.initializers.truncated_normal(0.1)

        def init(key, shape, dtype=jnp.float32):
            taps = math.prod(shape[:-1])
            return noise(key, shape, dtype) + jnp.asarray(1.0 / taps, dtype)

        return init
    raise ValueError(f"model.coupling_init must be one of {KERNEL_INITS}, got {kind!r}")


class OscillatorCore(nn.Module):
    """The learnable part of the oscillator step; ``__call__`` returns its parameter pytree.

    Kernels start as :func:`coupling_initializer` says (``kernel_init``), the bias at zero (one
    value per channel, or per lattice site with ``bias_shape = (H, W, C)``), and the constants at
    ``dt``, ``gamma``, ``alpha``; with ``learn_constants`` they are stored raw
    (``dt_raw = logit(dt)``, so dt = 0.125 gives -1.95 as in the reference) and mapped back by
    :func:`locornn.dynamics.constrain`.

    Two optional constraints against a network that damps its own oscillation out (measured on
    the Hamiltonian spring: the learned alpha grew 0.5 -> 0.67 and ``K_v`` summed to -1.23, i.e.
    extra damping through the tanh):

    * ``alpha_max > 0``: ``alpha = min(relu(alpha_raw), alpha_max)`` (no gradient above the cap);
    * ``velocity_kernel_sum = "zero"``: ``K_v`` minus its mean over the taps feeding each unit,
      so that a spatially uniform velocity feels no net coupling: ``K_v`` can only move
      velocity between neighbours, never damp (or pump) it on the whole.
    """

    kernel_shape: tuple[int, ...]
    bias_shape: tuple[int, ...]
    tie_kernels: bool = False
    dt: float = 0.125
    gamma: float = 1.0
    alpha: float = 0.5
    learn_constants: bool = True
    kernel_init: str = "lecun"
    alpha_max: float = 0.0
    velocity_kernel_sum: str = "free"
    sites: int | None = None  # lattice sites (or dense units), for kernel_init = "constant"
    wave_speed: float = 0.5  # kernel_init = "wave": sites per step
    freeze_coupling: bool = False  # K_z, K_v keep their initial values (no gradient)

    @nn.compact
    def __call__(self) -> dynamics.OscillatorParams:
        init = coupling_initializer(self.kernel_init, self.sites)
        velocity_init = init
        if self.kernel_init == "wave":  # a wave equation to start from (wave_kernel)
            def init(key, shape, dtype=jnp.float32):
                return wave_kernel(shape, self.wave_speed, self.dt).astype(dtype)
            velocity_init = nn.initializers.zeros
        position = self.param("position_kernel", init, self.kernel_shape)
        velocity = None if self.tie_kernels else self.param("velocity_kernel", velocity_init,
                                                            self.kernel_shape)
        if self.velocity_kernel_sum not in VELOCITY_KERNEL_SUMS:
            raise ValueError(f"model.velocity_kernel_sum must be one of {VELOCITY_KERNEL_SUMS}, "
                             f"got {self.velocity_kernel_sum!r}")
        if self.velocity_kernel_sum == "zero":
            if velocity is None:
                raise ValueError("model.velocity_kernel_sum = 'zero' needs a separate velocity "
                                 "kernel (model.tie_kernels = False)")
            taps = tuple(range(len(self.kernel_shape) - 1))  # all axes but the output unit
            velocity = velocity - jnp.mean(velocity, axis=taps, keepdims=True)
        if self.freeze_coupling:  # Adam's update of a zero gradient is zero: they stay put
            position = jax.lax.stop_gradient(position)
            velocity = None if velocity is None else jax.lax.stop_gradient(velocity)
        bias = self.param("bias", nn.initializers.zeros, self.bias_shape)
        if self.learn_constants:
            def scalar(name, value):
                return self.param(name, nn.initializers.constant(value), ())
            dt, gamma, alpha = dynamics.constrain(scalar("dt_raw", _logit(self.dt)),
                                                  scalar("gamma_raw", self.gamma),
                                                  scalar("alpha_raw", self.alpha))
        else:
            dt, gamma, alpha = self.dt, self.gamma, self.alpha
        if self.alpha_max > 0:
            alpha = jnp.minimum(alpha, self.alpha_max)
        return dynamics.OscillatorParams(position, velocity, bias, dt, gamma, alpha)


class LatticeDrive(nn.Module):
    """``K_x * f(x) (+ bias)``: the input drive, a 'same' convolution of the encoded frames.

    Parameters ``kernel`` (HWIO) and ``bias`` as :class:`flax.linen.Conv`'s (same names, shapes
    and initialisation), but computed by :func:`locornn.dynamics.lattice_conv`, whose gradient
    avoids XLA:CPU's slow convolution transpose (for one channel: 170 -> ~10 ms a train step at
    the reference's 128 x 18 frames of 36 x 36).
    """

    features: int
    kernel_size: int
    padding: str = "circular"
    kernel_init: object = nn.initializers.lecun_normal()
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features))
        y = dynamics.lattice_conv(x, kernel, self.padding)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,))
        return y


class OscillatorRNN(nn.Module):
    """LocoRNN (``config.kind == "locornn"``) or coRNN (``"cornn"``) on image sequences.

    Attributes:
      config: the ``model`` section of an experiment config (frozen).
      image_shape: ``(h, w, c)`` of one frame.
    """

    config: ml_collections.FrozenConfigDict
    image_shape: tuple[int, int, int]

    @property
    def local(self) -> bool:
        return self.config.kind == "locornn"

    @property
    def state_shape(self) -> tuple[int, ...]:
        c = self.config
        return (c.lattice, c.lattice, c.channels) if self.local else (c.hidden_units,)

    @property
    def coupling(self):
        if self.local:
            return dynamics.LocalCoupling(self.config.padding)
        return dynamics.DenseCoupling()

    def setup(self):
        c = self.config
        sites = math.prod(self.state_shape[:-1]) if self.local else c.hidden_units
        drive_init = coupling_initializer(c.coupling_init, sites)
        if self.local:
            encoded_shape = (c.lattice, c.lattice, c.encoded_channels)
            # with one bias per site (the reference) the drive needs none of its own
            self.drive = LatticeDrive(c.channels, c.drive_kernel_size, c.padding, drive_init,
                                      use_bias=not c.site_bias, name="drive")
            kernel_shape = (c.kernel_size, c.kernel_size, c.channels, c.channels)
        else:
            encoded_shape = (c.hidden_units,)
            self.drive = nn.Dense(c.hidden_units, name="drive", kernel_init=drive_init,
                                  use_bias=not c.site_bias)
            kernel_shape = (c.hidden_units, c.hidden_units)
        bias_shape = self.state_shape if c.site_bias else self.state_shape[-1:]
        conv = dict(features=c.conv_features, blocks=c.conv_blocks, depth=c.conv_depth)
        norm = dict(layernorm=c.drive_layernorm, layernorm_eps=c.layernorm_eps,
                    linear_init=c.linear_init)
        if c.encoder == "conv":
            self.encoder = ConvEncoder(encoded_shape, **norm, **conv)
        elif c.encoder == "gaussian":
            self.encoder = GaussianEncoder(encoded_shape, unused=c.unused_latents, **norm)
        elif c.encoder == "retinotopic":
            self.encoder = RetinotopicEncoder(encoded_shape, c.receptive_field, **norm)
        else:
            self.encoder = MLPEncoder(encoded_shape, **norm)
        if c.decoder == "conv":
            self.decoder = ConvDecoder(self.image_shape, output=c.output,
                                       linear_init=c.linear_init, **conv)
        elif c.decoder == "retinotopic":
            self.decoder = RetinotopicDecoder(self.image_shape, output=c.output,
                                              linear_init=c.linear_init)
        else:
            self.decoder = MLPDecoder(self.image_shape, output=c.output,
                                      hidden=c.decoder_hidden, linear_init=c.linear_init)
        self.core = OscillatorCore(kernel_shape, bias_shape, c.tie_kernels, c.dt, c.gamma,
                                   c.alpha, c.learn_constants, c.coupling_init, c.alpha_max,
                                   c.velocity_kernel_sum, sites, c.wave_speed,
                                   c.freeze_coupling)

    def encode(self, frames: jax.Array) -> tuple[jax.Array, jax.Array | None]:
        """``(B, T, h, w, c) -> ((B, T, *encoded_shape), KL (B, T) or None)``: ``f(x_t)``."""
        out = time_distributed(self.encoder, frames)
        return out if isinstance(out, tuple) else (out, None)

    def drives(self, frames: jax.Array) -> jax.Array:
        """``(B, T, h, w, c) -> (T, B, *state_shape)``: ``K_x * f(x_t)`` for every frame."""
        return self._drives(self.encode(frames)[0])

    def _drives(self, encoded: jax.Array) -> jax.Array:
        return jnp.swapaxes(time_distributed(self.drive, encoded), 0, 1)

    @property
    def _independent_initial_noise(self) -> bool:
        """z0 from its own sample of frame 0 (``model.initial_noise``; training only: without
        the ``"sample"`` stream the encoder gives its mean and both draws are the same)."""
        return self.config.initial_noise == "independent" and self.has_rng("sample")

    def _initial(self, first_encoded: jax.Array, first_drive: jax.Array) -> dynamics.State:
        """The state before the first step, as ``model.initial_state`` says, from frame 0's
        encoding and drive (each ``(B, ...)``)."""
        if self.config.initial_state == "encoder_output":  # z = f(x_0) (the reference), v = 0
            return dynamics.State(first_encoded, jnp.zeros_like(first_encoded))
        zeros = jnp.zeros_like(first_drive)
        if self.config.initial_state == "encoded":  # z from the first frame's drive, v = 0
            return dynamics.State(first_drive, zeros)
        return dynamics.State(zeros, zeros)

    def scanned_loss(self, frames: jax.Array, *, likelihood: str, wrap: bool,
                     time_reduction: str, block: int,
                     bce_eps: float = 1e-6) -> tuple[jax.Array, jax.Array | None]:
        """The next-frame loss of :func:`locornn.metrics.forward_prediction_loss`, computed block
        by block inside the scan (:func:`locornn.dynamics.rollout_reduce`, blocks of ``block``
        steps under ``jax.checkpoint``): each block encodes its own frames, drives the lattice,
        and decodes and scores each ``z_t``. No trajectory, drive or encoder activation is kept
        beyond a block, so the gradient's memory grows sub-linearly in ``T``
        (``bench_memory.py --train-loss``). Same value and gradients as the loss of
        ``__call__``'s prediction (tested).

        One difference, by design: a Gaussian encoder's sampling noise for frame ``t`` is drawn
        from ``fold_in(key, t)``, so that a block can draw its own frames' noise; ``__call__``
        draws all frames' noise in one call. Same distribution, a different draw, and the same
        draw whatever the block size.

        Returns:
          ``(loss, kl)``: the loss (sum or mean over scored frames, mean over the batch) and the
          ``(B, T)`` KL of a Gaussian encoder (None otherwise).
        """
        steps = frames.shape[1]
        sample_key = self.make_rng("sample") if self.has_rng("sample") else None
        # the modules as pure functions of their parameters (a bound module cannot enter a scan)
        encoder, drive, decoder = (_detached(m) for m in (self.encoder, self.drive, self.decoder))

        def encode_frames(frames_tb, times):
            """``(K, B, h, w, c), (K,) -> ((K, B, *encoded_shape), (K, B) KL or None)``."""
            if sample_key is None:
                out = time_distributed(functools.partial(encoder[0].apply, encoder[1]), frames_tb)
            else:
                out = jax.vmap(lambda frame, t: encoder[0].apply(
                    encoder[1], frame, rngs={"sample": jax.random.fold_in(sample_key, t)}))(
                        frames_tb, times)
            return out if isinstance(out, tuple) else (out, None)

        def to_drives(encoded):  # (K, B, *encoded_shape) -> (K, B, *state_shape)
            return time_distributed(functools.partial(drive[0].apply, drive[1]), encoded)

        # The frames stay where they are (a copy of the batch would be linear in T): each block
        # reads its own, and each readout its target, by step index.
        def encode(indices, _):
            block_frames = jnp.swapaxes(jnp.take(frames, indices, axis=1), 0, 1)
            encoded, kl = encode_frames(block_frames, indices)
            return to_drives(encoded), kl

        def readout(z, inputs):
            t, weight = inputs
            target = lax.dynamic_index_in_dim(frames, (t + 1) % steps, axis=1, keepdims=False)
            predicted = decoder[0].apply(decoder[1], z)
            loss = metrics.frame_loss(predicted, target, likelihood, bce_eps)
            return weight * jnp.mean(loss)

        # Frame 0 is encoded once more for the initial state (block 0 encodes it again): one
        # frame of work, and with fold_in(key, 0) both see the same sample; an independent
        # initial sample (model.initial_noise) takes fold_in(key, T), which no frame uses.
        noise_index = steps if self._independent_initial_noise else 0
        first_encoded = encode_frames(jnp.swapaxes(frames[:, :1], 0, 1),
                                      jnp.full(1, noise_index, jnp.int32))[0]
        initial = self._initial(first_encoded[0], to_drives(first_encoded)[0])
        indices = jnp.arange(steps)
        weights = jnp.ones(steps).at[-1].set(1.0 if wrap else 0.0)  # no target after the end
        total, kl = dynamics.rollout_reduce(self.core(), indices, readout, (indices, weights),
                                            initial, self.coupling, block=block, encode=encode)
        if time_reduction == "mean":
            total = total / (steps if wrap else steps - 1)
        return total, None if kl is None else jnp.swapaxes(kl, 0, 1)

    def __call__(self, frames: jax.Array, free_frames: int = 0) -> dict[str, jax.Array]:
        """Read a sequence and forecast each next frame.

        Args:
          frames: ``(B, T, h, w, c)``.
          free_frames: the last ``free_frames`` steps run with the drive withheld (``K_x`` sees
            ``f(x) = 0``; the biases stay), so the lattice forecasts those frames from its own
            state alone (``train.free_frames``; the analyses always drive every step).

        Returns:
          ``{"prediction": (B, T, h, w, c), "z": (B, T, *state_shape)}`` where
          ``prediction[:, t]`` forecasts ``frames[:, t + 1]``.
        """
        if frames.ndim != 5 or tuple(frames.shape[2:]) != tuple(self.image_shape):
            raise ValueError(f"expected frames (B, T, {', '.join(map(str, self.image_shape))}), "
                             f"got {frames.shape}")
        encoded, kl = self.encode(frames)
        drives = self._drives(encoded)
        if free_frames:
            blank = self.drive(jnp.zeros_like(encoded[:, 0]))  # (B, *state): no input
            withheld = jnp.arange(frames.shape[1]) >= frames.shape[1] - free_frames
            drives = jnp.where(withheld.reshape(-1, *(1,) * blank.ndim), blank[None], drives)
        if self._independent_initial_noise:  # a second draw for z0; its KL is not scored
            first = self.encode(frames[:, :1])[0]
            initial = self._initial(first[:, 0], self._drives(first)[0])
        else:
            initial = self._initial(encoded[:, 0], drives[0])
        zs = dynamics.rollout(self.core(), drives, initial, self.coupling,
                              unroll=self.config.unroll)
        zs = jnp.swapaxes(zs, 0, 1)
        out = {"prediction": time_distributed(self.decoder, zs), "z": zs}
        if kl is not None:
            out["kl"] = kl  # (B, T): KL of each frame's encoding, for the loss
        return out
