r"""Forecasting models for the Hamiltonian suite: infer an initial state, roll out open-loop.

All four models of the paper's Table 1 share one pipeline and differ only in the recurrent core
(DESIGN.md section 2; the reference follows the DeepMind suite's models):

1. **encoder** ``f`` (:class:`~locornn.models.codecs.ConvEncoder` by default, or
   :class:`~locornn.models.codecs.MLPEncoder`) maps each of the first ``K`` frames
   (``model.context_frames``, 31 in the reference) to a vector of ``model.encoded_units``;
2. **initial-state inference**: a GRU (``flax.linen.GRUCell``, ``model.gru_units``) reads the
   encoded frames *backwards in time* (frame ``K - 1`` first, frame 0 last), so its final hidden
   state summarises the window as seen from frame 0; one linear layer maps it to the core's
   initial state at the time of frame 0;
3. **open-loop rollout** of the core with no further input;
4. **decoder** ``g`` (:class:`~locornn.models.codecs.ConvDecoder` by default, or
   :class:`~locornn.models.codecs.MLPDecoder`) on every state.

Cores (``model.kind``):

* ``"locornn"``: the oscillator of :mod:`locornn.dynamics` with :class:`LocalCoupling` on a
  ``(lattice, lattice, channels)`` lattice (23x23x1 in the reference), parameters from
  :class:`~locornn.models.oscillator.OscillatorCore`, all drives zero. The GRU infers ``(z0, v0)``.
* ``"cornn"``: the same with :class:`DenseCoupling` on ``hidden_units`` oscillators.
* ``"lstm"``: a ``flax.linen.LSTMCell`` of ``lstm_units`` run on zero input; the GRU infers the
  carry ``(c0, h0)`` and the decoder reads ``h``. (The cell's input kernels multiply zeros: they
  get zero gradient; the cell is fed a 1-wide zero input to keep them small.)
* ``"node"``: a Neural ODE ``dz/dt = MLP(z)`` on ``node_units`` dimensions (``node_depth`` tanh
  layers of ``node_width``, then a linear layer), integrated with diffrax's ``Tsit5`` at the
  fixed step ``node_dt`` and read at the frame times ``t_j = j * node_frame_dt`` (the ratio
  ``node_frame_dt / node_dt`` must be a whole number of steps per frame, so that every frame
  time is a step end point: no interpolation); differentiated with diffrax's default adjoint
  (``RecursiveCheckpointAdjoint``). The GRU infers ``z0``.

Index convention (aligned, *not* the shifted next-frame convention of
:class:`~locornn.models.oscillator.OscillatorRNN`):

* ``state[:, 0]`` is the inferred initial state, placed at the time of frame 0, and
  ``state[:, j]`` the state after ``j`` open-loop steps (``j`` frame intervals later);
* ``prediction[:, j] = g(state[:, j])`` is the model's picture of ``frames[:, j]``, for
  ``j = 0 .. K + num_steps - 1``. Indices ``j < K`` reconstruct the conditioning window,
  ``j >= K`` forecast beyond it; both come from the same open-loop rollout (the window is read
  only by the GRU, never fed to the core);
* the reference trains on every frame of the training sequence (reconstruction of the window
  and forecast of the rest): :func:`locornn.metrics.forecast_loss` scores ``prediction[:, j]``
  against ``frames[:, j]``;
* only ``frames[:, :K]`` are read. ``num_steps`` (a static Python int) defaults to ``T - K``,
  so that ``prediction`` has the shape of ``frames``; pass ``frames[:, :K]`` and any
  ``num_steps`` for a long extrapolation.
"""

from __future__ import annotations

import math
from typing import Any

import diffrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from locornn import dynamics
from locornn.models.codecs import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder, time_distributed
from locornn.models.oscillator import OscillatorCore

KINDS = ("locornn", "cornn", "lstm", "node")

