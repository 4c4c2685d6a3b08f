"""Specification of locornn.dynamics: the oscillator step of paper eq. 2, its couplings, its
rollout and the custom gradient of the lattice convolution.

Every reference below is written independently of the code under test: plain NumPy loops for the
step and the convolution, and ``lax.conv_general_dilated`` with JAX's own autodiff for the VJP.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax import lax
from jax.test_util import check_grads

from locornn import dynamics as dyn

TOL = dict(rtol=2e-5, atol=2e-5)  # float32 JAX against float64 NumPy
PADDINGS = ("circular", "zero")


# --------------------------------------------------------------------------------------------
# NumPy references


def np_lattice_conv(x, kernel, padding):
    """``y[n,h,w,o] = sum_{a,b,i} x[n, h+a-r, w+b-r, i] K[a,b,i,o]``, r = k // 2, in NumPy."""
    x, kernel = np.asarray(x, np.float64), np.asarray(kernel, np.float64)
    k = kernel.shape[0]
    r = k // 2
    _, height, width, _ = x.shape
    y = np.zeros(x.shape[:3] + (kernel.shape[3],))
    for a in range(k):
        for b in range(k):
            if padding == "circular":  # shifted[h] = x[(h + a - r) mod H]
                shifted = np.roll(x, shift=(r - a, r - b), axis=(1, 2))
            else:  # reads outside the lattice are zero
                shifted = np.zeros_like(x)
                for h in range(height):
                    for w in range(width):
                        hs, ws = h + a - r, w + b - r
                        if 0 <= hs < height and 0 <= ws < width:
                            shifted[:, h, w] = x[:, hs, ws]
            y += np.einsum("nhwi,io->nhwo", shifted, kernel[a, b])
    return y


def np_step(kz, kv, bias, dt, gamma, alpha, z, v, drive, couple):
    """Paper eq. 2, symplectic Euler (velocity first); ``kv=None`` means ``kv = kz``."""
    kv = kz if kv is None else kv
    force = np.tanh(couple(z, kz) + couple(v, kv) + drive + bias) - gamma * z - alpha * v
    v_next = v + dt * force
    return z + dt * v_next, v_next


# --------------------------------------------------------------------------------------------
# Helpers


def random_lattice_params(rng, k, channels, tied, scale=0.3, bias_shape=None):
    """Random OscillatorParams for a (k, k, C, C) local coupling, as float32 arrays."""
    shape = (k, k, channels, channels)
    f32 = functools.partial(np.asarray, dtype=np.float32)
    return dyn.OscillatorParams(
        position_kernel=f32(scale * rng.standard_normal(shape)),
        velocity_kernel=None if tied else f32(scale * rng.standard_normal(shape)),
        bias=f32(0.1 * rng.standard_normal(bias_shape or (channels,))),
        dt=f32(rng.uniform(0.05, 0.3)), gamma=f32(rng.uniform(0.5, 2.0)),
        alpha=f32(rng.uniform(0.1, 1.0)),
    )


def random_state(rng, shape):
    """A random ``State`` of float32 arrays."""
    return dyn.State(*(rng.standard_normal(shape, dtype=np.float32) for _ in range(2)))


def np_step_from_params(params, state, drive, couple):
    """:func:`np_step` on an :class:`OscillatorParams` (converted to float64)."""
    as64 = lambda a: None if a is None else np.asarray(a, np.float64)  # noqa: E731
    return np_step(*map(as64, params), *map(as64, state), as64(drive), couple)


# --------------------------------------------------------------------------------------------
# The step


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_step_matches_numpy_eq2(k, channels, padding, tied):
    """One local step equals paper eq. 2 written in NumPy (velocity first, then position with
    the new velocity), for tied and untied kernels, both paddings, C in {1, 3}, k in {3, 5}."""
    rng = np.random.default_rng([k, channels, len(padding), tied])
    params = random_lattice_params(rng, k, channels, tied)
    shape = (2, 7, 6, channels)  # non-square, so swapped lattice axes would show
    state, drive = random_state(rng, shape), rng.standard_normal(shape).astype(np.float32)

    got = dyn.step(params, state, drive, dyn.LocalCoupling(padding))
    want = np_step_from_params(params, state, drive,
                               lambda x, kern: np_lattice_conv(x, kern, padding))
    np.testing.assert_allclose(got.z, want[0], **TOL)
    np.testing.assert_allclose(got.v, want[1], **TOL)


