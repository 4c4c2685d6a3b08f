r"""Forecasting models for the Hamiltonian suite: infer an initial state, then roll the core out.

All the models of the paper's Table 1 share one pipeline and differ only in the recurrent core
(DESIGN.md section 2; the reference follows the DeepMind suite's models):

1. **encoder** ``f`` (:class:`~locornn.models.codecs.ConvEncoder` by default, or
   :class:`~locornn.models.codecs.MLPEncoder`) maps every frame it reads to a vector of
   ``model.encoded_units`` (autoregressive oscillators: to the lattice itself);
2. **initial-state inference**: a GRU (``flax.linen.GRUCell``) reads the first ``K``
   (``model.context_frames``, 31 in the reference) encoded frames *backwards in time* (frame
   ``K - 1`` first, frame 0 last), so its final hidden state summarises the window as seen from
   frame 0; one linear layer maps it to the core's initial state at the time of frame 0
   (``model.state_from_gru``: the GRU's hidden state, of the state's size, *is* the state, as the
   reference);
3. **rollout** of the core (``model.rollout``):

   * ``"open_loop"`` (locornn's first model, and the suite's latent ODE baselines): no input
     after the GRU, ``state[j + 1] = core(state[j])``; the decoder pictures every state;
   * ``"autoregressive"`` (the reference's LocoRNN and LSTM, DESIGN.md section 2a): every step
     is driven by one frame, ``state[j + 1] = core(state[j], f(x_j))`` (for the oscillators the
     drive is ``K_x * f(x_j)``, a ``k x k`` convolution of the encoded lattice, or a dense
     ``N x N`` map for coRNN); during training the true frames drive (teacher forcing, one-step
     prediction loss); when forecasting, the true frames drive up to the end of the context
     and then the model's own picture does (closed loop: ``x_j -> g(state[j])``, decode ->
     encode -> step). ``feedback_from`` sets where the closed loop starts, so that training
     can run through the closed loop too (``train.closed_loop_frames``);
4. **decoder** ``g`` (:class:`~locornn.models.codecs.ConvDecoder` by default, or
   :class:`~locornn.models.codecs.MLPDecoder`) on every state; with ``model.decode_velocity`` it
   reads ``[z, v]`` (the reference).

Cores (``model.kind``):

* ``"locornn"``: the oscillator of :mod:`locornn.dynamics` (its ``step``: the one place paper
  eq. 2 lives) with :class:`LocalCoupling` on a ``(lattice, lattice, channels)`` lattice
  (23x23x1 in the reference), parameters from :class:`~locornn.models.oscillator.OscillatorCore`
  (coupling init ``model.coupling_init``, bias per channel or per site ``model.site_bias``, the
  damping constraints ``model.alpha_max`` and ``model.velocity_kernel_sum``). The GRU infers
  ``(z0, v0)``.
* ``"cornn"``: the same with :class:`DenseCoupling` on ``hidden_units`` oscillators.
* ``"lstm"``: a ``flax.linen.LSTMCell`` of ``lstm_units``; the GRU infers the carry
  ``(c0, h0)`` and the decoder reads ``h``. Open loop feeds it a 1-wide zero input (its input
  kernels then get zero gradient); autoregressive feeds it the encoded frame.
* ``"node"`` (open loop only): a Neural ODE ``dz/dt = MLP(z)`` on ``node_units`` dimensions
  (``node_depth`` tanh layers of ``node_width``, then a linear layer), integrated with
  diffrax's ``Tsit5`` at the fixed step ``node_dt`` and read at the frame times
  ``t_j = j * node_frame_dt`` (the ratio must be a whole number of steps per frame, so that
  every frame time is a step end point: no interpolation); differentiated with diffrax's
  default adjoint (``RecursiveCheckpointAdjoint``). The GRU infers ``z0``.
* ``"hgn"`` (HGN++, open loop only): a point ``(q, p)`` of ``hgn_units`` positions and as many
  momenta moves along the flow of a learned separable Hamiltonian ``H(q, p) = T(p) + V(q)``
  (two MLPs of ``hgn_depth`` hidden layers of ``hgn_width``, ``hgn_activation``; ``T`` the MLP
  alone or ``|p|^2 / 2`` plus the MLP, ``hgn_kinetic``), integrated by leapfrog
  (:mod:`locornn.models.hgn`) at the step ``hgn_dt``, ``hgn_frame_dt / hgn_dt`` steps per
  frame (a whole number, as the ODE's); the decoder reads ``q`` alone, as HGN's. The
  GRU infers ``(q0, p0)``: the same inference as every other core, so that Table 1 compares
  cores and not encoders (the suite's HGN++ encodes a stack of frames with a conv net into a
  Gaussian posterior, trained with a KL term; docs/experiments.md lists what differs).

Index convention (aligned, *not* the shifted next-frame convention of
:class:`~locornn.models.oscillator.OscillatorRNN`):

* ``state[:, 0]`` is the inferred initial state, placed at the time of frame 0, and
  ``state[:, j]`` the state after ``j`` steps (``j`` frame intervals later);
* ``prediction[:, j] = g(state[:, j])`` is the model's picture of ``frames[:, j]``, for
  ``j = 0 .. K + num_steps - 1``. Open loop: indices ``j < K`` reconstruct the conditioning
  window and ``j >= K`` forecast beyond it, all from one rollout (the window is read only by the
  GRU). Autoregressive: ``prediction[:, j]`` (``j >= 1``) has seen frames ``0 .. j - 1``; the
  reference scores ``j = 1 .. T - 1`` (:func:`locornn.tasks.forecast_objectives`);
* ``num_steps`` (a static Python int) defaults to ``T - K``, so that ``prediction`` has the
  shape of ``frames``; pass ``frames[:, :K]`` and any ``num_steps`` for a long forecast (the
  autoregressive model then runs closed loop from frame ``K``).

Both rollouts are one ``lax.scan`` each; the encodings of the true frames are computed for all
time steps before the scan, and in teacher forcing so are the decoded pictures (the scan then
carries the core alone).

Length: one module because the forecasting cores share the encoder, the inference GRU, the
decoder and the two rollouts (open loop, autoregressive) they are scored by.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import diffrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from locornn import dynamics
from locornn.models.codecs import (
    ConvDecoder,
    ConvEncoder,
    MLPDecoder,
    MLPEncoder,
    apply_mlp,
    mlp_parameters,
    time_distributed,
)
from locornn.models.hgn import (
    ACTIVATIONS,
    KINETIC_ENERGIES,
    HamiltonianMLP,
    leapfrog_trajectory,
    mlp_hamiltonian,
)
from locornn.models.oscillator import (
    KERNEL_INITS,
    VELOCITY_KERNEL_SUMS,
    OscillatorCore,
    coupling_initializer,
)

KINDS = ("locornn", "cornn", "lstm", "node", "hgn")
ROLLOUTS = ("open_loop", "autoregressive")
AUTOREGRESSIVE_KINDS = ("locornn", "cornn", "lstm")

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
    "coupling_init": "lecun",
    "site_bias": False,
    "alpha_max": 0.0,
    "velocity_kernel_sum": "free",
    # how the core is driven: "open_loop" (no input after the GRU) | "autoregressive"
    "rollout": "open_loop",
    # encoder / decoder
    "encoder": "conv",
    "decoder": "conv",
    "decoder_hidden": 0,
    "conv_features": 64,
    "conv_blocks": 3,
    "conv_depth": 2,
    "drive_layernorm": True,
    "output": "sigmoid",
    "decode_velocity": False,
    "encoded_units": 128,
    # initial-state inference
    "context_frames": 31,
    "gru_units": 256,
    "state_from_gru": False,
    # baselines
    "lstm_units": 256,
    "node_units": 64,
    "node_width": 256,
    "node_depth": 2,
    "node_dt": 0.125,
    "node_frame_dt": 0.125,
    # HGN++: the suite's MLP Hamiltonian (q and p of 16 each, 4 x 250 swish, one leapfrog
    # step of 0.125 per frame)
    "hgn_units": 16,
    "hgn_width": 250,
    "hgn_depth": 4,
    "hgn_activation": "swish",
    "hgn_kinetic": "mlp",
    "hgn_dt": 0.125,
    "hgn_frame_dt": 0.125,
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
                 "hidden_units", "lstm_units", "node_units", "node_width", "hgn_units",
                 "hgn_width"):
        if _field(config, name) < 1:
            raise ValueError(f"model.{name} must be >= 1, got {_field(config, name)}")
    for name in ("node_depth", "hgn_depth"):
        if _field(config, name) < 0:
            raise ValueError(f"model.{name} must be >= 0, got {_field(config, name)}")
    if _field(config, "hgn_activation") not in ACTIVATIONS:
        raise ValueError(f"model.hgn_activation must be one of {tuple(ACTIVATIONS)}, got "
                         f"{_field(config, 'hgn_activation')!r}")
    if _field(config, "hgn_kinetic") not in KINETIC_ENERGIES:
        raise ValueError(f"model.hgn_kinetic must be one of {KINETIC_ENERGIES}, got "
                         f"{_field(config, 'hgn_kinetic')!r}")
    node_substeps(_field(config, "node_frame_dt"), _field(config, "node_dt"))
    hgn_substeps(_field(config, "hgn_frame_dt"), _field(config, "hgn_dt"))
    rollout = _field(config, "rollout")
    if rollout not in ROLLOUTS:
        raise ValueError(f"model.rollout must be one of {ROLLOUTS}, got {rollout!r}")
    if rollout == "autoregressive" and kind not in AUTOREGRESSIVE_KINDS:
        raise ValueError(f"model.rollout = 'autoregressive' needs a recurrent core "
                         f"{AUTOREGRESSIVE_KINDS}, got model.kind = {kind!r}")
    forecasting_inits = tuple(k for k in KERNEL_INITS if k != "constant")
    if _field(config, "coupling_init") not in forecasting_inits:  # constant: rotating MNIST's
        raise ValueError(f"model.coupling_init must be one of {forecasting_inits} for "
                         f"forecasting, got {_field(config, 'coupling_init')!r}")
    if _field(config, "velocity_kernel_sum") not in VELOCITY_KERNEL_SUMS:
        raise ValueError(f"model.velocity_kernel_sum must be one of {VELOCITY_KERNEL_SUMS}, "
                         f"got {_field(config, 'velocity_kernel_sum')!r}")
    if _field(config, "velocity_kernel_sum") == "zero" and _field(config, "tie_kernels"):
        raise ValueError("model.velocity_kernel_sum = 'zero' needs model.tie_kernels = False")
    if _field(config, "alpha_max") < 0:
        raise ValueError(f"model.alpha_max must be >= 0 (0: no cap), got "
                         f"{_field(config, 'alpha_max')}")
    for name in ("encoder", "decoder"):
        if _field(config, name) not in ("mlp", "conv"):
            raise ValueError(f"model.{name} must be 'mlp' or 'conv', got {_field(config, name)!r}")


def _substeps(frame_dt: float, step: float, core: str) -> int:
    """Integrator steps per frame, ``frame_dt / step`` (fields ``model.<core>_frame_dt`` and
    ``model.<core>_dt``); it must be a positive whole number, so that every frame time is the
    end point of a step (the state is read there, never interpolated)."""
    frame_name, step_name = f"model.{core}_frame_dt", f"model.{core}_dt"
    if not (frame_dt > 0 and step > 0):
        raise ValueError(f"{frame_name} ({frame_dt}) and {step_name} ({step}) must be > 0")
    ratio = frame_dt / step
    substeps = round(ratio)
    if substeps < 1 or abs(ratio - substeps) > 1e-6 * ratio:
        raise ValueError(f"{frame_name} ({frame_dt}) must be a whole multiple of {step_name} "
                         f"({step}): the state is read at step end points")
    return substeps


def node_substeps(frame_dt: float, step: float) -> int:
    """The Neural ODE's steps per frame, ``node_frame_dt / node_dt`` (a positive whole number)."""
    return _substeps(frame_dt, step, "node")