# Fields of the ``model`` config section this module reads, with the defaults used when a field
# is missing from the config (the reference's Hamiltonian-suite sizes where known).
DEFAULTS: dict[str, Any] = {
    "kind": "locornn",
    # oscillator cores
    "lattice": 23,
    "channels": 1,
    "hidden_units": 256,
    "kernel_size": 3,
    "padding": "circular",
    "tie_kernels": False,
    "dt": 0.125,
    "gamma": 1.0,
    "alpha": 0.5,
    "learn_constants": True,
    # encoder / decoder
    "encoder": "conv",
    "decoder": "conv",
    "decoder_hidden": 0,
    "conv_features": 64,
    "conv_blocks": 3,
    "conv_depth": 2,
    "drive_layernorm": True,
    "output": "sigmoid",
    "encoded_units": 128,
    # initial-state inference
    "context_frames": 31,
    "gru_units": 256,
    # baselines
    "lstm_units": 256,
    "node_units": 64,
    "node_width": 256,
    "node_depth": 2,
    "node_dt": 0.125,
    "node_frame_dt": 0.125,
    # lax.scan unroll of the recurrences (GRU, oscillator, LSTM)
    "unroll": 1,
}


def _field(config, name: str):
    return config.get(name, DEFAULTS[name])


def check_config(config) -> None:
    """Raise ``ValueError`` for a model section the forecasting model cannot build."""
    kind = _field(config, "kind")
    if kind not in KINDS:
        raise ValueError(f"model.kind must be one of {KINDS} for forecasting, got {kind!r}")
    if _field(config, "decoder_hidden") < 0:
        raise ValueError(f"model.decoder_hidden must be >= 0, got "
                         f"{_field(config, 'decoder_hidden')}")
    for name in ("context_frames", "encoded_units", "gru_units", "lattice", "channels",
                 "hidden_units", "lstm_units", "node_units", "node_width"):
        if _field(config, name) < 1:
            raise ValueError(f"model.{name} must be >= 1, got {_field(config, name)}")
    if _field(config, "node_depth") < 0:
        raise ValueError(f"model.node_depth must be >= 0, got {_field(config, 'node_depth')}")
    node_substeps(_field(config, "node_frame_dt"), _field(config, "node_dt"))
    for name in ("encoder", "decoder"):
        if _field(config, name) not in ("mlp", "conv"):
            raise ValueError(f"model.{name} must be 'mlp' or 'conv', got {_field(config, name)!r}")


def node_substeps(frame_dt: float, step: float) -> int:
    """Integrator steps per frame, ``frame_dt / step``; it must be a positive whole number."""
    if not (frame_dt > 0 and step > 0):
        raise ValueError(f"model.node_frame_dt ({frame_dt}) and model.node_dt ({step}) must be "
                         f"> 0")
    ratio = frame_dt / step
    substeps = round(ratio)
    if substeps < 1 or abs(ratio - substeps) > 1e-6 * ratio:
        raise ValueError(f"model.node_frame_dt ({frame_dt}) must be a whole multiple of "
                         f"model.node_dt ({step}): the ODE is read at step end points")
    return substeps


# --------------------------------------------------------------------------------------------
# Neural ODE vector field as an explicit parameter pytree (so diffrax sees a pure function)


class VectorField(nn.Module):
    """Parameters of ``dz/dt = MLP(z)``: ``depth`` tanh layers of ``width``, then linear.

    ``__call__`` returns the list of ``(kernel, bias)`` pairs; :func:`mlp_vector_field`
    evaluates it. Kernels start LeCun-normal, biases at zero.
    """

    units: int
    width: int
    depth: int

    @nn.compact
    def __call__(self) -> list[tuple[jax.Array, jax.Array]]:
        init = nn.initializers.lecun_normal()
        sizes = [self.units] + [self.width] * self.depth + [self.units]
        return [(self.param(f"kernel_{i}", init, (n_in, n_out)),
                 self.param(f"bias_{i}", nn.initializers.zeros, (n_out,)))
                for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))]


def mlp_vector_field(t, z: jax.Array, layers) -> jax.Array:
    """diffrax vector field ``(t, y, args)``: the autonomous MLP of :class:`VectorField`."""
    del t
    for kernel, bias in layers[:-1]:
        z = jnp.tanh(z @ kernel + bias)
    kernel, bias = layers[-1]
    return z @ kernel + bias