def test_step_accepts_spatial_bias():
    """A bias of shape (H, W, C) (one per unit) broadcasts like the (C,) one."""
    rng = np.random.default_rng(1)
    params = random_lattice_params(rng, 3, 2, tied=False, bias_shape=(5, 4, 2))
    state, drive = random_state(rng, (3, 5, 4, 2)), np.zeros((3, 5, 4, 2), np.float32)
    got = dyn.step(params, state, drive)
    want = np_step_from_params(params, state, drive,
                               lambda x, kern: np_lattice_conv(x, kern, "circular"))
    np.testing.assert_allclose(got.z, want[0], **TOL)


@pytest.mark.parametrize("shift", [(1, 0), (2, -3), (5, 4)])
def test_circular_coupling_is_translation_equivariant(shift):
    """On the torus, rolling z, v and the drive over the lattice rolls the next state by the
    same amount (no unit is special)."""
    rng = np.random.default_rng(2)
    params = random_lattice_params(rng, 3, 2, tied=False)
    state, drive = random_state(rng, (2, 6, 7, 2)), rng.standard_normal((2, 6, 7, 2))
    roll = functools.partial(jnp.roll, shift=shift, axis=(1, 2))
    torus = dyn.LocalCoupling("circular")

    rolled_then_stepped = dyn.step(params, dyn.State(roll(state.z), roll(state.v)), roll(drive),
                                   torus)
    stepped_then_rolled = dyn.step(params, state, drive, torus)
    np.testing.assert_allclose(rolled_then_stepped.z, roll(stepped_then_rolled.z), **TOL)
    np.testing.assert_allclose(rolled_then_stepped.v, roll(stepped_then_rolled.v), **TOL)


def test_zero_padding_is_not_translation_equivariant():
    """With zero padding the border is felt. Rolling a state that touches every border by two
    rows changes the next state exactly in the rows whose neighbourhood crosses the border
    (before or after the roll: rows 0, 1, 2 and 5 of 6) and nowhere else."""
    rng = np.random.default_rng(3)
    params = random_lattice_params(rng, 3, 1, tied=False)
    state = random_state(rng, (1, 6, 6, 1))
    drive = np.zeros((1, 6, 6, 1), np.float32)
    coupling = dyn.LocalCoupling("zero")
    roll = functools.partial(jnp.roll, shift=2, axis=1)

    rolled_then_stepped = dyn.step(params, dyn.State(roll(state.z), roll(state.v)), drive,
                                   coupling)
    stepped_then_rolled = roll(dyn.step(params, state, drive, coupling).v)
    differs = ~np.isclose(rolled_then_stepped.v, stepped_then_rolled, **TOL)[0, :, :, 0]
    np.testing.assert_array_equal(differs.any(axis=1), [True, True, True, False, False, True])


def test_dense_coupling_step_matches_cornn_equations():
    """coRNN (Rusch & Mishra 2021): y'' = tanh(W y + W_hat y' + V u + b) - gamma y - eps y',
    discretised velocity first (y'_{n+1} = y'_n + dt (...); y_{n+1} = y_n + dt y'_{n+1}),
    equals :func:`rollout` with :class:`DenseCoupling` of kernels W^T, W_hat^T (state @ kernel)
    and drives V u, over a few steps."""
    rng = np.random.default_rng(4)
    batch, hidden, inputs, steps = 3, 5, 2, 4
    w, w_hat = rng.standard_normal((2, hidden, hidden)) * 0.5
    v_in, b = rng.standard_normal((hidden, inputs)), rng.standard_normal(hidden) * 0.1
    dt, gamma, eps = 0.1, 1.3, 0.7
    u = rng.standard_normal((steps, batch, inputs))

    y, y_dot = np.zeros((batch, hidden)), np.zeros((batch, hidden))
    want = []
    for t in range(steps):
        for n in range(batch):  # per sample, as matrix-vector products
            y_ddot = (np.tanh(w @ y[n] + w_hat @ y_dot[n] + v_in @ u[t, n] + b)
                      - gamma * y[n] - eps * y_dot[n])
            y_dot[n] = y_dot[n] + dt * y_ddot
            y[n] = y[n] + dt * y_dot[n]
        want.append(y.copy())

    f32 = functools.partial(jnp.asarray, dtype=jnp.float32)
    params = dyn.OscillatorParams(f32(w.T), f32(w_hat.T), f32(b), dt, gamma, eps)
    drives = f32(np.einsum("tni,hi->tnh", u, v_in))
    got = dyn.rollout(params, drives, coupling=dyn.DenseCoupling())
    np.testing.assert_allclose(got, np.stack(want), **TOL)


