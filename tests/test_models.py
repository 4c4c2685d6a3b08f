"""The Flax sequence models and the loss: shapes, index convention, and both couplings."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from locornn import configs, metrics, models
from tests.conftest import experiment_config


def _model_and_params(config, frames):
    model = models.build_model(config.model, frames.shape[2:])
    params = model.init(jax.random.PRNGKey(0), frames)["params"]
    return model, params


@pytest.mark.parametrize("kind", ["locornn", "cornn"])
@pytest.mark.parametrize("codec", ["mlp", "conv"])
def test_sequence_model_maps_frames_to_next_frame_predictions(kind, codec):
    """(B, T, h, w, c) frames give (B, T, h, w, c) predictions in [0, 1] and the z trajectory."""
    config = experiment_config("waves", model__kind=kind, model__encoder=codec,
                               model__decoder=codec, model__hidden_units=20,
                               model__conv_features=4)
    frames = jax.random.uniform(jax.random.PRNGKey(1), (2, 5, 12, 12, 1))
    model, params = _model_and_params(config, frames)
    out = model.apply({"params": params}, frames)
    assert out["prediction"].shape == frames.shape
    assert bool(jnp.all((out["prediction"] >= 0) & (out["prediction"] <= 1)))
    state = (8, 8, 1) if kind == "locornn" else (20,)
    assert out["z"].shape == (2, 5, *state)


def test_prediction_at_t_depends_only_on_frames_up_to_t():
    """Causality: changing frame t+1 onwards leaves predictions 0..t unchanged."""
    config = experiment_config("waves")
    frames = jax.random.uniform(jax.random.PRNGKey(2), (1, 6, 12, 12, 1))
    model, params = _model_and_params(config, frames)
    changed = frames.at[:, 4:].set(0.0)
    a = model.apply({"params": params}, frames)["prediction"]
    b = model.apply({"params": params}, changed)["prediction"]
    np.testing.assert_allclose(a[:, :4], b[:, :4], rtol=1e-6)
    assert not np.allclose(a[:, 4:], b[:, 4:])


def test_forward_prediction_loss_scores_prediction_t_against_frame_t_plus_1():
    """L = mean_b sum_{t<T-1} ||prediction[t] - frames[t+1]||^2; the last prediction is unscored."""
    frames = np.zeros((2, 4, 3, 3, 1), np.float32)
    frames[:, 2] = 1.0  # only frame 2 is bright
    prediction = np.zeros_like(frames)
    assert float(metrics.forward_prediction_loss(prediction, frames)) == pytest.approx(9.0)
    prediction[:, 1] = 1.0  # prediction 1 forecasts frame 2: perfect now
    assert float(metrics.forward_prediction_loss(prediction, frames)) == pytest.approx(0.0)
    prediction[:, 3] = 5.0  # the last prediction has no target
    assert float(metrics.forward_prediction_loss(prediction, frames)) == pytest.approx(0.0)


def test_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="differ"):
        metrics.forward_prediction_loss(np.zeros((1, 3, 4, 4, 1)), np.zeros((1, 3, 4, 4, 3)))


def test_model_rejects_frames_of_the_wrong_size():
    config = experiment_config("waves")
    frames = jnp.zeros((1, 5, 12, 12, 1))
    model, params = _model_and_params(config, frames)
    with pytest.raises(ValueError, match=r"expected frames \(B, T, 12, 12, 1\)"):
        model.apply({"params": params}, jnp.zeros((1, 5, 16, 16, 1)))


def test_learnable_constants_start_at_the_reference_values():
    """dt = sigmoid(raw) with raw ~ -1.95 (dt 0.125), gamma = 1, alpha = 0.5; bias zero."""
    config = experiment_config("waves", model__dt=configs.base_config().model.dt)
    frames = jnp.zeros((1, 3, 12, 12, 1))
    _, params = _model_and_params(config, frames)
    core = params["core"]
    assert float(core["dt_raw"]) == pytest.approx(-1.9459, abs=1e-3)
    assert float(jax.nn.sigmoid(core["dt_raw"])) == pytest.approx(0.125)
    assert float(core["gamma_raw"]) == 1.0 and float(core["alpha_raw"]) == 0.5
    assert not np.any(core["bias"])


def test_tied_kernels_have_one_coupling_kernel_and_fixed_constants_are_not_params():
    config = experiment_config("waves", model__tie_kernels=True, model__learn_constants=False)
    _, params = _model_and_params(config, jnp.zeros((1, 3, 12, 12, 1)))
    assert set(params["core"]) == {"position_kernel", "bias"}


@pytest.mark.parametrize("fields", [
    {},  # squared error summed over frames, next-frame targets
    {"model__encoder": "gaussian", "train__loss": "bce", "train__time_reduction": "mean",
     "data__wrap_target": True, "model__initial_state": "encoder_output"},  # the reference's
], ids=["default", "reference-choices"])
def test_the_loss_decoded_inside_rematerialised_blocks_equals_the_ordinary_loss(fields):
    """model.remat_block > 0: each z_t is decoded and scored inside the scan; the training loss
    and its gradients (encoder, couplings, decoder) are those of decoding the trajectory."""
    from locornn import tasks, train

    results = []
    for block in (0, 2):
        config = experiment_config("waves", model__remat_block=block, **fields)
        task = tasks.build_task(config)
        state = train.create_train_state(config, task)
        batch = jnp.asarray(task.train_batch(0))
        results.append(jax.value_and_grad(task.loss)(state.params, batch, 3))
    (plain, plain_grads), (blocked, blocked_grads) = results
    assert float(blocked) == pytest.approx(float(plain), rel=1e-5)
    for a, b in zip(jax.tree.leaves(blocked_grads), jax.tree.leaves(plain_grads), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_remat_block_that_does_not_divide_the_sequence_is_refused():
    config = experiment_config("waves", model__remat_block=3)  # smoke sequences: 8 frames
    with pytest.raises(configs.ConfigError, match=r"'model.remat_block' \(3\) must divide "
                                                  r"'data.sequence_length' \(8\)"):
        configs.validate(config)