def hgn_substeps(frame_dt: float, step: float) -> int:
    """HGN++'s leapfrog steps per frame, ``hgn_frame_dt / hgn_dt`` (a positive whole number)."""
    return _substeps(frame_dt, step, "hgn")


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
        return mlp_parameters(self, [self.units] + [self.width] * self.depth + [self.units])


def mlp_vector_field(t, z: jax.Array, layers) -> jax.Array:
    """diffrax vector field ``(t, y, args)``: the autonomous MLP of :class:`VectorField`."""
    del t
    return apply_mlp(layers, z, jnp.tanh)


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
# Encoder and decoder


def unit_float(frames) -> jax.Array:
    """Frames as float32 in [0, 1]: stored uint8 frames scaled by the loaders' ``1/255``,
    float frames passed through."""
    frames = jnp.asarray(frames)
    if frames.dtype == jnp.uint8:
        return frames.astype(jnp.float32) * jnp.float32(1.0 / 255.0)
    return frames.astype(jnp.float32)


def build_codecs(config, image_shape: tuple[int, int, int],
                 encoded_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """The encoder ``f`` and decoder ``g`` a model section names, called ``"encoder"`` and
    ``"decoder"``: built inside a module they are its submodules; built outside, standalone
    modules that read ``params["encoder"]`` / ``params["decoder"]`` of a trained model."""
    conv = dict(features=_field(config, "conv_features"), blocks=_field(config, "conv_blocks"),
                depth=_field(config, "conv_depth"))
    layernorm = _field(config, "drive_layernorm")
    if _field(config, "encoder") == "conv":
        encoder = ConvEncoder(encoded_shape, layernorm=layernorm, name="encoder", **conv)
    else:
        encoder = MLPEncoder(encoded_shape, layernorm=layernorm, name="encoder")
    if _field(config, "decoder") == "conv":
        decoder = ConvDecoder(image_shape, output=_field(config, "output"), name="decoder",
                              **conv)
    else:
        decoder = MLPDecoder(image_shape, output=_field(config, "output"),
                             hidden=_field(config, "decoder_hidden"), name="decoder")
    return encoder, decoder


# --------------------------------------------------------------------------------------------
# The model


class ForecastModel(nn.Module):
    """Encoder, backward-GRU initial-state inference, core rollout (open loop or
    autoregressive), decoder.

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
    def autoregressive(self) -> bool:
        return self._get("rollout") == "autoregressive"

    @property
    def context_frames(self) -> int:
        return self._get("context_frames")

    @property
    def state_shape(self) -> tuple[int, ...]:
        """Shape of one sample's recorded state: ``z`` (oscillators, ODE), ``h`` (LSTM) or
        ``q`` (HGN)."""
        kind = self.kind
        if kind == "locornn":
            return (self._get("lattice"), self._get("lattice"), self._get("channels"))
        if kind == "cornn":
            return (self._get("hidden_units"),)
        if kind == "lstm":
            return (self._get("lstm_units"),)
        if kind == "hgn":
            return (self._get("hgn_units"),)
        return (self._get("node_units"),)

    @property
    def encoded_shape(self) -> tuple[int, ...]:
        """What the encoder makes of a frame. Autoregressive oscillators: the lattice (or the
        N oscillators), which ``K_x`` turns into the drive; otherwise ``encoded_units``."""
        if self.autoregressive and self.kind in ("locornn", "cornn"):
            return self.state_shape
        return (self._get("encoded_units"),)

    def _codecs(self) -> tuple[nn.Module, nn.Module]:
        return build_codecs(self.config, self.image_shape, self.encoded_shape)

    def _infer(self, encoded: jax.Array, num_parts: int) -> list[jax.Array]:
        """Backward GRU over ``(B, K, ...)`` -> ``num_parts`` arrays ``(B, *state_shape)``.

        ``model.state_from_gru``: the GRU's hidden state is the core's state itself (hidden
        size ``num_parts * prod(state_shape)``, as the reference); otherwise a GRU of
        ``gru_units`` and one linear layer to the state.
        """
        size = math.prod(self.state_shape)
        units = num_parts * size if self._get("state_from_gru") else self._get("gru_units")
        cell = nn.GRUCell(units, name="inference_gru")
        gru = nn.RNN(cell, reverse=True, return_carry=True, unroll=self._get("unroll"))
        flat_frames = encoded.reshape(*encoded.shape[:2], -1)
        final, _ = gru(flat_frames)  # final carry: after reading frame K-1, ..., 1, 0
        if not self._get("state_from_gru"):
            final = nn.Dense(num_parts * size, name="initial_state")(final)
        return [part.reshape(len(final), *self.state_shape)
                for part in jnp.split(final, num_parts, axis=-1)]

    def _oscillator(self):
        """The core's parameter pytree and coupling (LocoRNN: lattice conv; coRNN: dense)."""
        core, coupling = oscillator_core(self.config)
        return core(), coupling

    def _oscillator_rollout(self, z0: jax.Array, v0: jax.Array,
                            steps: int) -> tuple[jax.Array, jax.Array]:
        """Open loop: ``(zs, readouts)``, time-major with the initial state first; the decoder
        reads ``readouts`` (``z``, or ``[z, v]`` with ``model.decode_velocity``)."""
        params, coupling = self._oscillator()
        drives = jnp.zeros((steps, *z0.shape), z0.dtype)  # open loop: no input
        zs, vs = dynamics.rollout(params, drives, dynamics.State(z0, v0), coupling,
                                  return_velocity=True, unroll=self._get("unroll"))
        zs, vs = jnp.concatenate([z0[None], zs], axis=0), jnp.concatenate([v0[None], vs], axis=0)
        return zs, jnp.concatenate([zs, vs], axis=-1) if self._get("decode_velocity") else zs

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

    def _hgn_rollout(self, q0: jax.Array, p0: jax.Array, steps: int) -> jax.Array:
        """Positions ``q`` at the frame times, ``(steps + 1, B, hgn_units)``: leapfrog under
        the learned ``H = T(p) + V(q)`` from the inferred ``(q0, p0)``."""
        energy = HamiltonianMLP(self._get("hgn_units"), self._get("hgn_width"),
                                self._get("hgn_depth"), name="core")
        hamiltonian = functools.partial(mlp_hamiltonian, energy(),
                                        activation=self._get("hgn_activation"),
                                        kinetic=self._get("hgn_kinetic"))
        step = self._get("hgn_dt")
        substeps = hgn_substeps(self._get("hgn_frame_dt"), step)
        qs, _ = leapfrog_trajectory(hamiltonian, q0, p0, step, substeps, steps,
                                    unroll=self._get("unroll"))
        return qs

    # ----------------------------------------------------------------------------------------
    # Autoregressive: every step is driven by a frame, the true one or the model's own picture

    def _recurrent_cell(self, initial: tuple[jax.Array, ...], first_input: jax.Array):
        """``(transition, readout, record)`` of the core, as pure functions of the carry.

        ``transition(carry, encoded) -> carry`` is one step driven by one encoded frame:
        the oscillator step of :func:`locornn.dynamics.step` with drive ``K_x * encoded``, or an
        LSTM step with the encoded frame as input. ``readout(carry)`` is what the decoder reads
        (``z``, ``[z, v]`` with ``model.decode_velocity``, or the LSTM's ``h``);
        ``record(carry)`` the state returned as ``"z"``.
        """
        if self.kind in ("locornn", "cornn"):
            params, coupling = self._oscillator()
            kx_shape = params.position_kernel.shape
            drive_kernel = self.param("drive_kernel",
                                      coupling_initializer(self._get("coupling_init")), kx_shape)

            def transition(carry, encoded):
                drive = coupling(drive_kernel, encoded)
                return tuple(dynamics.step(params, dynamics.State(*carry), drive, coupling))

            def readout(carry):
                if self._get("decode_velocity"):
                    return jnp.concatenate(carry, axis=-1)
                return carry[0]

            return transition, readout, lambda carry: carry[0]

        cell = nn.LSTMCell(self._get("lstm_units"), name="core")
        cell(initial, first_input)  # create the parameters outside the scan
        cell_def, cell_vars = cell.clone(parent=None), cell.variables

        def transition(carry, encoded):
            carry, _ = cell_def.apply(cell_vars, carry, encoded)
            return carry

        return transition, (lambda carry: carry[1]), (lambda carry: carry[1])

    def _autoregressive_rollout(self, encoder, decoder, encoded, initial, total: int,
                                feedback_from):
        r"""States and pictures of frames ``0 .. total - 1`` (time-major).

        ``state[0]`` is the inferred initial state and ``state[j + 1] = step(state[j], e_j)``,
        where the input of step ``j`` is

        .. math:: e_j = f(x_j) \text{ if } j < \text{feedback\_from}, \quad
                  e_j = f(g(\text{state}[j])) \text{ otherwise}

        (teacher forcing, then closed loop: the decoder's picture of frame ``j`` is encoded and
        drives the next step). ``feedback_from`` may be a traced integer (a curriculum).
        """
        available = encoded.shape[1]
        transition, readout, record = self._recurrent_cell(initial, encoded[:, 0])
        steps = total - 1
        inputs = jnp.swapaxes(encoded, 0, 1)[:steps]  # (steps, B, ...) true encodings
        if inputs.shape[0] < steps:  # beyond the given frames: only fed-back pictures
            pad = jnp.zeros((steps - inputs.shape[0], *inputs.shape[1:]), inputs.dtype)
            inputs = jnp.concatenate([inputs, pad], axis=0)
        teacher_forced = isinstance(feedback_from, int) and feedback_from >= steps
        unroll = self._get("unroll")
        if teacher_forced:  # no picture is fed back: decode all states after the scan
            def body(carry, true_input):
                carry = transition(carry, true_input)
                return carry, (record(carry), readout(carry))

            _, (recorded, readouts) = jax.lax.scan(body, initial, inputs, unroll=unroll)
            first = [record(initial)[None], readout(initial)[None]]
            recorded = jnp.concatenate([first[0], recorded], axis=0)
            readouts = jnp.concatenate([first[1], readouts], axis=0)
            pictures = time_distributed(decoder, jnp.swapaxes(readouts, 0, 1))
            return recorded, jnp.swapaxes(pictures, 0, 1)

        picture0 = decoder(readout(initial))  # creates the decoder's parameters outside the scan
        encoder_def, encoder_vars = encoder.clone(parent=None), encoder.variables
        decoder_def, decoder_vars = decoder.clone(parent=None), decoder.variables
        use_true = jnp.arange(steps) < jnp.minimum(feedback_from, available)

        def body(carry, xs):
            state, picture = carry
            true_input, true_now = xs
            fed_back = encoder_def.apply(encoder_vars, picture)
            state = transition(state, jnp.where(true_now, true_input, fed_back))
            picture = decoder_def.apply(decoder_vars, readout(state))
            return (state, picture), (record(state), picture)

        _, (recorded, pictures) = jax.lax.scan(body, (initial, picture0), (inputs, use_true),
                                               unroll=unroll)
        recorded = jnp.concatenate([record(initial)[None], recorded], axis=0)
        return recorded, jnp.concatenate([picture0[None], pictures], axis=0)

    @nn.compact
    def __call__(self, frames: jax.Array, num_steps: int | None = None,
                 feedback_from=None) -> dict[str, jax.Array]:
        """Infer the initial state from ``frames[:, :K]`` and roll the core out.

        Args:
          frames: ``(B, T, h, w, c)`` with ``T >= K`` (``K = model.context_frames``). Open
            loop reads only ``frames[:, :K]``; autoregressive also drives step ``j`` with frame
            ``j`` for ``j < feedback_from``.
          num_steps: frames to forecast after the conditioning window (a static Python int,
            >= 0); default ``T - K``.
          feedback_from: autoregressive only: the first step driven by the model's own
            picture instead of the true frame (an int, possibly traced; clipped to ``T``).
            Default ``T``: teacher forcing over every given frame, closed loop after them. So
            ``model(frames[:, :K], num_steps=n)`` is the reference's forecast (teacher forcing
            over the ``K`` conditioning frames, then ``n`` closed-loop steps).

        Returns:
          ``{"prediction": (B, K + num_steps, h, w, c), "z": (B, K + num_steps, *state_shape),
          "initial_state": tuple}`` where ``prediction[:, j]`` is the model's picture of
          ``frames[:, j]`` (for open loop: reconstruction for ``j < K``, forecast for
          ``j >= K``; for autoregressive: the one-step prediction from frames ``< j``, or the
          closed-loop forecast), ``z`` is the recorded state (position ``z``; ``h`` for the
          LSTM) with ``z[:, 0]`` the inferred one, and ``initial_state`` is what the GRU
          inferred, each ``(B, *state_shape)``: ``(z0, v0)`` (oscillators), ``(c0, h0)``
          (LSTM), ``(z0,)`` (ODE) or ``(q0, p0)`` (HGN). uint8 frames are scaled by ``1/255`` first.
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
        total = k + num_steps  # frames pictured: 0 .. total - 1

        # Open loop reads the conditioning window only; autoregressive every frame it may use.
        read = frames[:, :max(k, min(total - 1, frames.shape[1]))] if self.autoregressive \
            else frames[:, :k]
        encoder, decoder = self._codecs()
        encoded = time_distributed(encoder, unit_float(read))
        context = encoded[:, :k]
        num_parts = 1 if self.kind == "node" else 2
        # (z0, v0) | (c0, h0) | (z0,) | (q0, p0)
        initial = tuple(self._infer(context, num_parts))

        if self.autoregressive:
            if feedback_from is None:
                feedback_from = frames.shape[1]
            states, pictures = self._autoregressive_rollout(encoder, decoder, encoded, initial,
                                                            total, feedback_from)
            return {"prediction": jnp.swapaxes(pictures, 0, 1),
                    "z": jnp.swapaxes(states, 0, 1), "initial_state": initial}
        if feedback_from is not None:
            raise ValueError("feedback_from is for model.rollout = 'autoregressive'")

        steps = total - 1  # open-loop steps after the initial state (frame 0)
        if self.kind in ("locornn", "cornn"):
            states, readouts = self._oscillator_rollout(*initial, steps)
        elif self.kind == "lstm":
            states = readouts = self._lstm_rollout(*initial, steps)
        elif self.kind == "hgn":  # the decoder reads q alone, as HGN's
            states = readouts = self._hgn_rollout(*initial, steps)
        else:
            states = readouts = self._node_rollout(*initial, steps)
        pictures = time_distributed(decoder, jnp.swapaxes(readouts, 0, 1))
        return {"prediction": pictures, "z": jnp.swapaxes(states, 0, 1),
                "initial_state": initial}


def oscillator_core(model_config, name: str = "core") -> tuple[OscillatorCore, object]:
    """The :class:`OscillatorCore` and coupling a model section describes (LocoRNN: lattice
    convolution; coRNN: dense). Built inside a module, the core is that module's submodule."""
    if _field(model_config, "kind") == "locornn":
        k, c = _field(model_config, "kernel_size"), _field(model_config, "channels")
        lattice = _field(model_config, "lattice")
        kernel_shape = (k, k, c, c)
        bias_shape = (lattice, lattice, c) if _field(model_config, "site_bias") else (c,)
        coupling = dynamics.LocalCoupling(_field(model_config, "padding"))
    else:
        n = _field(model_config, "hidden_units")
        kernel_shape, bias_shape = (n, n), (n,)
        coupling = dynamics.DenseCoupling()
    fields = ("tie_kernels", "dt", "gamma", "alpha", "learn_constants", "coupling_init",
              "alpha_max", "velocity_kernel_sum")
    core = OscillatorCore(kernel_shape, bias_shape, *(_field(model_config, f) for f in fields),
                          name=name)
    return core, coupling


def is_oscillator(model_config) -> bool:
    """Whether the core is an oscillator lattice (LocoRNN, coRNN), with ``dt``, ``gamma``,
    ``alpha`` and a free oscillation; the LSTM, the ODE and HGN are not."""
    return _field(model_config, "kind") in ("locornn", "cornn")


def oscillator_parameters(params, model_config) -> tuple[dynamics.OscillatorParams, object]:
    """The effective :class:`~locornn.dynamics.OscillatorParams` a trained oscillator core's
    rollout sees (constraints and caps applied, by the same :class:`OscillatorCore` applied to
    ``params["core"]``) and its coupling."""
    if not is_oscillator(model_config):
        raise ValueError(f"a {_field(model_config, 'kind')!r} core has no oscillator parameters")
    core, coupling = oscillator_core(model_config, name=None)
    return core.apply({"params": params["core"]}), coupling


def learned_constants(params, model_config) -> dict[str, float]:
    """The oscillator core's learned ``dt``, ``gamma``, ``alpha`` (after the cap) and the sums
    of its effective position and velocity kernels (``{}`` for the LSTM, the ODE and HGN): the
    parameters the rollout sees (:func:`oscillator_parameters`).

    A kernel's sum is its response to a uniform field: ``sum(K_v) < 0`` damps the velocity
    through the tanh on top of ``alpha`` (for small arguments).
    """
    if not is_oscillator(model_config):
        return {}
    effective, _ = oscillator_parameters(params, model_config)
    position = effective.position_kernel
    velocity = position if effective.velocity_kernel is None else effective.velocity_kernel
    taps = tuple(range(velocity.ndim - 1))
    # mean over output units of each unit's summed incoming coupling
    total = lambda kernel: float(jnp.mean(jnp.sum(kernel, axis=taps)))  # noqa: E731
    return {"dt": float(effective.dt), "gamma": float(effective.gamma),
            "alpha": float(effective.alpha), "position_kernel_sum": total(position),
            "velocity_kernel_sum": total(velocity)}


def encode_frames(model: ForecastModel, params, frames: jax.Array) -> jax.Array:
    """What a trained model's encoder makes of every frame: ``(B, T, h, w, c)`` (uint8 or
    floats in [0, 1]) -> ``(B, T, *model.encoded_shape)``, from ``params["encoder"]``."""
    encoder, _ = build_codecs(model.config, model.image_shape, model.encoded_shape)
    frames = unit_float(frames)
    flat = frames.reshape(-1, *frames.shape[2:])
    encoded = encoder.apply({"params": params["encoder"]}, flat)
    return encoded.reshape(*frames.shape[:2], *encoded.shape[1:])


def build_forecast_model(model_config: ml_collections.ConfigDict,
                         image_shape: tuple[int, int, int]) -> ForecastModel:
    """The forecasting model a config's ``model`` section names (any of :data:`KINDS`)."""
    config = ml_collections.FrozenConfigDict(model_config)
    check_config(config)
    return ForecastModel(config, tuple(image_shape))


__all__ = ["ForecastModel", "build_forecast_model", "build_codecs", "encode_frames",
           "is_oscillator", "oscillator_parameters", "learned_constants", "check_config",
           "coupling_initializer", "DEFAULTS", "KINDS", "ROLLOUTS", "VectorField",
           "mlp_vector_field", "integrate_node", "node_substeps", "hgn_substeps"]
