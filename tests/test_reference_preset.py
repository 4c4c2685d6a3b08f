"""The reference code's rotating-MNIST choices, one config field each (DESIGN.md section 2b).

Each field changes what it claims and nothing else; the ``reference`` preset sets them all.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from locornn import configs, dynamics, metrics, models, optim, tasks
from tests.conftest import experiment_config

FRAMES = jax.random.uniform(jax.random.PRNGKey(1), (2, 5, 12, 12, 1))


def _model(**updates):
    config = experiment_config("rotating_mnist", **updates)
    model = models.build_model(config.model, FRAMES.shape[2:])
    return config, model, model.init(jax.random.PRNGKey(0), FRAMES)["params"]


def test_constant_init_sets_every_coupling_and_the_drive_to_one_over_the_sites():
    _, _, params = _model(model__coupling_init="constant")
    sites = 8 * 8  # the smoke lattice; the reference's 36 x 36 gives 1/1296
    for kernel in (params["core"]["position_kernel"], params["core"]["velocity_kernel"],
                   params["drive"]["kernel"]):
        np.testing.assert_array_equal(kernel, np.full(kernel.shape, 1 / sites, np.float32))


def test_site_bias_is_one_bias_per_lattice_site_and_replaces_the_drives_bias():
    _, _, params = _model(model__site_bias=True)
    assert params["core"]["bias"].shape == (8, 8, 1)
    assert "bias" not in params["drive"]
    _, _, default = _model()
    assert default["core"]["bias"].shape == (1,) and default["drive"]["bias"].shape == (1,)


def test_default_sequence_model_is_unchanged_by_the_new_fields():
    """coupling_init 'lecun' (default) draws the same kernels as before the field was wired."""
    _, _, params = _model()
    kernel = params["core"]["position_kernel"]
    assert kernel.shape == (3, 3, 1, 1) and float(jnp.std(kernel)) > 0  # LeCun normal, random


def test_gaussian_encoder_samples_in_training_and_uses_its_mean_otherwise():
    _, model, params = _model(model__encoder="gaussian")
    assert "norm" not in params["encoder"]  # LayerNorm without a learned scale or shift
    assert params["encoder"]["project"]["kernel"].shape == (144, 2 * 64)  # mean, log-variance
    mean_a = model.apply({"params": params}, FRAMES)
    mean_b = model.apply({"params": params}, FRAMES)
    np.testing.assert_array_equal(mean_a["z"], mean_b["z"])  # deterministic without an rng
    sample_a = model.apply({"params": params}, FRAMES, rngs={"sample": jax.random.PRNGKey(3)})
    sample_b = model.apply({"params": params}, FRAMES, rngs={"sample": jax.random.PRNGKey(4)})
    assert not np.allclose(sample_a["z"], sample_b["z"])
    assert mean_a["kl"].shape == (2, 5) and bool(jnp.all(mean_a["kl"] >= 0))


def test_gaussian_encoder_kl_is_that_of_its_mean_and_variance():
    """KL(N(mu, s^2) || N(0, 1)) = 1/2 sum(mu^2 + s^2 - 1 - log s^2), per frame."""
    encoder = models.codecs.GaussianEncoder((2, 2, 1), layernorm=False)
    images = jax.random.uniform(jax.random.PRNGKey(0), (3, 4, 4, 1))
    params = encoder.init(jax.random.PRNGKey(1), images)["params"]
    _, kl = encoder.apply({"params": params}, images)
    stats = images.reshape(3, -1) @ params["project"]["kernel"] + params["project"]["bias"]
    mu, log_var = stats[:, :4], stats[:, 4:]
    expected = 0.5 * jnp.sum(mu**2 + jnp.exp(log_var) - 1 - log_var, axis=-1)
    np.testing.assert_allclose(kl, expected, rtol=1e-5)


def test_encoder_output_initial_state_starts_z_at_the_first_frames_encoding():
    _, model, params = _model(model__initial_state="encoder_output", model__encoder="gaussian")
    out = model.apply({"params": params}, FRAMES)
    encoded, _ = model.apply({"params": params}, FRAMES, method=model.encode)
    core = model.apply({"params": params}, method=lambda m: m.core())
    drives = model.apply({"params": params}, FRAMES, method=model.drives)
    zs = dynamics.rollout(core, drives, dynamics.State(encoded[:, 0], jnp.zeros_like(
        encoded[:, 0])), model.coupling)
    np.testing.assert_allclose(out["z"], jnp.swapaxes(zs, 0, 1), rtol=1e-5, atol=1e-6)


def test_encoder_output_needs_as_many_encoded_channels_as_lattice_channels():
    with pytest.raises(configs.ConfigError, match="encoded_channels"):
        configs.validate(experiment_config("rotating_mnist", model__initial_state="encoder_output",
                                           model__encoded_channels=2))


def test_wrap_target_scores_the_last_prediction_against_the_first_frame():
    frames = jnp.arange(2 * 4, dtype=jnp.float32).reshape(1, 4, 2, 1, 1)
    predicted, target = metrics.next_frame_pairs(frames, frames, wrap=True)
    np.testing.assert_array_equal(target[:, -1], frames[:, 0])
    np.testing.assert_array_equal(target[:, :-1], frames[:, 1:])
    assert metrics.next_frame_pairs(frames, frames)[1].shape[1] == 3  # no wrap: T - 1 pairs


def test_bce_loss_is_the_bernoulli_negative_log_likelihood_summed_over_pixels():
    rng = np.random.default_rng(0)
    p = jnp.asarray(rng.uniform(0.05, 0.95, (2, 3, 4, 4, 1)), jnp.float32)
    x = jnp.asarray(rng.uniform(0, 1, (2, 3, 4, 4, 1)), jnp.float32)
    nll = -(x[:, 1:] * np.log(p[:, :-1]) + (1 - x[:, 1:]) * np.log(1 - p[:, :-1]))
    per_frame = nll.reshape(2, 2, -1).sum(-1)
    np.testing.assert_allclose(metrics.forward_prediction_loss(p, x, likelihood="bce"),
                               per_frame.sum(1).mean(), rtol=1e-5)
    np.testing.assert_allclose(
        metrics.forward_prediction_loss(p, x, likelihood="bce", time_reduction="mean"),
        per_frame.mean(1).mean(), rtol=1e-5)
    assert np.isfinite(float(metrics.forward_prediction_loss(jnp.zeros_like(p), x + 0.5,
                                                             likelihood="bce")))  # clipped


def test_sgd_optimizer_is_optax_sgd_with_momentum():
    config = experiment_config("rotating_mnist", train__optimizer="sgd", train__momentum=0.9,
                               train__learning_rate=0.1)
    ours = optim.make_optimizer(config.train)
    reference = optax.sgd(0.1, momentum=0.9)
    params = {"w": jnp.ones(3)}
    grads = {"w": jnp.asarray([1.0, -2.0, 0.5])}
    state_a, state_b = ours.init(params), reference.init(params)
    for _ in range(3):
        update_a, state_a = ours.update(grads, state_a, params)
        update_b, state_b = reference.update(grads, state_b, params)
        np.testing.assert_allclose(update_a["w"], update_b["w"], rtol=1e-6)


def test_training_loss_adds_the_weighted_kl_and_samples_from_seed_and_step():
    config = experiment_config("rotating_mnist", model__encoder="gaussian", train__kl_weight=0.5,
                               train__loss="bce", train__time_reduction="mean",
                               data__wrap_target=True)
    task = tasks.build_task(config)
    params = optim.create_train_state(config, task).params
    batch = jnp.asarray(task.train_batch(0))
    out = task.model.apply({"params": params}, batch)
    expected = (metrics.forward_prediction_loss(out["prediction"], batch, likelihood="bce",
                                                wrap=True, time_reduction="mean")
                + 0.5 * jnp.mean(out["kl"].mean(1)))
    held_out = task.evaluate(params)  # evaluation: the encoder's mean, so exactly `expected`
    assert np.isfinite(held_out["loss"])
    eval_step_loss = tasks._sequence_objectives(config, task.model)[1](params, batch)["loss"]
    np.testing.assert_allclose(eval_step_loss, expected, rtol=1e-5)
    same = [float(task.loss(params, batch, 7)) for _ in range(2)]
    assert same[0] == same[1]  # a pure function of (seed, step) ...
    assert float(task.loss(params, batch, 8)) != same[0]  # ... whose sample changes with step


def test_reference_preset_sets_every_choice_of_the_reference_code():
    config = configs.load("rotating_mnist:reference", [])
    expected = {
        "model.lattice": 36, "model.kernel_size": 3, "model.coupling_init": "constant",
        "model.site_bias": True, "model.encoder": "gaussian", "model.drive_layernorm": True,
        "model.initial_state": "encoder_output", "model.decoder": "mlp",
        "model.linear_init": "pytorch", "model.initial_noise": "independent",
        "model.layernorm_eps": 1e-5, "model.unused_latents": 1296,
        "data.rotation_centre": "half_size", "train.optimizer": "sgd", "train.momentum": 0.9,
        "train.learning_rate": 2.5e-4,
        "train.batch_size": 128, "train.num_steps": 18750, "train.loss": "bce",
        "train.time_reduction": "mean", "train.kl_weight": 1.0, "data.wrap_target": True,
        "data.num_train": 48000, "data.sequence_length": 18,
    }
    for path, value in expected.items():
        section, key = path.split(".")
        assert config[section][key] == value, path
    assert config.train.bce_eps == np.finfo(np.float32).eps  # torch's Bernoulli clamp
    assert model_dt_raw(config) == np.float32(-1.95)  # their raw dt parameter, exactly


def model_dt_raw(config):
    """The stored (raw) dt parameter of a config's LocoRNN, at initialisation."""
    core = models.oscillator.OscillatorCore(
        (3, 3, 1, 1), (1,), dt=config.model.dt, learn_constants=True)
    return core.init(jax.random.PRNGKey(0))["params"]["dt_raw"]


