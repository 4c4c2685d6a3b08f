"""The reference code's own details, one config field each (DESIGN.md section 2b, last bullets).

Each field changes what it claims and nothing else: PyTorch's linear-layer initialisation, an
independent sample of frame 0 for the initial state, LayerNorm's epsilon, the encoder's unused
latents and their KL, the Bernoulli clamp, and the rotation centre of the digits.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from locornn import configs, metrics, models
from locornn.data import mnist
from locornn.models.codecs import GaussianEncoder, MLPDecoder, MLPEncoder
from tests.conftest import experiment_config

FRAMES = jax.random.uniform(jax.random.PRNGKey(1), (2, 6, 12, 12, 1))
GAUSSIAN = dict(model__encoder="gaussian", model__initial_state="encoder_output")


def _model(**updates):
    config = experiment_config("rotating_mnist", **updates)
    model = models.build_model(config.model, FRAMES.shape[2:])
    return model, jax.jit(model.init)(jax.random.PRNGKey(0), FRAMES)["params"]


def _apply(model, params, *args, rngs=None, **kwargs):
    """``model.apply`` as one jitted program (the parameters and ``rngs`` its arguments, the
    rest fixed in it), not dispatched op by op."""
    return jax.jit(lambda p, r: model.apply({"params": p}, *args, rngs=r, **kwargs))(params,
                                                                                     rngs)


# ------------------------------------------------------------------------- linear layers' init


def test_pytorch_linear_init_draws_weights_and_biases_uniform_within_one_over_root_fan_in():
    _, params = _model(model__linear_init="pytorch", **GAUSSIAN)
    for name, fan_in in (("encoder", 144), ("decoder", 64)):
        layer = params[name]["project"]
        bound = 1 / math.sqrt(fan_in)
        for array in (layer["kernel"], layer["bias"]):
            assert float(jnp.max(jnp.abs(array))) <= bound
        # uniform on [-b, b] has standard deviation b / sqrt(3); the biases are not zero
        np.testing.assert_allclose(float(jnp.std(layer["kernel"])), bound / math.sqrt(3), rtol=0.1)
        assert float(jnp.std(layer["bias"])) > bound / 4


def test_flax_linear_init_is_lecun_normal_with_zero_biases():
    _, params = _model(**GAUSSIAN)
    layer = params["encoder"]["project"]
    np.testing.assert_array_equal(layer["bias"], 0.0)
    np.testing.assert_allclose(float(jnp.std(layer["kernel"])), 1 / math.sqrt(144), rtol=0.15)


def test_linear_init_reaches_the_mlp_codecs_hidden_layer():
    decoder = MLPDecoder((4, 4, 1), hidden=8, linear_init="pytorch")
    params = decoder.init(jax.random.PRNGKey(0), jnp.ones((1, 3, 3, 1)))["params"]
    assert float(jnp.max(jnp.abs(params["hidden"]["kernel"]))) <= 1 / 3  # fan-in 9
    assert float(jnp.std(params["hidden"]["bias"])) > 0


def test_pytorch_init_lowers_the_kl_at_initialisation():
    """Smaller weights give smaller posterior means and log-variances: a smaller KL."""
    kls = {}
    for init in ("flax", "pytorch"):
        model, params = _model(model__linear_init=init, **GAUSSIAN)
        kls[init] = float(jnp.mean(_apply(model, params, FRAMES)["kl"]))
    assert kls["pytorch"] < kls["flax"]


# ---------------------------------------------------------------------- LayerNorm's epsilon


@pytest.mark.parametrize("eps", [1e-6, 1e-5])
def test_layernorm_eps_is_the_epsilon_of_the_encoders_layernorm(eps):
    images = 1e-3 * jax.random.uniform(jax.random.PRNGKey(2), (3, 4, 4, 1))  # variance ~1e-7
    for encoder in (MLPEncoder((2, 2, 4), layernorm_eps=eps),
                    GaussianEncoder((2, 2, 4), layernorm_eps=eps)):
        params = encoder.init(jax.random.PRNGKey(0), images)["params"]
        out = encoder.apply({"params": params}, images)
        out = out[0] if isinstance(out, tuple) else out
        flat = images.reshape(3, -1)
        pre = flat @ params["project"]["kernel"] + params["project"]["bias"]
        pre = pre[:, :16]  # a Gaussian encoder's mean (evaluation: no sample)
        if "norm" in params:  # MLPEncoder's LayerNorm has a scale and shift (1 and 0 at init)
            assert float(jnp.std(params["norm"]["scale"])) == 0.0
        for candidate in (1e-6, 1e-5):
            expected = (pre - pre.mean(-1, keepdims=True)) / jnp.sqrt(
                pre.var(-1, keepdims=True) + candidate)
            close = np.allclose(out.reshape(3, -1), expected, rtol=1e-3, atol=1e-4)
            assert close == (candidate == eps), (type(encoder).__name__, candidate)


# ------------------------------------------------------------------------ unused latents


def test_unused_latents_are_sampled_and_pay_their_kl_but_drive_nothing():
    images = jax.random.uniform(jax.random.PRNGKey(0), (3, 4, 4, 1))
    wide = GaussianEncoder((2, 2, 1), layernorm=False, unused=4)
    params = wide.init(jax.random.PRNGKey(1), images)["params"]
    assert params["project"]["kernel"].shape == (16, 2 * (4 + 4))
    out, kl = wide.apply({"params": params}, images)
    assert out.shape == (3, 2, 2, 1)
    stats = images.reshape(3, -1) @ params["project"]["kernel"] + params["project"]["bias"]
    mu, log_var = stats[:, :8], stats[:, 8:]
    np.testing.assert_allclose(out.reshape(3, -1), mu[:, :4], rtol=1e-5)  # the first half
    per_unit = 0.5 * (mu**2 + jnp.exp(log_var) - 1 - log_var)
    np.testing.assert_allclose(kl, per_unit.sum(-1), rtol=1e-5)  # all eight units' KL
    assert float(per_unit[:, 4:].sum()) > 0  # ... of which the unused half is a real part
    # the unused half's parameters get gradient from the KL only
    def kl_total(p):
        return jnp.sum(wide.apply({"params": p}, images)[1])

    def output_total(p):
        return jnp.sum(wide.apply({"params": p}, images,
                                  rngs={"sample": jax.random.PRNGKey(5)})[0])

    unused_columns = np.r_[4:8, 12:16]
    assert float(jnp.abs(jax.grad(kl_total)(params)["project"]["kernel"][:, unused_columns])
                 .sum()) > 0
    np.testing.assert_array_equal(
        jax.grad(output_total)(params)["project"]["kernel"][:, unused_columns], 0.0)


def test_unused_latents_need_the_gaussian_encoder():
    with pytest.raises(configs.ConfigError, match="unused_latents"):
        configs.validate(experiment_config("rotating_mnist", model__unused_latents=4))


# ------------------------------------------------------------------ the initial state's noise


def _first_step(model, params, rngs):
    """z after the first step with zero couplings, drive and bias: z0 (1 - dt^2 gamma)."""
    return _apply(model, params, FRAMES, rngs=rngs)["z"][:, 0]


@pytest.mark.parametrize("remat_block", [0, 3])
def test_independent_initial_noise_starts_z_from_its_own_sample_of_frame_zero(remat_block):
    outputs = {}
    for noise in ("shared", "independent"):
        model, params = _model(model__initial_noise=noise, model__remat_block=remat_block,
                               **GAUSSIAN)
        zero = jax.tree.map(jnp.zeros_like, params)
        params = {**params, "drive": zero["drive"],
                  "core": {**zero["core"], "dt_raw": params["core"]["dt_raw"],
                           "gamma_raw": params["core"]["gamma_raw"],
                           "alpha_raw": params["core"]["alpha_raw"]}}
        rngs = {"sample": jax.random.PRNGKey(7)}
        z_first = _first_step(model, params, rngs)
        encoded, _ = _apply(model, params, FRAMES, rngs=rngs, method=model.encode)
        core = model.apply({"params": params}, method=lambda m: m.core())
        scale = 1 - core.dt**2 * core.gamma  # v1 = -dt gamma z0, z1 = z0 + dt v1
        outputs[noise] = (z_first, encoded[:, 0] * scale, scale)
        loss_args = dict(likelihood="bce", wrap=True, time_reduction="mean", block=3)
        if remat_block:
            outputs[noise] += (_apply(model, params, FRAMES, rngs=rngs, **loss_args,
                                      method=type(model).scanned_loss)[0],
                               _apply(model, params, FRAMES, **loss_args,
                                      method=type(model).scanned_loss)[0])
    if not remat_block:
        # shared: z0 is the very sample that drives step 0 (the encoder called once)
        np.testing.assert_allclose(outputs["shared"][0], outputs["shared"][1], atol=1e-5)
        # independent: a second draw, equally LayerNorm-ed (unit variance), not the same one
        z0 = outputs["independent"][0] / outputs["independent"][2]
        assert not np.allclose(z0, outputs["independent"][1], atol=1e-2)
        np.testing.assert_allclose(float(jnp.std(z0)), 1.0, rtol=0.05)
        # evaluation (no sampling): both are the encoder's mean
        evals = [_first_step(*_model(model__initial_noise=n, **GAUSSIAN), None)
                 for n in ("shared", "independent")]
        np.testing.assert_array_equal(evals[0], evals[1])
    else:
        assert float(outputs["shared"][3]) != float(outputs["independent"][3])  # training
        assert float(outputs["shared"][4]) == float(outputs["independent"][4])  # evaluation


def test_independent_initial_noise_needs_a_sampled_initial_state():
    with pytest.raises(configs.ConfigError, match="initial_noise"):
        configs.validate(experiment_config("rotating_mnist", model__encoder="gaussian",
                                           model__initial_noise="independent"))


# ------------------------------------------------------------------------ the Bernoulli clamp


@pytest.mark.parametrize("eps", [1e-6, float(np.finfo(np.float32).eps)])
def test_bce_eps_clamps_a_certain_wrong_pixel_at_minus_log_eps(eps):
    frames = jnp.zeros((1, 2, 1, 1, 1)).at[:, 1].set(1.0)  # target of frame 0 is a 1
    prediction = jnp.zeros_like(frames)  # ... predicted with probability 0
    loss = metrics.forward_prediction_loss(prediction, frames, likelihood="bce", bce_eps=eps)
    np.testing.assert_allclose(float(loss), -math.log(np.float32(eps)), rtol=1e-5)


# ----------------------------------------------------------------------- the rotation centre


def test_half_size_centre_turns_about_pixel_h_over_2_w_over_2():
    image = np.zeros((1, 8, 8), np.float32)
    image[0, 4, 4] = 1.0  # the pixel at (H/2, W/2)
    turned = np.asarray(mnist.rotate(image, 90.0, centre="half_size"))
    np.testing.assert_allclose(turned, image, atol=1e-6)  # it stays where it is
    about_middle = np.asarray(mnist.rotate(image, 90.0))
    np.testing.assert_allclose(about_middle[0], np.rot90(image[0]), atol=1e-6)
    assert about_middle[0, 4, 4] == 0.0  # about (3.5, 3.5) it moves


def test_rotation_centre_reaches_the_data_set():
    images = np.random.default_rng(0).uniform(0, 1, (4, 8, 8)).astype(np.float32)
    labels = np.zeros(4, np.int64)
    digits = mnist.MNISTData(images, labels, images, labels, source="test digits")
    sets = {centre: mnist.load_rotating_mnist(2, 2, 3, seed=0, digits=digits, centre=centre)
            for centre in mnist.ROTATION_CENTRES}
    np.testing.assert_array_equal(sets["middle"].train[:, 0], sets["half_size"].train[:, 0])
    assert not np.allclose(sets["middle"].train[:, 1], sets["half_size"].train[:, 1])
    assert "H/2, W/2" in sets["half_size"].source


def test_reference_details_are_refused_for_forecasting():
    with pytest.raises(configs.ConfigError, match="linear_init"):
        configs.validate(experiment_config("hamiltonian", model__linear_init="pytorch"))