_jit_rollout = jax.jit(dyn.rollout)


@settings(max_examples=25, deadline=None)
@given(dt=st.floats(0.01, 0.5), gamma=st.floats(0.0, 3.0), alpha=st.floats(0.0, 2.0),
       seed=st.integers(0, 2**16))
def test_uncoupled_undriven_units_are_damped_linear_oscillators(dt, gamma, alpha, seed):
    """With zero kernels, zero bias and zero drive, tanh(0) = 0 and every unit is an independent
    damped harmonic oscillator: v' = v - dt (gamma z + alpha v), z' = z + dt v'."""
    rng = np.random.default_rng(seed)
    steps, shape = 5, (2, 4, 4, 1)
    z0, v0 = z, v = rng.standard_normal((2,) + shape)
    want = []
    for _ in range(steps):
        v = v - dt * (gamma * z + alpha * v)
        z = z + dt * v
        want.append(z)

    zeros = jnp.zeros((3, 3, 1, 1))
    params = dyn.OscillatorParams(zeros, zeros, jnp.zeros(1), jnp.float32(dt),
                                  jnp.float32(gamma), jnp.float32(alpha))
    initial = dyn.State(*(jnp.asarray(a, jnp.float32) for a in (z0, v0)))
    got = _jit_rollout(params, jnp.zeros((steps,) + shape), initial)
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------------
# The rollout


def python_loop_rollout(params, drives, initial, coupling):
    """The specification of :func:`rollout`: call :func:`step` once per drive, keep each state."""
    state, zs, vs = initial, [], []
    for drive in drives:
        state = dyn.step(params, state, drive, coupling)
        zs.append(state.z)
        vs.append(state.v)
    return np.stack(zs), np.stack(vs)


@pytest.mark.parametrize("nonzero_initial", [False, True], ids=["rest", "moving"])
@pytest.mark.parametrize("padding", PADDINGS)
def test_rollout_equals_python_loop_of_step(nonzero_initial, padding):
    """``rollout`` is a ``lax.scan`` of ``step``: zs[t] (and vs[t]) is the state after step t,
    starting from rest by default or from the given initial state; unroll=2 changes nothing."""
    rng = np.random.default_rng(5)
    params = random_lattice_params(rng, 3, 2, tied=False)
    shape, steps = (2, 5, 5, 2), 6
    drives = rng.standard_normal((steps,) + shape).astype(np.float32)
    coupling = dyn.LocalCoupling(padding)
    initial = random_state(rng, shape) if nonzero_initial else None
    rest = dyn.State(np.zeros(shape, np.float32), np.zeros(shape, np.float32))
    start = rest if initial is None else initial

    want_z, want_v = python_loop_rollout(params, drives, start, coupling)
    zs = dyn.rollout(params, drives, initial, coupling)
    np.testing.assert_allclose(zs, want_z, **TOL)
    for unroll in (1, 2):
        zs, vs = dyn.rollout(params, drives, initial, coupling, return_velocity=True,
                             unroll=unroll)
        np.testing.assert_allclose(zs, want_z, **TOL)
        np.testing.assert_allclose(vs, want_v, **TOL)


def test_gradients_through_1000_steps_are_finite_and_nonzero():
    """Backpropagating a loss through a 1000-step rollout (6x6x1 lattice, batch 2, dt ~ 0.125,
    parameters as the learnable reference initialises them) gives finite gradients, non-zero
    for every parameter and for the drives."""
    rng = np.random.default_rng(6)
    steps, shape = 1000, (2, 6, 6, 1)
    raw = dict(kz=0.3 * rng.standard_normal((3, 3, 1, 1)), kv=0.3 * rng.standard_normal(
        (3, 3, 1, 1)), bias=np.zeros(1), dt=-1.95, gamma=1.0, alpha=0.5)
    raw = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), raw)
    drives = jnp.asarray(rng.standard_normal((steps,) + shape), jnp.float32)
    target = jnp.asarray(rng.standard_normal((steps,) + shape), jnp.float32)

    grads = jax.jit(jax.grad(mse_of_rollout, argnums=(0, 1)))(raw, drives, target)
    for name, leaf in {**grads[0], "drives": grads[1]}.items():
        assert np.isfinite(leaf).all(), name
        assert np.any(leaf != 0), name