def test_experiments_without_a_reference_preset_say_so():
    with pytest.raises(configs.ConfigError, match="has no 'reference' preset"):
        configs.load("hamiltonian:reference", [])


@pytest.mark.parametrize("name, lattice", [("waves", 32), ("noise", 32), ("orientation", 72)])
def test_sequence_experiments_take_the_same_reference_choices(name, lattice):
    config = configs.load(f"{name}:reference", [])
    assert config.model.lattice == lattice
    assert (config.model.encoder, config.model.coupling_init, config.train.optimizer,
            config.train.loss, config.model.initial_state) == (
        "gaussian", "constant", "sgd", "bce", "encoder_output")
    assert not config.data.wrap_target  # a drifting wave is not one period of a cycle
    for path, value in configs.REFERENCE_CODE_DETAILS.items():  # the reference code's details
        section, key = path.split(".")
        assert config[section][key] == value, path
    if name != "noise":  # periods a lattice at dt 0.125 can follow
        assert (config.data.period_min, config.data.period_max) == (10.0, 30.0)


@pytest.mark.parametrize("padding, flax_padding", [("circular", "CIRCULAR"), ("zero", "SAME")])
def test_lattice_drive_is_flax_conv_with_the_same_parameters(padding, flax_padding):
    """K_x moved from nn.Conv to dynamics.lattice_conv (a faster gradient): same parameter
    names, shapes and initial values, same outputs, same gradients."""
    import flax.linen as nn

    x = jax.random.normal(jax.random.PRNGKey(0), (3, 6, 6, 2))
    ours = models.oscillator.LatticeDrive(4, 3, padding)
    flax_conv = nn.Conv(4, (3, 3), padding=flax_padding)
    params = ours.init(jax.random.PRNGKey(1), x)
    reference = flax_conv.init(jax.random.PRNGKey(1), x)
    assert jax.tree.structure(params) == jax.tree.structure(reference)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(reference), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(ours.apply(params, x), flax_conv.apply(params, x), rtol=1e-5,
                               atol=1e-5)
    grads = [jax.grad(lambda p, f=f: jnp.sum(jnp.sin(f.apply(p, x))))(params)
             for f in (ours, flax_conv)]
    for a, b in zip(*map(jax.tree.leaves, grads), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
