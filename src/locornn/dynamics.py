r"""The oscillator step of LocoRNN and coRNN as pure JAX functions (no Flax, no data, no training).

A hidden state is a pair ``(z, v)`` -- position and velocity of one damped, driven oscillator per
unit. For LocoRNN the units form a lattice, arrays of shape ``(batch, H, W, C)`` (NHWC); for the
globally coupled coRNN they form a flat vector, ``(batch, N)``. One step of paper eq. 2 is

.. math::

    v_{t+1} &= v_t + \Delta t\,\big(\tanh(K_z * z_t + K_v * v_t + d_{t+1} + b)
                 - \gamma z_t - \alpha v_t\big) \\
    z_{t+1} &= z_t + \Delta t\, v_{t+1}

where ``*`` is the coupling (a 2-D convolution over the lattice, or a dense matrix product) and
``d_{t+1} = K_x * f(x_{t+1})`` is the *drive*, computed by the caller for all time steps before the
recurrence (it does not depend on the state, so it is hoisted out of :func:`rollout`'s scan).
Velocity is updated first and the position uses the new velocity (symplectic Euler), as in the
paper and the reference code.

Everything here works on a :class:`OscillatorParams` pytree the caller builds, so the step can be
dropped into any JAX model::

    params = OscillatorParams(position_kernel=kz, velocity_kernel=kv, bias=b,
                              dt=0.125, gamma=1.0, alpha=0.5)
    zs = rollout(params, drives, coupling=LocalCoupling())      # drives: (T, B, H, W, C)

Performance note (jax-ml/jax#12868): on XLA:CPU the transpose rule of ``lax.conv`` inside
``lax.scan`` is ~25x slower than a forward convolution. :func:`lattice_conv` therefore has a
``custom_vjp`` whose input gradient is itself a forward convolution (with the flipped, transposed
kernel) and whose kernel gradient is a forward convolution of the input with the output gradient
(batch axis as channels). Single-channel lattices skip the convolution primitive altogether and
use ``k*k`` shifted multiply-adds, which XLA:CPU fuses. ``make bench`` prints the timings.

Length: one module because the step, the couplings, the rollouts and the convolution's custom VJP
share one set of shape conventions and helpers, read together against the paper's eq. 2.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array
Padding = Literal["circular", "zero"]
PADDINGS = ("circular", "zero")


# --------------------------------------------------------------------------------------------
# Parameters


class OscillatorParams(NamedTuple):
    """Parameters of one oscillator step (a pytree).

    Attributes:
      position_kernel: coupling of the positions, ``K_z``. Local: ``(k, k, C, C)`` (HWIO);
        dense: ``(N, N)``.
      velocity_kernel: coupling of the velocities, ``K_v``, same shape; ``None`` ties it to
        ``position_kernel`` (the paper's eq. 2 with one kernel: ``K * (z + v)``).
      bias: ``b``, broadcast against the state: ``(C,)``, ``(H, W, C)`` or ``(N,)``.
      dt: time step (scalar, > 0).
      gamma: stiffness, the restoring force ``-gamma z`` (scalar, >= 0).
      alpha: damping, ``-alpha v`` (scalar, >= 0).
    """

    position_kernel: Array
    velocity_kernel: Array | None
    bias: Array
    dt: Array | float
    gamma: Array | float
    alpha: Array | float


def constrain(dt_raw: Array, gamma_raw: Array, alpha_raw: Array) -> tuple[Array, Array, Array]:
    """Map unconstrained learnable values to physical ones, as the reference code does.

    ``dt = sigmoid(dt_raw)`` keeps the step in (0, 1) (raw init -1.95 gives dt ~ 0.125);
    ``gamma = relu(gamma_raw)`` and ``alpha = relu(alpha_raw)`` keep stiffness and damping >= 0.
    """
    return jax.nn.sigmoid(dt_raw), jax.nn.relu(gamma_raw), jax.nn.relu(alpha_raw)


# --------------------------------------------------------------------------------------------
# Local coupling: a 2-D convolution over the lattice


def _pad_lattice(x: Array, radius: int, padding: Padding) -> Array:
    """Pad the two lattice axes of ``x`` (B, H, W, C) by ``radius`` on each side."""
    widths = ((0, 0), (radius, radius), (radius, radius), (0, 0))
    mode = "wrap" if padding == "circular" else "constant"
    return jnp.pad(x, widths, mode=mode)


def _is_scalar_coupling(kernel: Array) -> bool:
    # One channel in and out: the convolution is k*k multiply-adds of shifted lattices, which
    # XLA:CPU fuses and runs ~10x faster than its generic convolution (72x72x1, batch 16).
    return kernel.shape[2] == 1 and kernel.shape[3] == 1


def _shifted(xpad: Array, a: int, b: int, height: int, width: int) -> Array:
    """The window ``xpad[:, a:a+height, b:b+width]`` (static offsets)."""
    return xpad[:, a:a + height, b:b + width]


def _correlate_valid(xpad: Array, kernel: Array) -> Array:
    """Cross-correlation without padding: (B, H+k-1, W+k-1, Cin) x (k, k, Cin, Cout)."""
    k = kernel.shape[0]
    height, width = xpad.shape[1] - k + 1, xpad.shape[2] - k + 1
    if _is_scalar_coupling(kernel):
        return sum(jnp.einsum("nhwi,io->nhwo", _shifted(xpad, a, b, height, width), kernel[a, b])
                   for a in range(k) for b in range(k))
    return lax.conv_general_dilated(
        xpad, kernel, window_strides=(1, 1), padding="VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )


def _kernel_gradient(xpad: Array, dy: Array) -> Array:
    """``dK[a, b, i, o] = sum_{n,h,w} xpad[n, h+a, w+b, i] dy[n, h, w, o]``.

    Several channels: a forward convolution in which the batch axis plays the role of the
    channels (the padded input with axes (i, h, w, n) correlated with ``dy`` as a kernel
    (h, w, n, o)). One channel in and out: ``k*k`` dot products of a shifted window with ``dy``,
    one ``lax.map`` iteration per offset -- the convolution over the batch measured ~10x slower
    on XLA:CPU for many frames (186 vs 9-29 ms at 2304 x 36 x 36), and ``k*k`` static windows
    fuse into one slow loop and compile for minutes at large ``k``.
    """
    k = xpad.shape[1] - dy.shape[1] + 1
    if xpad.shape[-1] == 1 and dy.shape[-1] == 1:
        planes, targets = xpad[..., 0], dy[..., 0]
        offsets = jnp.array([(a, b) for a in range(k) for b in range(k)])

        def window_product(offset):
            window = lax.dynamic_slice(planes, (0, offset[0], offset[1]), targets.shape)
            return jnp.vdot(window, targets)

        return lax.map(window_product, offsets).reshape(k, k, 1, 1)
    grad = lax.conv_general_dilated(
        xpad.transpose(3, 1, 2, 0), dy.transpose(1, 2, 0, 3), window_strides=(1, 1),
        padding="VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    return grad.transpose(1, 2, 0, 3)


def _kernel_gradient_torus(states: Array, dy: Array, k: int, initial: Array | None = None
                           ) -> Array:
    r"""``_kernel_gradient`` for circular padding and one channel, through the Fourier transform.

    On a torus the kernel gradient is the circular cross-correlation of the state with the
    output gradient, summed over frames, read at the ``k x k`` lags around zero:

    .. math::
        dK[a, b] = \sum_{n,h,w} x_n[h + a - r, w + b - r]\, \delta y_n[h, w]
                 = c[a - r, b - r], \qquad
        c = \mathcal{F}^{-1}\Big(\sum_n \hat x_n\, \overline{\hat{\delta y}_n}\Big)

    (indices mod ``H``, ``W``). Two real FFTs per frame and one product summed over frames,
    instead of ``k*k`` passes over shifted windows of a padded copy (XLA:CPU reads shifted
    windows slowly): both kernels of the rotating-MNIST batch (2304 frames of 36x36) in 11 ms
    instead of 28-35 ms on 2 cores.

    Args:
      states: ``(T, ..., H, W)``.
      dy: the same shape.
      k: the (odd) kernel size, at most ``min(H, W)``.
      initial: ``(..., H, W)`` or ``None``. Given, ``dy[t]`` pairs with the state one step
        earlier: ``initial`` for ``t = 0``, ``states[t - 1]`` after (a trajectory and the
        states *before* each step, without building the shifted copy).

    Returns:
      ``(k, k)``.
    """
    height, width = states.shape[-2:]
    # XLA's FFT takes float32 or float64 only: half-precision states (bfloat16 on a TPU) are
    # transformed in float32, and the caller casts the (k, k) result back.
    precision = jnp.promote_types(states.dtype, jnp.float32)

    def spectrum(x):
        return jnp.fft.rfft2(x.astype(precision), axes=(-2, -1))

    x_hat, dy_hat = spectrum(states), jnp.conj(spectrum(dy))
    if initial is None:
        cross = jnp.sum(x_hat * dy_hat, axis=tuple(range(states.ndim - 2)))
    else:  # slices of the spectra fuse into the product; no shifted copy of the trajectory
        leading = tuple(range(states.ndim - 3))
        cross = (jnp.sum(x_hat[:-1] * dy_hat[1:], axis=(0, *(i + 1 for i in leading)))
                 + jnp.sum(spectrum(initial) * dy_hat[0], axis=leading))
    correlation = jnp.fft.irfft2(cross, s=(height, width))  # c[d] at index d mod (H, W)
    lags = jnp.arange(k) - k // 2
    return correlation[lags % height][:, lags % width]


def _lattice_conv_forward(x: Array, kernel: Array, padding: Padding) -> Array:
    radius = kernel.shape[0] // 2
    return _correlate_valid(_pad_lattice(x, radius, padding), kernel)


@jax.custom_vjp
def _lattice_conv_circular(x, kernel):
    return _lattice_conv_forward(x, kernel, "circular")


@jax.custom_vjp
def _lattice_conv_zero(x, kernel):
    return _lattice_conv_forward(x, kernel, "zero")


def _adjoint_kernel(kernel: Array) -> Array:
    """The kernel of the adjoint convolution: flipped in space, in/out channels swapped."""
    return jnp.flip(kernel, axis=(0, 1)).swapaxes(2, 3)


def _make_vjp(padding: Padding):
    def fwd(x, kernel):
        return _lattice_conv_forward(x, kernel, padding), (x, kernel)

    def bwd(residuals, dy):
        x, kernel = residuals
        # Input gradient. y[h] = sum_a x[h + a - r] K[a]  =>  dx[j] = sum_a dy[j + a - r] K[k-1-a]:
        # the same padded cross-correlation, with the kernel flipped in space and its in/out
        # channels swapped. (Exact for circular padding, and for zero padding with odd k.)
        dx = _lattice_conv_forward(dy, _adjoint_kernel(kernel), padding)
        xpad = _pad_lattice(x, kernel.shape[0] // 2, padding)
        dkernel = _kernel_gradient(xpad, dy).astype(kernel.dtype)
        return dx, dkernel

    return fwd, bwd


_lattice_conv_circular.defvjp(*_make_vjp("circular"))
_lattice_conv_zero.defvjp(*_make_vjp("zero"))


def lattice_conv(x: Array, kernel: Array, padding: Padding = "circular", *,
                 custom_gradient: bool = True) -> Array:
    r"""Convolve a lattice state with a coupling kernel, keeping the lattice size.

    ``y[n, h, w, o] = sum_{a, b, i} x[n, h + a - r, w + b - r, i] * kernel[a, b, i, o]`` with
    ``r = k // 2`` (a cross-correlation, as ``lax.conv`` and every deep-learning library define
    "convolution"); indices outside the lattice wrap around (``"circular"``, a torus: no
    boundary) or read zero (``"zero"``).

    Args:
      x: ``(B, H, W, Cin)``.
      kernel: ``(k, k, Cin, Cout)`` with ``k`` odd.
      padding: ``"circular"`` (default, as the reference) or ``"zero"``.
      custom_gradient: use the custom VJP below (default); ``False``: the same convolution under
        plain autodiff, which forward mode (``jax.jvp``) can pass through.

    Returns:
      ``(B, H, W, Cout)``. Differentiable with a custom VJP made of forward convolutions and
      dot products (see the module docstring for why).
    """
    k = kernel.shape[0]
    if kernel.ndim != 4 or kernel.shape[1] != k or k % 2 != 1:
        raise ValueError(f"coupling kernel must have shape (k, k, Cin, Cout) with odd k, "
                         f"got {kernel.shape}")
    if x.ndim != 4 or x.shape[-1] != kernel.shape[2]:
        raise ValueError(f"lattice state {x.shape} does not match kernel {kernel.shape}: "
                         f"expected (B, H, W, {kernel.shape[2]})")
    if padding in PADDINGS and not custom_gradient:
        return _lattice_conv_forward(x, kernel, padding)
    if padding == "circular":
        return _lattice_conv_circular(x, kernel)
    if padding == "zero":
        return _lattice_conv_zero(x, kernel)
    raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")


# --------------------------------------------------------------------------------------------
# Couplings: one interface, local or dense


@dataclasses.dataclass(frozen=True)
class LocalCoupling:
    """LocoRNN: each unit feels its lattice neighbours through a ``k x k`` convolution.

    State ``(B, H, W, C)``, kernel ``(k, k, C, C)``.

    ``custom_gradient=False`` computes the same convolution without :func:`lattice_conv`'s
    custom VJP, so that forward-mode autodiff (``jax.jvp``, ``jax.jacfwd``) can pass through it
    (an impulse response, :mod:`locornn.analysis.lattice.reach`); with ``rollout(...,
    hoist_gradients=False)``. Training keeps the default: reverse mode through the plain
    convolution is the slow path on XLA:CPU.
    """

    padding: Padding = "circular"
    custom_gradient: bool = True

    def __post_init__(self):
        if self.padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {self.padding!r}")

    def __call__(self, kernel: Array, state: Array) -> Array:
        return lattice_conv(state, kernel, self.padding, custom_gradient=self.custom_gradient)

    def transpose(self, kernel: Array, cotangent: Array) -> Array:
        """``K^T * g``, the adjoint of the coupling: the flipped kernel, in/out swapped."""
        return lattice_conv(cotangent, _adjoint_kernel(kernel), self.padding)

    def kernel_gradient(self, kernel: Array, states: Array, cotangents: Array,
                        initial: Array | None = None) -> Array:
        """``dL/dK`` of ``y_t = K * x_t`` summed over all steps: ``(T, B, H, W, C)`` twice.

        Called once after the recurrence (see :func:`rollout`). With ``initial`` (``(B, H, W,
        C)``), ``x_t`` is the state one step earlier: ``initial`` for ``t = 0`` and
        ``states[t - 1]`` after. One channel with circular padding: a cross-correlation through
        the Fourier transform (:func:`_kernel_gradient_torus`). One channel, zero padding:
        ``k*k`` window dot products over all ``T*B`` frames at once (:func:`_kernel_gradient`).
        Several channels: one convolution per step (``lax.map`` over time; one convolution over
        all ``T*B`` at once measured ~5x slower on XLA:CPU, and the Fourier form 2x slower:
        its per-frequency 16 x 16 products run slowly).
        """
        k, radius = kernel.shape[0], kernel.shape[0] // 2
        if (_is_scalar_coupling(kernel) and self.padding == "circular"
                and k <= min(states.shape[-3:-1])):
            first = None if initial is None else initial[..., 0]
            return _kernel_gradient_torus(states[..., 0], cotangents[..., 0], k, first).reshape(
                kernel.shape).astype(kernel.dtype)
        if initial is not None:
            states = _shift_in(initial, states)
        if _is_scalar_coupling(kernel):
            frames = states.reshape(-1, *states.shape[-3:])
            xpad = _pad_lattice(frames, radius, self.padding)
            dy = cotangents.reshape(frames.shape)
            return _kernel_gradient(xpad, dy).astype(kernel.dtype)

        def one_step(pair):
            x, dy = pair  # (B, H, W, C) each
            return _kernel_gradient(_pad_lattice(x, radius, self.padding), dy)

        return lax.map(one_step, (states, cotangents)).sum(0).astype(kernel.dtype)


def _shift_in(initial: Array, states: Array) -> Array:
    """The states before each step, ``[initial, states[0], ..., states[T-2]]`` (a copy)."""
    return jnp.concatenate([initial[None], states[:-1]])


@dataclasses.dataclass(frozen=True)
class DenseCoupling:
    """coRNN (Rusch & Mishra 2021): every unit feels every other, ``y = x @ W``.

    State ``(B, N)``, kernel ``(N, N)`` (``W[i, j]`` couples unit ``i`` into unit ``j``).
    """

    def __call__(self, kernel: Array, state: Array) -> Array:
        if state.shape[-1] != kernel.shape[0]:
            raise ValueError(f"dense state {state.shape} does not match kernel {kernel.shape}")
        return state @ kernel

    def transpose(self, kernel: Array, cotangent: Array) -> Array:
        """``g W^T``, the adjoint of the coupling."""
        return cotangent @ kernel.T

    def kernel_gradient(self, kernel: Array, states: Array, cotangents: Array,
                        initial: Array | None = None) -> Array:
        """``dL/dW = sum_t x_t^T g_t``: one matrix product over every step and batch row.

        With ``initial``, ``x_t`` is the state one step earlier (as for
        :meth:`LocalCoupling.kernel_gradient`).
        """
        if initial is not None:
            states = _shift_in(initial, states)
        units = kernel.shape[0]
        return (states.reshape(-1, units).T @ cotangents.reshape(-1, units)).astype(kernel.dtype)


Coupling = Callable[[Array, Array], Array]


# --------------------------------------------------------------------------------------------
# The step and the rollout


class State(NamedTuple):
    """Oscillator state: position ``z`` and velocity ``v``, same shape."""

    z: Array
    v: Array


def step(params: OscillatorParams, state: State, drive: Array,
         coupling: Coupling = LocalCoupling()) -> State:
    r"""One oscillator step (paper eq. 2, symplectic Euler).

    .. math::
        v' = v + \Delta t\,(\tanh(K_z * z + K_v * v + d + b) - \gamma z - \alpha v), \qquad
        z' = z + \Delta t\, v'

    Args:
      params: the coupling kernels, bias and physical constants.
      state: ``(z, v)``, each ``(B, H, W, C)`` (local) or ``(B, N)`` (dense).
      drive: the input term ``d = K_x * f(x)`` for this step, same shape as ``z``.
      coupling: :class:`LocalCoupling` or :class:`DenseCoupling` (any ``(kernel, x) -> y``).

    Returns:
      the next :class:`State`.
    """
    return _step_and_saturation(params, state, drive, coupling)[0]


def _step_and_saturation(params, state, drive, coupling):
    """:func:`step` and its ``s = tanh(K_z * z + K_v * v + d + b)``."""
    z, v = state
    if params.velocity_kernel is None:  # tied: K * z + K * v == K * (z + v), one convolution
        coupled = coupling(params.position_kernel, z + v)
    else:  # (one coupling of the stacked [z, v] measured 3x slower on XLA:CPU)
        coupled = coupling(params.position_kernel, z) + coupling(params.velocity_kernel, v)
    saturation = jnp.tanh(coupled + drive + params.bias)
    v_next = v + params.dt * (saturation - params.gamma * z - params.alpha * v)
    z_next = z + params.dt * v_next
    return State(z_next, v_next), saturation


def _initial_state(drives: Array, initial: State | None) -> State:
    """``initial`` (default ``z = v = 0``), checked against the drives ``(T, *state_shape)``."""
    if initial is None:
        zeros = jnp.zeros(drives.shape[1:], drives.dtype)
        return State(zeros, zeros)
    if initial.z.shape != drives.shape[1:]:
        raise ValueError(f"initial state {initial.z.shape} does not match drives "
                         f"{drives.shape} (expected time-major (T, *state_shape))")
    return initial


def rollout(params: OscillatorParams, drives: Array, initial: State | None = None,
            coupling: Coupling = LocalCoupling(), *, return_velocity: bool = False,
            unroll: int = 1, hoist_gradients: bool = True) -> Array | tuple[Array, Array]:
    """Unroll :func:`step` over a precomputed drive sequence with ``lax.scan``.

    Args:
      params: as for :func:`step`.
      drives: time-major drive sequence ``(T, B, ...)``; ``drives[t]`` enters step ``t``. For an
        open-loop forecast pass zeros (``drives[t] = 0``).
      initial: state before the first step (default: ``z = v = 0``).
      coupling: as for :func:`step`.
      return_velocity: also return the velocity trajectory.
      unroll: passed to ``lax.scan`` (steps fused per loop iteration: more is faster for small
        states and slower to compile).
      hoist_gradients: with :class:`LocalCoupling` or :class:`DenseCoupling` (default), the
        backward pass is written by hand (:func:`_hoisted_backward`: eq. 2 run backwards in
        time) and the parameter gradients are sums over all steps computed after it. Same
        gradients as ``False`` (plain autodiff of the scan, also used for any other coupling),
        to float rounding; faster (``make bench``). It is a ``custom_vjp``: reverse mode (and
        reverse over reverse) only; for ``jax.jvp``/``jax.jacfwd`` pass ``False``.

    Returns:
      ``zs`` of shape ``(T, B, ...)`` where ``zs[t]`` is the position *after* step ``t``; with
      ``return_velocity``, the pair ``(zs, vs)``.
    """
    initial = _initial_state(drives, initial)
    if hoist_gradients and isinstance(coupling, (LocalCoupling, DenseCoupling)):
        params = jax.tree.map(jnp.asarray, params)
        zs, vs = _hoisted_rollout(coupling, unroll, params, drives, State(*initial))
    else:
        zs, vs = _scan(params, drives, initial, coupling, unroll)
    return (zs, vs) if return_velocity else zs


def rollout_reduce(params: OscillatorParams, drives, readout: Callable,
                   targets=None, initial: State | None = None,
                   coupling: Coupling = LocalCoupling(), *, block: int = 0,
                   encode: Callable | None = None):
    r"""``sum_t readout(z_t, targets[t])`` over a rollout, without keeping the trajectory.

    For long sequences. The readout (a decoder and a loss, or any scalar of ``z_t``) runs inside
    the scan, so no ``(T, B, ...)`` trajectory is built. With ``block = K`` the scan runs over
    ``T / K`` blocks of ``K`` steps, each under ``jax.checkpoint``: reverse mode keeps only the
    state at the start of each block and recomputes the block's steps when it gets there (one
    more forward pass in all), so the gradient's temporary memory grows like ``2 T / K + c K``
    states instead of ``c T``; with ``K ~ sqrt(T)`` it is sub-linear in ``T``
    (``benchmarks/bench_memory.py``). ``block = 0``: one scan, autodiff keeps every step.

    Args:
      params, drives, initial, coupling: as for :func:`rollout` (gradients by autodiff of the
        scan, with :func:`lattice_conv`'s own VJP for the couplings).
      readout: ``(z_t (B, ...), target_t) -> scalar``; ``z_t`` is the position after step
        ``t``. It may close over parameters (a decoder's): their gradients flow.
      targets: a pytree of ``(T, ...)`` arrays, one slice per step (``None``: none).
      block: steps per rematerialised block; must divide ``T``.
      encode: optional ``(inputs, steps) -> (drives, aux)``. With it, ``drives`` holds each
        step's *input* instead (a pytree of ``(T, ...)`` arrays, e.g. the frames), and every
        block turns its ``K`` inputs into its ``(K, B, ...)`` drives inside the checkpoint
        (``steps``: the block's ``(K,)`` step indices, e.g. to draw noise per step): neither the
        drives nor the encoder's activations are kept for the gradient, only the inputs.
        ``aux`` is a pytree of ``(K, ...)`` arrays (e.g. a KL term per frame), returned stacked
        over all ``T`` steps. ``initial`` is then required.

    Returns:
      the scalar sum over steps; with ``encode``, ``(sum, aux)``.

    Raises:
      ValueError: ``block`` does not divide ``T``, ``initial`` does not match ``drives``, or
        ``encode`` without ``initial``.
    """
    steps = jax.tree.leaves(drives)[0].shape[0]
    if block < 0 or (block and steps % block):
        divisor = max(d for d in range(1, int(steps ** 0.5) + 1) if steps % d == 0)
        raise ValueError(f"block ({block}) must divide the number of steps ({steps}); e.g. "
                         f"block = {divisor}")
    if encode is None:
        initial = _initial_state(drives, initial)
    elif initial is None:
        raise ValueError("rollout_reduce with encode needs the initial state")

    def one_step(carry, inputs):
        state, total = carry
        drive, target = inputs
        state = step(params, state, drive, coupling)
        return (state, total + readout(state.z, target)), None

    def run(carry, inputs):
        drives, targets, indices = inputs
        aux = None
        if encode is not None:
            drives, aux = encode(drives, indices)
        return lax.scan(one_step, carry, (drives, targets))[0], aux

    carry = (State(*initial), jnp.zeros((), initial.z.dtype))
    inputs = (drives, targets, jnp.arange(steps))
    if not block:
        (_, total), aux = run(carry, inputs)
    else:
        blocked = jax.tree.map(lambda x: x.reshape(steps // block, block, *x.shape[1:]), inputs)
        (_, total), aux = lax.scan(jax.checkpoint(run), carry, blocked)
        aux = jax.tree.map(lambda x: x.reshape(steps, *x.shape[2:]), aux)
    return total if encode is None else (total, aux)


def _scan(params, drives, initial, coupling, unroll, *, saturations=False):
    """``(zs, vs)``, each ``(T, *state)``; with ``saturations`` also every step's ``tanh(u_t)``."""
    def body(state, drive):
        new, saturation = _step_and_saturation(params, state, drive, coupling)
        return new, (new.z, new.v, saturation) if saturations else (new.z, new.v)

    return lax.scan(body, initial, drives, unroll=unroll)[1]


# --------------------------------------------------------------------------------------------
# Parameter gradients outside the recurrence


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _hoisted_rollout(coupling, unroll, params, drives, initial):
    return _scan(params, drives, initial, coupling, unroll)


def _hoisted_forward(coupling, unroll, params, drives, initial):
    # Keeps the states (the outputs) and s_t = tanh(u_t): the adjoint needs tanh'(u_t) = 1 - s_t^2
    # and would otherwise recompute both couplings. ``symbolic_zeros``: the primals come wrapped.
    params, drives, initial = jax.tree.map(
        lambda primal: primal.value, (params, drives, initial),
        is_leaf=lambda leaf: isinstance(leaf, jax.custom_derivatives.CustomVJPPrimal))
    zs, vs, saturations = _scan(params, drives, initial, coupling, unroll, saturations=True)
    return (zs, vs), (params, initial, zs, vs, saturations)


def _hoisted_backward(coupling, unroll, residuals, cotangents):
    r"""Eq. 2 run backwards in time, then the parameter gradients as sums over all steps.

    With ``z_t, v_t`` the state *before* step ``t``, ``s_t = tanh(u_t)``, ``mu_t`` the total
    adjoint of ``z_{t+1}``, ``lambda_t = a^v_{t+1} + dt mu_t`` that of ``v_{t+1}``
    (``z_{t+1} = z_t + dt v_{t+1}``) and ``g_t = dt lambda_t (1 - s_t^2)`` that of ``u_t``:

    .. math::
        a^z_t = \mu_t - \Delta t\,\gamma\,\lambda_t + K_z^T * g_t, \qquad
        a^v_t = (1 - \Delta t\,\alpha)\,\lambda_t + K_v^T * g_t

    (plus the cotangents of the outputs ``z_t, v_t``), and

    .. math::
        \frac{dL}{dd_t} = g_t, \quad
        \frac{dL}{dK_z} = \sum_t z_t \star g_t, \quad \frac{dL}{dK_v} = \sum_t v_t \star g_t,
        \quad \frac{dL}{db} = \sum_t g_t, \\
        \frac{dL}{d\gamma} = -\Delta t \sum_t \langle \lambda_t, z_t \rangle, \quad
        \frac{dL}{d\alpha} = -\Delta t \sum_t \langle \lambda_t, v_t \rangle, \quad
        \frac{dL}{d\Delta t} = \sum_t \langle \lambda_t, s_t \rangle
            + \langle \mu_t, v_{t+1} \rangle - \gamma \langle \lambda_t, z_t \rangle
            - \alpha \langle \lambda_t, v_t \rangle

    (``\star`` the coupling's kernel gradient: a correlation over the lattice, or ``x^T g``).
    The scan emits only ``g_t``; the inner products are accumulated elementwise in the carry and
    reduced once at the end. The kernel gradients are one large contraction after the scan.
    XLA:CPU runs small reductions and kernel-gradient convolutions inside a loop body slowly
    (~1.5 ms each at 128 x 36 x 36, the bulk of a step under plain autodiff).

    Memory passes are what a single-channel lattice costs, so nothing is copied that need not
    be: the scan reads the output trajectory ``z_{t+1}, v_{t+1}`` as it is and pairs it with
    ``lambda_{t+1}`` (carried from the step before, in reverse time) instead of building the
    shifted "state before each step" arrays, and a cotangent that is a symbolic zero (usually
    the velocity's) is neither materialised nor read.
    """
    params, initial, zs, vs, saturations = residuals
    zs_bar, vs_bar = (None if isinstance(bar, jax.custom_derivatives.SymbolicZero) else bar
                      for bar in cotangents)
    dt, gamma, alpha = params.dt, params.gamma, params.alpha
    tied = params.velocity_kernel is None

    def body(carry, inputs):
        a_z, a_v, lam_next, sum_z, sum_v, sum_dt = carry
        z_bar, v_bar, saturation, z_next, v_next = inputs
        mu = a_z if z_bar is None else a_z + z_bar
        lam = (a_v if v_bar is None else a_v + v_bar) + dt * mu
        g = dt * lam * (1 - saturation * saturation)
        back_z = coupling.transpose(params.position_kernel, g)
        back_v = back_z if tied else coupling.transpose(params.velocity_kernel, g)
        carry = (mu - dt * gamma * lam + back_z, (1 - dt * alpha) * lam + back_v, lam,
                 # z_{t+1}, v_{t+1} are the states before step t + 1, whose lambda is lam_next
                 sum_z + lam_next * z_next, sum_v + lam_next * v_next,
                 sum_dt + lam * saturation + mu * v_next)
        return carry, g

    zero = jnp.zeros_like(initial.z)
    inputs = (zs_bar, vs_bar, saturations, zs, vs)
    (a_z, a_v, lam_first, sum_z, sum_v, sum_dt), gs = lax.scan(
        body, (zero,) * 6, inputs, reverse=True, unroll=unroll)
    sum_z = sum_z + lam_first * initial.z
    sum_v = sum_v + lam_first * initial.v
    sum_dt = sum_dt - gamma * sum_z - alpha * sum_v
    if tied:
        d_position = coupling.kernel_gradient(params.position_kernel, zs + vs, gs,
                                              initial=initial.z + initial.v)
        d_velocity = None
    else:
        d_position = coupling.kernel_gradient(params.position_kernel, zs, gs, initial=initial.z)
        d_velocity = coupling.kernel_gradient(params.velocity_kernel, vs, gs, initial=initial.v)
    d_params = OscillatorParams(
        d_position, d_velocity, _sum_to_shape(gs, params.bias.shape),
        _sum_to_shape(sum_dt, dt.shape), -_sum_to_shape(dt * sum_z, gamma.shape),
        -_sum_to_shape(dt * sum_v, alpha.shape))
    return d_params, gs, State(a_z, a_v)


_hoisted_rollout.defvjp(_hoisted_forward, _hoisted_backward, symbolic_zeros=True)


def _sum_to_shape(x: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``x`` over the axes that broadcasting ``shape`` against it added or stretched."""
    x = x.sum(axis=tuple(range(x.ndim - len(shape))))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    return x.sum(axis=stretched, keepdims=True) if stretched else x