def mse_of_rollout(raw, drives, target):
    """Mean squared error of the positions of a rollout with constrained raw parameters."""
    dt, gamma, alpha = dyn.constrain(raw["dt"], raw["gamma"], raw["alpha"])
    params = dyn.OscillatorParams(raw["kz"], raw["kv"], raw["bias"], dt, gamma, alpha)
    return jnp.mean((dyn.rollout(params, drives) - target) ** 2)


# --------------------------------------------------------------------------------------------
# lattice_conv and its custom VJP


def plain_lattice_conv(x, kernel, padding):
    """The naive lattice convolution: ``lax.conv`` on a wrap/zero-padded input, autodiff'd."""
    r = kernel.shape[0] // 2
    mode = "wrap" if padding == "circular" else "constant"
    xpad = jnp.pad(x, ((0, 0), (r, r), (r, r), (0, 0)), mode=mode)
    return lax.conv_general_dilated(xpad, kernel, (1, 1), "VALID",
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))


def scalar_of(conv, padding, weights):
    """A non-linear scalar function of a lattice convolution, to differentiate."""
    return lambda x, kernel: jnp.sum(jnp.sin(conv(x, kernel, padding)) * weights)


CHANNELS = [(1, 1), (3, 3), (2, 3)]


@pytest.mark.parametrize("k", [3, 5, 7, 9])
@pytest.mark.parametrize("cin,cout", CHANNELS)
@pytest.mark.parametrize("padding", PADDINGS)
def test_lattice_conv_and_its_gradient_match_plain_conv(k, cin, cout, padding):
    """``lattice_conv`` equals the NumPy cross-correlation, and ``jax.grad`` through its custom
    VJP (w.r.t. input and kernel) equals autodiff of ``lax.conv`` on a padded input."""
    rng = np.random.default_rng([k, cin, cout, len(padding)])
    x = jnp.asarray(rng.standard_normal((2, 10, 11, cin)), jnp.float32)
    kernel = jnp.asarray(rng.standard_normal((k, k, cin, cout)) / k, jnp.float32)
    weights = jnp.asarray(rng.standard_normal((2, 10, 11, cout)), jnp.float32)

    def grad(conv):
        return jax.grad(scalar_of(conv, padding, weights), argnums=(0, 1))

    @jax.jit  # one compilation for the three results
    def conv_and_gradients(x, kernel):
        return (dyn.lattice_conv(x, kernel, padding), grad(dyn.lattice_conv)(x, kernel),
                grad(plain_lattice_conv)(x, kernel))

    y, custom, plain = conv_and_gradients(x, kernel)
    np.testing.assert_allclose(y, np_lattice_conv(x, kernel, padding), rtol=1e-4, atol=1e-4)
    for got, want in zip(custom, plain, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("padding,cin,cout,order", [("circular", 2, 3, 2), ("zero", 1, 1, 1)])
def test_lattice_conv_gradient_passes_finite_differences(padding, cin, cout, order):
    """In float64, the custom VJP agrees with central finite differences (and so does the VJP
    of the VJP, for second-order uses such as gradient penalties)."""
    rng = np.random.default_rng(7)
    with jax.enable_x64(True):
        x = jnp.asarray(rng.standard_normal((1, 4, 5, cin)))
        kernel = jnp.asarray(rng.standard_normal((3, 3, cin, cout)))
        conv = functools.partial(dyn.lattice_conv, padding=padding)
        check_grads(conv, (x, kernel), order=order, modes=["rev"])


@pytest.mark.parametrize("padding", PADDINGS)
def test_without_its_custom_gradient_the_convolution_is_the_same_and_forward_mode_passes(
        padding):
    """``custom_gradient=False`` (for ``jax.jvp``) is the same map; its forward-mode derivative
    agrees with central finite differences in float64."""
    rng = np.random.default_rng(11)
    x = jnp.asarray(rng.standard_normal((1, 6, 7, 2)), jnp.float32)
    kernel = jnp.asarray(rng.standard_normal((3, 3, 2, 2)), jnp.float32)
    np.testing.assert_array_equal(dyn.lattice_conv(x, kernel, padding, custom_gradient=False),
                                  dyn.lattice_conv(x, kernel, padding))
    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(lambda y: dyn.lattice_conv(y, kernel, padding), (x,), (x,))
    with jax.enable_x64(True):
        plain = functools.partial(dyn.lattice_conv, padding=padding, custom_gradient=False)
        check_grads(plain, (x.astype(jnp.float64), kernel.astype(jnp.float64)), order=1,
                    modes=["fwd"])


@pytest.mark.parametrize("k", [3, 5, 7])  # 7 > the 5 x 6 lattice: no Fourier path
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("shifted", [False, True], ids=["states", "initial+trajectory"])
def test_coupling_kernel_gradient_is_the_gradient_summed_over_steps(k, channels, padding,
                                                                   shifted):
    """``LocalCoupling.kernel_gradient(K, xs, gs)`` is ``d/dK sum_t <K * x_t, g_t>`` (autodiff of
    ``lax.conv``); with ``initial``, ``x_t`` is the state one step earlier. One circular
    channel runs through the Fourier transform, the rest through shifted windows."""
    rng = np.random.default_rng([k, channels, len(padding), shifted])
    with jax.enable_x64(True):
        states, cotangents = (jnp.asarray(rng.standard_normal((4, 2, 5, 6, channels)))
                              for _ in range(2))
        initial = jnp.asarray(rng.standard_normal((2, 5, 6, channels)))
        kernel = jnp.asarray(rng.standard_normal((k, k, channels, channels)))
        before = jnp.concatenate([initial[None], states[:-1]]) if shifted else states

        def pairing(kernel):
            return sum(jnp.vdot(plain_lattice_conv(x, kernel, padding), g)
                       for x, g in zip(before, cotangents, strict=True))

        @jax.jit  # one compilation for both results
        def gradients(kernel):
            return dyn.LocalCoupling(padding).kernel_gradient(
                kernel, states, cotangents, initial=initial if shifted else None), \
                jax.grad(pairing)(kernel)

        got, want = gradients(kernel)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_rollout_gradients_in_bfloat16_follow_the_float32_ones():
    """Half precision (as on a TPU) runs through every gradient path, the FFT kernel gradient
    included (computed in float32 there), to bfloat16's precision."""
    params, drives, initial, (wz, _) = _rollout_problem(dyn.LocalCoupling(), 1, False, (1,), ())

    def gradients(dtype):
        cast = lambda tree: jax.tree.map(lambda x: jnp.asarray(x, dtype), tree)  # noqa: E731
        loss = lambda p, d: jnp.sum(dyn.rollout(p, d).astype(jnp.float32) * wz)  # noqa: E731
        return jax.grad(loss)(cast(params), cast(drives))

    half, full = gradients(jnp.bfloat16), gradients(jnp.float32)
    for got, want in ((half.position_kernel, full.position_kernel),
                      (half.velocity_kernel, full.velocity_kernel)):
        assert got.dtype == jnp.bfloat16
        np.testing.assert_allclose(np.asarray(got, np.float32), want, rtol=0.1,
                                   atol=0.05 * float(jnp.abs(want).max()))


def test_dense_kernel_gradient_with_initial_pairs_each_cotangent_with_the_state_before():
    rng = np.random.default_rng(3)
    states, cotangents = (jnp.asarray(rng.standard_normal((4, 2, 5))) for _ in range(2))
    initial = jnp.asarray(rng.standard_normal((2, 5)))
    before = jnp.concatenate([initial[None], states[:-1]])
    want = jnp.einsum("tbi,tbo->io", before, cotangents)
    got = dyn.DenseCoupling().kernel_gradient(jnp.zeros((5, 5)), states, cotangents, initial)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------------------------
# constrain


def test_constrain_maps_raw_values_like_the_reference():
    """dt = sigmoid(raw) (the reference init -1.95 gives dt ~ 0.125), gamma = relu(raw),
    alpha = relu(raw): negative raw stiffness/damping clamp to zero."""
    dt, gamma, alpha = dyn.constrain(jnp.float32(-1.95), jnp.float32(1.0), jnp.float32(0.5))
    assert dt == pytest.approx(1 / (1 + np.exp(1.95)), rel=1e-6)
    assert dt == pytest.approx(0.125, abs=0.003)
    assert (gamma, alpha) == (1.0, 0.5)
    raw = jnp.array([-3.0, -0.1, 0.0, 0.2, 4.0])
    dt, gamma, alpha = dyn.constrain(raw, raw, raw)
    np.testing.assert_allclose(dt, 1 / (1 + np.exp(-np.asarray(raw))), rtol=1e-6)
    np.testing.assert_array_equal(gamma, jnp.maximum(raw, 0.0))
    assert gamma[3] == np.float32(0.2)
    np.testing.assert_array_equal(alpha, gamma)
    assert np.all((dt > 0) & (dt < 1))


# --------------------------------------------------------------------------------------------
# Bad input


def test_even_kernel_size_is_rejected():
    """A k x k kernel with even k has no centre unit: ValueError naming the odd-k requirement."""
    with pytest.raises(ValueError, match="odd k"):
        dyn.lattice_conv(jnp.zeros((1, 5, 5, 1)), jnp.zeros((4, 4, 1, 1)))
    params = dyn.OscillatorParams(jnp.zeros((2, 2, 1, 1)), None, jnp.zeros(1), 0.1, 1.0, 0.5)
    with pytest.raises(ValueError, match="odd k"):
        dyn.step(params, dyn.State(jnp.zeros((1, 5, 5, 1)), jnp.zeros((1, 5, 5, 1))),
                 jnp.zeros((1, 5, 5, 1)))


def test_non_square_or_wrong_rank_kernel_is_rejected():
    """Kernels that are not (k, k, Cin, Cout) are refused with the expected shape in the message."""
    for bad in [jnp.zeros((3, 5, 1, 1)), jnp.zeros((3, 3, 1))]:
        with pytest.raises(ValueError, match=r"\(k, k, Cin, Cout\)"):
            dyn.lattice_conv(jnp.zeros((1, 5, 5, 1)), bad)


def test_kernel_state_channel_mismatch_is_rejected():
    """A local kernel for C channels on a state with another channel count, or a dense kernel of
    the wrong size, raises ValueError saying the state does not match the kernel."""
    with pytest.raises(ValueError, match="does not match kernel"):
        dyn.lattice_conv(jnp.zeros((1, 5, 5, 2)), jnp.zeros((3, 3, 3, 3)))
    with pytest.raises(ValueError, match="does not match kernel"):
        dyn.DenseCoupling()(jnp.zeros((4, 4)), jnp.zeros((2, 5)))


def test_unknown_padding_is_rejected():
    """Only 'circular' and 'zero' exist; anything else is named in the error."""
    with pytest.raises(ValueError, match="padding.*'reflect'"):
        dyn.LocalCoupling("reflect")
    with pytest.raises(ValueError, match="padding.*'same'"):
        dyn.lattice_conv(jnp.zeros((1, 5, 5, 1)), jnp.zeros((3, 3, 1, 1)), "same")


def test_rollout_initial_state_shape_mismatch_is_rejected():
    """An initial state whose shape is not drives.shape[1:] raises ValueError naming both."""
    params = dyn.OscillatorParams(jnp.zeros((3, 3, 1, 1)), None, jnp.zeros(1), 0.1, 1.0, 0.5)
    drives = jnp.zeros((4, 2, 5, 5, 1))
    bad = dyn.State(jnp.zeros((2, 6, 5, 1)), jnp.zeros((2, 6, 5, 1)))
    with pytest.raises(ValueError, match=r"initial state.*does not match drives"):
        dyn.rollout(params, drives, bad)
    good = dyn.State(jnp.zeros((2, 5, 5, 1)), jnp.zeros((2, 5, 5, 1)))
    with pytest.raises(ValueError, match=r"initial state.*does not match drives"):
        dyn.rollout(params, drives[0], good)  # drives without the time axis


# --------------------------------------------------------------------------------------------
# The rollout's hand-written backward pass (parameter gradients outside the scan)


def _rollout_problem(coupling, channels, tied, bias_shape, constants_shape, seed=0):
    """Random parameters, drives, a moving initial state and output weights (float64)."""
    rng = np.random.default_rng(seed)
    if isinstance(coupling, dyn.DenseCoupling):
        state, kernel_shape = (3, 6), (6, 6)
    else:
        state, kernel_shape = (2, 5, 6, channels), (3, 3, channels, channels)
    kernel = lambda: jnp.asarray(0.4 * rng.standard_normal(kernel_shape))  # noqa: E731
    constant = lambda low, high: jnp.asarray(rng.uniform(low, high, constants_shape))  # noqa: E731
    params = dyn.OscillatorParams(kernel(), None if tied else kernel(),
                                  jnp.asarray(rng.standard_normal(bias_shape)),
                                  constant(0.1, 0.3), constant(0.5, 1.5), constant(0.2, 0.8))
    steps = 7
    drives = jnp.asarray(rng.standard_normal((steps, *state)))
    initial = dyn.State(*(jnp.asarray(rng.standard_normal(state)) for _ in range(2)))
    weights = [jnp.asarray(rng.standard_normal((steps, *state))) for _ in range(2)]
    return params, drives, initial, weights


def _loss_gradients(coupling, problem, hoist, outputs="both"):
    params, drives, initial, (wz, wv) = problem

    def loss(params, drives, initial):  # the outputs named, nonlinearly
        zs, vs = dyn.rollout(params, drives, initial, coupling, return_velocity=True,
                             hoist_gradients=hoist)
        position, velocity = jnp.sum(jnp.sin(zs) * wz), jnp.sum(vs ** 2 * wv)
        return {"both": position + velocity, "position": position,
                "velocity": velocity}[outputs]

    return jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(params, drives, initial)  # one program


@pytest.mark.parametrize("coupling,channels,tied,bias_shape,constants_shape", [
    (dyn.LocalCoupling("circular"), 1, False, (1,), ()),
    (dyn.LocalCoupling("circular"), 1, True, (1,), ()),
    (dyn.LocalCoupling("zero"), 1, True, (5, 6, 1), ()),
    (dyn.LocalCoupling("circular"), 3, False, (3,), ()),
    (dyn.LocalCoupling("zero"), 2, True, (5, 6, 2), (2,)),  # constants per channel
    (dyn.DenseCoupling(), None, False, (6,), ()),
], ids=["1ch", "1ch-tied", "1ch-zero-tied-site-bias", "3ch", "2ch-tied-per-channel", "dense"])
def test_hoisted_gradients_equal_autodiff_of_the_scan(coupling, channels, tied, bias_shape,
                                                      constants_shape):
    with jax.enable_x64():
        problem = _rollout_problem(coupling, channels, tied, bias_shape, constants_shape)
        hoisted = _loss_gradients(coupling, problem, hoist=True)
        autodiff = _loss_gradients(coupling, problem, hoist=False)
    assert jax.tree.structure(hoisted) == jax.tree.structure(autodiff)
    for ours, reference in zip(jax.tree.leaves(hoisted), jax.tree.leaves(autodiff), strict=True):
        assert ours.shape == reference.shape
        np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("outputs", ["position", "velocity"])
@pytest.mark.parametrize("coupling,channels", [(dyn.LocalCoupling(), 1), (dyn.LocalCoupling(), 2),
                                               (dyn.DenseCoupling(), None)])
def test_hoisted_gradients_when_only_one_output_is_used(outputs, coupling, channels):
    """An unused output's cotangent reaches the backward pass as a symbolic zero, which it skips:
    the gradients are still autodiff's."""
    with jax.enable_x64():
        problem = _rollout_problem(coupling, channels, False, (channels or 6,), ())
        hoisted = _loss_gradients(coupling, problem, hoist=True, outputs=outputs)
        autodiff = _loss_gradients(coupling, problem, hoist=False, outputs=outputs)
    for ours, reference in zip(jax.tree.leaves(hoisted), jax.tree.leaves(autodiff), strict=True):
        np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=1e-12)


