"""Forecasting models (Hamiltonian suite): shared pipeline, five cores, open-loop rollout."""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from locornn import metrics
from locornn.models import forecasting

KINDS = forecasting.KINDS
IMAGE = (16, 16, 3)
K, T, B = 3, 6, 2  # context frames, sequence length, batch

TINY = dict(lattice=4, channels=1, hidden_units=8, lstm_units=8, node_units=8, node_width=8,
            node_depth=1, node_dt=0.0625, node_frame_dt=0.125, hgn_units=8, hgn_width=8,
            hgn_depth=1, hgn_dt=0.0625, hgn_frame_dt=0.125, gru_units=8, encoded_units=8,
            context_frames=K, conv_features=4, conv_blocks=2, conv_depth=1, encoder="mlp",
            decoder="mlp")
# (MLP codecs keep the five compilations quick on a 2-core CPU; the default conv codecs are
# checked by test_default_conv_codecs_fit_every_core.)


def _config(kind, **updates):
    return ml_collections.ConfigDict(dict(TINY, kind=kind, **updates))


FRAMES = jax.random.uniform(jax.random.PRNGKey(0), (B, T, *IMAGE))


# XLA:CPU compiles these tiny programs ~3x faster without its backend optimisations; the
# numbers are the same up to float rounding, and the tests only compare outputs of one compiled
# program (exactly) or check properties (finite, shapes, tolerances).
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _compile(fn, *args):
    """``jax.jit(fn)`` compiled for ``args`` with :data:`FAST_COMPILE` (plain compile if this
    XLA does not know the options)."""
    lowered = jax.jit(fn).lower(*args)
    try:
        return lowered.compile(compiler_options=FAST_COMPILE)
    except Exception:  # unknown option names in another jaxlib
        return lowered.compile()


@functools.cache
def _run(kind):
    """Parameters, and predictions/gradients for four inputs from one compiled function:
    the frames, the frames changed after the window, and changed at either end of it."""
    model = forecasting.build_forecast_model(_config(kind), IMAGE)
    init = _compile(lambda key, x: model.init(key, x, num_steps=0), jax.random.PRNGKey(1),
                    FRAMES[:, :K])
    variables = init(jax.random.PRNGKey(1), FRAMES[:, :K])

    def value_and_grad(variables, frames):
        def loss(variables):
            out = model.apply(variables, frames)
            return metrics.forecast_loss(out["prediction"], frames), out
        return jax.value_and_grad(loss, has_aux=True)(variables)

    loss_and_grad = _compile(value_and_grad, variables, FRAMES)

    noise = jax.random.uniform(jax.random.PRNGKey(2), FRAMES.shape)
    inputs = {"frames": FRAMES,
              "after": FRAMES.at[:, K:].set(noise[:, K:]),
              "first": FRAMES.at[:, 0].set(noise[:, 0]),
              "last_context": FRAMES.at[:, K - 1].set(noise[:, K - 1])}
    results = {name: loss_and_grad(variables, x) for name, x in inputs.items()}
    return model, variables, results


@pytest.mark.parametrize("kind", KINDS)
def test_forward_shapes_are_shared_across_kinds(kind):
    model, _, results = _run(kind)
    (loss, out), grads = results["frames"]
    assert out["prediction"].shape == FRAMES.shape  # default num_steps = T - K: aligned
    assert out["z"].shape == (B, T, *model.state_shape)
    prediction = np.asarray(out["prediction"])
    assert np.all((prediction >= 0) & (prediction <= 1))
    assert np.isfinite(float(loss))