def integrate_node(layers, z0: jax.Array, num_steps: int, frame_dt: float,
                   substeps: int = 1) -> jax.Array:
    """``z(t_j)`` at ``t_j = j * frame_dt``, ``j = 0 .. num_steps``: ``(num_steps + 1, *z0.shape)``.

    diffrax ``Tsit5`` with ``substeps`` equal steps per frame interval, placed exactly on the
    grid ``t = i * frame_dt / substeps`` (``StepTo``), so every frame time is a step end point
    (no interpolation) and the number of steps is known in advance (``max_steps``).
    Differentiated with diffrax's default adjoint (``RecursiveCheckpointAdjoint``).
    """
    if num_steps == 0:
        return z0[None]
    grid = (frame_dt / substeps) * jnp.arange(num_steps * substeps + 1, dtype=z0.dtype)
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(mlp_vector_field), diffrax.Tsit5(), t0=grid[0], t1=grid[-1], dt0=None,
        y0=z0, args=layers, saveat=diffrax.SaveAt(t0=True, steps=True),
        stepsize_controller=diffrax.StepTo(ts=grid), max_steps=num_steps * substeps,
    )
    return solution.ys[::substeps]


# --------------------------------------------------------------------------------------------
# The model


class ForecastModel(nn.Module):
    """Encoder, backward-GRU initial-state inference, open-loop core rollout, decoder.

    Attributes:
      config: the ``model`` section of an experiment config (frozen); fields in
        :data:`DEFAULTS` (missing ones take those defaults).
      image_shape: ``(h, w, c)`` of one frame.
    """

    config: ml_collections.FrozenConfigDict
    image_shape: tuple[int, int, int]

    def _get(self, name: str):
        return _field(self.config, name)

    @property
    def kind(self) -> str:
        return self._get("kind")

    @property
    def context_frames(self) -> int:
        return self._get("context_frames")

    @property
    def state_shape(self) -> tuple[int, ...]:
        """Shape of one sample's decoded state: ``z`` (oscillators, ODE) or ``h`` (LSTM)."""
        kind = self.kind
        if kind == "locornn":
            return (self._get("lattice"), self._get("lattice"), self._get("channels"))
        if kind == "cornn":
            return (self._get("hidden_units"),)
        if kind == "lstm":
            return (self._get("lstm_units"),)
        return (self._get("node_units"),)

    def _codecs(self) -> tuple[nn.Module, nn.Module]:
        conv = dict(features=self._get("conv_features"), blocks=self._get("conv_blocks"),
                    depth=self._get("conv_depth"))
        encoded = (self._get("encoded_units"),)
        layernorm = self._get("drive_layernorm")
        if self._get("encoder") == "conv":
            encoder = ConvEncoder(encoded, layernorm=layernorm, name="encoder", **conv)
        else:
            encoder = MLPEncoder(encoded, layernorm=layernorm, name="encoder")
        if self._get("decoder") == "conv":
            decoder = ConvDecoder(self.image_shape, output=self._get("output"), name="decoder",
                                  **conv)
        else:
            decoder = MLPDecoder(self.image_shape, output=self._get("output"),
                                 hidden=self._get("decoder_hidden"), name="decoder")
        return encoder, decoder

    def _infer(self, encoded: jax.Array, num_parts: int) -> list[jax.Array]:
        """Backward GRU over ``(B, K, e)`` -> ``num_parts`` arrays ``(B, *state_shape)``."""
        cell = nn.GRUCell(self._get("gru_units"), name="inference_gru")
        gru = nn.RNN(cell, reverse=True, return_carry=True, unroll=self._get("unroll"))
        final, _ = gru(encoded)  # final carry: after reading frame K-1, ..., 1, 0
        size = math.prod(self.state_shape)
        flat = nn.Dense(num_parts * size, name="initial_state")(final)
        return [part.reshape(len(flat), *self.state_shape)
                for part in jnp.split(flat, num_parts, axis=-1)]

    def _oscillator_rollout(self, z0: jax.Array, v0: jax.Array, steps: int) -> jax.Array:
        if self.kind == "locornn":
            k, c = self._get("kernel_size"), self._get("channels")
            kernel_shape, bias_shape = (k, k, c, c), (c,)
            coupling = dynamics.LocalCoupling(self._get("padding"))
        else:
            n = self._get("hidden_units")
            kernel_shape, bias_shape = (n, n), (n,)
            coupling = dynamics.DenseCoupling()
        core = OscillatorCore(kernel_shape, bias_shape, self._get("tie_kernels"),
                              self._get("dt"), self._get("gamma"), self._get("alpha"),
                              self._get("learn_constants"), name="core")
        params = core()
        drives = jnp.zeros((steps, *z0.shape), z0.dtype)  # open loop: no input
        zs = dynamics.rollout(params, drives, dynamics.State(z0, v0), coupling,
                              unroll=self._get("unroll"))
        return jnp.concatenate([z0[None], zs], axis=0)

    def _lstm_rollout(self, c0: jax.Array, h0: jax.Array, steps: int) -> jax.Array:
        lstm = nn.RNN(nn.LSTMCell(self._get("lstm_units"), name="core"),
                      unroll=self._get("unroll"))
        zeros = jnp.zeros((len(h0), steps, 1), h0.dtype)  # open loop: no input
        hs = lstm(zeros, initial_carry=(c0, h0))  # (B, steps, units); params even if steps = 0
        return jnp.concatenate([h0[None], jnp.swapaxes(hs, 0, 1)], axis=0)

    def _node_rollout(self, z0: jax.Array, steps: int) -> jax.Array:
        field = VectorField(self._get("node_units"), self._get("node_width"),
                            self._get("node_depth"), name="core")
        frame_dt = self._get("node_frame_dt")
        return integrate_node(field(), z0, steps, frame_dt,
                              node_substeps(frame_dt, self._get("node_dt")))

    @nn.compact
    def __call__(self, frames: jax.Array, num_steps: int | None = None) -> dict[str, jax.Array]:
        """Infer the initial state from ``frames[:, :K]`` and roll out open-loop.

        Args:
          frames: ``(B, T, h, w, c)`` with ``T >= K`` (``K = model.context_frames``); only
            ``frames[:, :K]`` are read.
          num_steps: frames to forecast after the conditioning window (a static Python int,
            >= 0); default ``T - K``.

        Returns:
          ``{"prediction": (B, K + num_steps, h, w, c), "z": (B, K + num_steps, *state_shape),
          "initial_state": tuple}`` where ``prediction[:, j] = g(z[:, j])`` is the model's
          picture of ``frames[:, j]`` (reconstruction for ``j < K``, forecast for ``j >= K``),
          ``z`` is the decoded state (position ``z``; ``h`` for the LSTM) with ``z[:, 0]`` the
          inferred one, and ``initial_state`` is what the GRU inferred, each ``(B,
          *state_shape)``: ``(z0, v0)`` (oscillators), ``(c0, h0)`` (LSTM) or ``(z0,)`` (ODE).
          uint8 frames are scaled by ``1/255`` first.
        """
        check_config(self.config)
        k = self.context_frames
        if frames.ndim != 5 or tuple(frames.shape[2:]) != tuple(self.image_shape):
            raise ValueError(f"expected frames (B, T, {', '.join(map(str, self.image_shape))}), "
                             f"got {frames.shape}")
        if frames.shape[1] < k:
            raise ValueError(f"need at least model.context_frames = {k} frames to infer the "
                             f"initial state, got {frames.shape[1]}")
        if num_steps is None:
            num_steps = frames.shape[1] - k
        if not isinstance(num_steps, int) or num_steps < 0:
            raise ValueError(f"num_steps must be a non-negative Python int, got {num_steps!r}")
        steps = k + num_steps - 1  # open-loop steps after the initial state (frame 0)

        context = frames[:, :k]
        if context.dtype == jnp.uint8:  # stored frames: the loaders' x * (1/255)
            context = context.astype(jnp.float32) * jnp.float32(1.0 / 255.0)
        encoder, decoder = self._codecs()
        encoded = time_distributed(encoder, context.astype(jnp.float32))
        if self.kind in ("locornn", "cornn"):
            initial = tuple(self._infer(encoded, 2))  # (z0, v0)
            states = self._oscillator_rollout(*initial, steps)
        elif self.kind == "lstm":
            initial = tuple(self._infer(encoded, 2))  # (c0, h0)
            states = self._lstm_rollout(*initial, steps)
        else:
            initial = tuple(self._infer(encoded, 1))  # (z0,)
            states = self._node_rollout(*initial, steps)
        states = jnp.swapaxes(states, 0, 1)  # (B, K + num_steps, *state_shape)
        return {"prediction": time_distributed(decoder, states), "z": states,
                "initial_state": initial}


def build_forecast_model(model_config: ml_collections.ConfigDict,
                         image_shape: tuple[int, int, int]) -> ForecastModel:
    """The forecasting model a config's ``model`` section names (any of :data:`KINDS`)."""
    config = ml_collections.FrozenConfigDict(model_config)
    check_config(config)
    return ForecastModel(config, tuple(image_shape))


__all__ = ["ForecastModel", "build_forecast_model", "check_config", "DEFAULTS", "KINDS",
           "VectorField", "mlp_vector_field", "integrate_node", "node_substeps"]