def test_hoisted_gradients_pass_finite_differences():
    with jax.enable_x64():
        params, drives, initial, (wz, _) = _rollout_problem(dyn.LocalCoupling(), 1, False,
                                                            (1,), ())

        def loss(params, drives, initial):
            return jnp.sum(jnp.sin(dyn.rollout(params, drives, initial)) * wz)

        check_grads(loss, (params, drives, initial), order=1, modes=["rev"])


def test_hoisted_gradients_work_under_jit_and_vmap_over_seeds():
    problem = _rollout_problem(dyn.LocalCoupling(), 1, False, (1,), ())
    params, drives, initial, _ = problem
    stacked = jax.tree.map(lambda x: jnp.stack([x, 2 * x]).astype(jnp.float32), params)

    def loss(params):
        return jnp.sum(dyn.rollout(params, drives.astype(jnp.float32)) ** 2)

    batched = jax.jit(jax.vmap(jax.grad(loss)))(stacked)
    for seed in range(2):
        alone = jax.grad(loss)(jax.tree.map(lambda x: x[seed], stacked))  # noqa: B023
        for a, b in zip(jax.tree.leaves(batched), jax.tree.leaves(alone), strict=True):
            np.testing.assert_allclose(a[seed], b, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------
# Long sequences: the readout inside the scan, rematerialised in blocks


@pytest.mark.parametrize("block", [0, 1, 7])
def test_rollout_reduce_is_the_sum_of_the_readout_over_the_rollout_with_its_gradients(block):
    """Same value and gradients (parameters, drives, initial state, the readout's own
    parameters) as reading out the whole trajectory of :func:`rollout`, with or without
    rematerialised blocks."""
    with jax.enable_x64():
        params, drives, initial, (targets, _) = _rollout_problem(
            dyn.LocalCoupling("circular"), 2, False, (2,), ())
        scale = jnp.asarray(1.3)

        def readout(z, target, scale):
            return jnp.sum(jnp.sin(scale * z) * target)

        def whole(params, drives, initial, scale):
            zs = dyn.rollout(params, drives, initial)
            return sum(readout(zs[t], targets[t], scale) for t in range(len(zs)))

        def reduced(params, drives, initial, scale):
            return dyn.rollout_reduce(params, drives,
                                      lambda z, target: readout(z, target, scale), targets,
                                      initial, block=block)

        arguments = (params, drives, initial, scale)
        assert float(reduced(*arguments)) == pytest.approx(float(whole(*arguments)), rel=1e-12)
        ours = jax.grad(reduced, argnums=(0, 1, 2, 3))(*arguments)
        reference = jax.grad(whole, argnums=(0, 1, 2, 3))(*arguments)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(reference), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("block", [0, 7])
def test_rollout_reduce_can_encode_each_blocks_inputs_itself(block):
    """With ``encode``, the per-step inputs become drives inside each block: the same sum and
    gradients (the encoder's parameter included) as encoding every step before the rollout,
    and the encoder's per-step auxiliary output comes back stacked over all steps."""
    with jax.enable_x64():
        params, drives, initial, (targets, _) = _rollout_problem(
            dyn.LocalCoupling("circular"), 2, False, (2,), ())
        inputs = drives * 0.7 + 0.1

        def encode(x, steps, scale):
            return jnp.tanh(scale * x), steps[:, None] * jnp.sum(x, axis=(2, 3, 4))

        def whole(params, scale):
            encoded, aux = encode(inputs, jnp.arange(len(inputs)), scale)
            zs = dyn.rollout(params, encoded, initial)
            return jnp.sum(zs * targets) + jnp.sum(aux ** 2)

        def reduced(params, scale):
            total, aux = dyn.rollout_reduce(params, inputs, lambda z, t: jnp.sum(z * t),
                                            targets, initial, block=block,
                                            encode=lambda x, steps: encode(x, steps, scale))
            return total + jnp.sum(aux ** 2)

        scale = jnp.asarray(1.1)
        assert float(reduced(params, scale)) == pytest.approx(float(whole(params, scale)),
                                                              rel=1e-12)
        ours, reference = (jax.grad(f, argnums=(0, 1))(params, scale) for f in (reduced, whole))
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(reference), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_rollout_reduce_refuses_a_block_that_does_not_divide_the_steps():
    params, drives, _, _ = _rollout_problem(dyn.LocalCoupling(), 1, False, (1,), ())
    with pytest.raises(ValueError, match=r"block \(3\) must divide the number of steps \(7\)"):
        dyn.rollout_reduce(params, drives, lambda z, _: jnp.sum(z), block=3)


def _gradient_temporaries(steps: int, block: int) -> int:
    """Bytes of temporaries XLA allocates for the gradient (compiled, not run)."""
    kernel = jax.ShapeDtypeStruct((3, 3, 4, 4), jnp.float32)
    scalar = jax.ShapeDtypeStruct((), jnp.float32)
    params = dyn.OscillatorParams(kernel, kernel, jax.ShapeDtypeStruct((4,), jnp.float32),
                                  scalar, scalar, scalar)
    drives = jax.ShapeDtypeStruct((steps, 2, 16, 16, 4), jnp.float32)

    def loss(params, drives):
        return dyn.rollout_reduce(params, drives, lambda z, _: jnp.sum(z ** 2), block=block)

    compiled = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(params, drives).compile()
    return compiled.memory_analysis().temp_size_in_bytes


def test_blocks_of_sqrt_t_steps_make_the_gradients_memory_sub_linear_in_t():
    """XLA's own memory analysis: without blocks the temporaries grow with T (a few states per
    step); with blocks of sqrt(T) steps, 16x the steps cost well under 16x the memory."""
    state = 2 * 16 * 16 * 4 * 4
    plain_short, plain_long = _gradient_temporaries(100, 0), _gradient_temporaries(1600, 0)
    remat_short, remat_long = _gradient_temporaries(100, 10), _gradient_temporaries(1600, 40)
    assert plain_long > 14 * plain_short and plain_long > 1600 * state
    assert remat_long < 6 * remat_short
    assert remat_long < plain_long / 10