@pytest.mark.parametrize("kind", KINDS)
def test_rollout_is_open_loop(kind):
    """Frames after the conditioning window are never read; conditioning frames are."""
    _, _, results = _run(kind)
    base = results["frames"][0][1]
    after = results["after"][0][1]
    np.testing.assert_array_equal(base["prediction"], after["prediction"])
    np.testing.assert_array_equal(base["z"], after["z"])
    for name in ("first", "last_context"):  # the backward GRU reads both ends of the window
        changed = results[name][0][1]["prediction"]
        assert np.max(np.abs(np.asarray(changed) - np.asarray(base["prediction"]))) > 1e-6, name


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_are_finite_and_reach_every_part(kind):
    _, _, results = _run(kind)
    grads = results["frames"][1]["params"]
    grads = jax.tree.map(np.asarray, grads)  # NumPy: no per-shape compilations
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    for part in ("encoder", "inference_gru", "initial_state", "core", "decoder"):
        norm = sum(float(np.sum(g**2)) for g in jax.tree.leaves(grads[part]))
        assert norm > 0, part


def test_parameter_counts_differ_only_by_core():
    """Same encoder, GRU and decoder for all kinds; the core (and the size of the initial state
    it needs) is what differs."""
    shapes = {kind: jax.tree.map(jnp.shape, _run(kind)[1]["params"]) for kind in KINDS}
    for kind in KINDS:
        for part in ("encoder", "inference_gru"):
            assert shapes[kind][part] == shapes["locornn"][part], (kind, part)
        # the decoder reads the state: only its input projection depends on the state size
        decoder_in = shapes[kind]["decoder"]["project"]["kernel"][0]
        assert decoder_in == int(np.prod(_run(kind)[0].state_shape)), kind
        assert set(shapes[kind]) == {"encoder", "inference_gru", "initial_state", "core",
                                     "decoder"}
    counts = {kind: sum(int(np.prod(s)) for s in jax.tree.leaves(
        shapes[kind]["core"], is_leaf=lambda x: isinstance(x, tuple))) for kind in KINDS}
    assert len(set(counts.values())) == len(KINDS), counts
    # locornn: Kz, Kv (3x3x1x1), bias (1), dt/gamma/alpha raw; cornn: two 8x8 matrices + 8 + 3
    assert counts["locornn"] == 9 + 9 + 1 + 3
    assert counts["cornn"] == 64 + 64 + 8 + 3
    # node: 8->8 tanh layer and 8->8 linear layer
    assert counts["node"] == 2 * (64 + 8)
    # hgn: T(p) and V(q), each an 8->8 swish layer and an 8->1 linear layer
    assert counts["hgn"] == 2 * (64 + 8 + 8 + 1)


def test_long_rollout_from_the_window_alone_extends_the_forecast():
    """``frames[:, :K]`` with ``num_steps`` reproduces the full-sequence forecast and goes on."""
    model, variables, results = _run("locornn")
    full = results["frames"][0][1]["prediction"]
    window = FRAMES[:, :K]
    apply = _compile(lambda v, x: model.apply(v, x, num_steps=T - K + 3), variables, window)
    longer = apply(variables, window)["prediction"]
    assert longer.shape == (B, T + 3, *IMAGE)
    np.testing.assert_allclose(longer[:, :T], full, atol=1e-5)


def test_bad_inputs_and_configs_are_rejected():
    model, variables, _ = _run("cornn")
    with pytest.raises(ValueError, match="context_frames"):
        model.apply(variables, FRAMES[:, :K - 1])
    with pytest.raises(ValueError, match="expected frames"):
        model.apply(variables, FRAMES[..., :1])
    with pytest.raises(ValueError, match="model.kind"):
        forecasting.build_forecast_model(_config("gru"), IMAGE)
    with pytest.raises(ValueError, match="whole multiple"):
        forecasting.build_forecast_model(_config("node", node_dt=0.05, node_frame_dt=0.125),
                                         IMAGE)
    assert forecasting.node_substeps(0.1, 0.025) == 4  # float ratios are rounded


def test_default_conv_codecs_fit_every_core():
    """The default codecs (the DeepMind conv nets) with each core: shapes and parameter tree,
    by abstract evaluation (no compilation; the numerics are shared with the MLP codecs)."""
    for kind in KINDS:
        model = forecasting.build_forecast_model(
            _config(kind, encoder="conv", decoder="conv"), IMAGE)
        out, variables = jax.eval_shape(
            lambda key, x, m=model: m.init_with_output(key, x), jax.random.PRNGKey(1), FRAMES)
        assert out["prediction"].shape == FRAMES.shape
        assert out["z"].shape == (B, T, *model.state_shape)
        params = variables["params"]
        assert set(params["encoder"]) == {"Conv_0", "Conv_1", "project"}
        assert params["encoder"]["project"]["project"]["kernel"].shape == (8 * 8 * 4, 8)
        assert params["decoder"]["project"]["kernel"].shape == (
            int(np.prod(model.state_shape)), 8 * 8 * 4)


def test_mlp_decoder_hidden_layer_sits_between_state_and_image():
    """decoder_hidden = 16: state -> 16 leaky-ReLU units -> image, for every core; 0 (the
    default) keeps the single linear layer; a negative width is rejected."""
    for kind in KINDS:
        model = forecasting.build_forecast_model(_config(kind, decoder_hidden=16), IMAGE)
        out, variables = jax.eval_shape(
            lambda key, x, m=model: m.init_with_output(key, x), jax.random.PRNGKey(1), FRAMES)
        assert out["prediction"].shape == FRAMES.shape
        decoder = variables["params"]["decoder"]
        assert decoder["hidden"]["kernel"].shape == (int(np.prod(model.state_shape)), 16)
        assert decoder["project"]["kernel"].shape == (16, int(np.prod(IMAGE)))
    assert set(_run("cornn")[1]["params"]["decoder"]) == {"project"}
    with pytest.raises(ValueError, match="decoder_hidden"):
        forecasting.build_forecast_model(_config("lstm", decoder_hidden=-1), IMAGE)


def test_node_integration_lands_on_the_frame_times():
    """dz/dt = -z (a linear field, node_depth = 0): z(t_j) = z0 exp(-j * frame_dt)."""
    layers = [(-jnp.eye(3), jnp.zeros(3))]
    z0 = jnp.array([[1.0, -2.0, 0.5]])
    zs = forecasting.integrate_node(layers, z0, num_steps=4, frame_dt=0.25, substeps=2)
    assert zs.shape == (5, 1, 3)
    expected = np.exp(-0.25 * np.arange(5))[:, None, None] * np.asarray(z0)
    np.testing.assert_allclose(zs, expected, rtol=1e-5)
    assert forecasting.integrate_node(layers, z0, 0, 0.25).shape == (1, 1, 3)


@pytest.mark.parametrize("kind", ["locornn", "cornn"])
def test_oscillator_forecast_is_the_zero_drive_rollout_of_locornn_dynamics(kind):
    """z[:, 0] = z0 and z[:, 1:] = dynamics.rollout with zero drives from the inferred (z0, v0)
    with the core's parameters (the same step as LocoRNN / coRNN, no input)."""
    from locornn import dynamics
    from locornn.models.oscillator import OscillatorCore

    model, variables, results = _run(kind)
    out = results["frames"][0][1]
    z0, v0 = out["initial_state"]
    np.testing.assert_array_equal(out["z"][:, 0], z0)
    core_params = variables["params"]["core"]
    if kind == "locornn":
        core = OscillatorCore((3, 3, 1, 1), (1,))
        coupling = dynamics.LocalCoupling("circular")
    else:
        core = OscillatorCore((8, 8), (8,))
        coupling = dynamics.DenseCoupling()
    params = core.apply({"params": core_params})
    drives = jnp.zeros((T - 1, *z0.shape))
    zs = dynamics.rollout(params, drives, dynamics.State(z0, v0), coupling)
    np.testing.assert_allclose(out["z"][:, 1:], jnp.swapaxes(zs, 0, 1), rtol=1e-5, atol=1e-6)
