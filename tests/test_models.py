"""The Flax sequence models and the loss: shapes, index convention, and both couplings."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from locornn import configs, metrics, models
from tests.conftest import experiment_config


def _model_and_params(config, frames):
    model = models.build_model(config.model, frames.shape[2:])
    params = jax.jit(model.init)(jax.random.PRNGKey(0), frames)["params"]
    return model, params


def _apply(model, params, frames):
    """``model.apply`` as one jitted program (compiled once, kept in the compilation cache),
    not dispatched op by op."""
    return jax.jit(lambda p, x: model.apply({"params": p}, x))(params, frames)


@pytest.mark.parametrize("kind", ["locornn", "cornn"])
@pytest.mark.parametrize("codec", ["mlp", "conv"])
def test_sequence_model_maps_frames_to_next_frame_predictions(kind, codec):
    """(B, T, h, w, c) frames give (B, T, h, w, c) predictions in [0, 1] and the z trajectory."""
    config = experiment_config("waves", model__kind=kind, model__encoder=codec,
                               model__decoder=codec, model__hidden_units=20,
                               model__conv_features=4)
    frames = jax.random.uniform(jax.random.PRNGKey(1), (2, 5, 12, 12, 1))
    model, params = _model_and_params(config, frames)
    out = _apply(model, params, frames)
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
    a = _apply(model, params, frames)["prediction"]
    b = _apply(model, params, changed)["prediction"]
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


REFERENCE_CHOICES = {"model__encoder": "gaussian", "train__loss": "bce",
                     "train__time_reduction": "mean", "data__wrap_target": True,
                     "model__initial_state": "encoder_output"}


def _remat_loss_and_grads(block: int, sample: bool, **fields):
    """The training loss and its gradients at step 3, with ``model.remat_block = block``; without
    ``sample`` a Gaussian encoder gives its means (no ``"sample"`` stream). Both are computed
    jitted, as a train step computes them (one compiled program, not hundreds of op-by-op
    ones)."""
    from locornn import optim, tasks

    config = experiment_config("waves", model__remat_block=block, **fields)
    task = tasks.build_task(config)
    params = optim.create_train_state(config, task).params
    batch = jnp.asarray(task.train_batch(0))
    if sample:
        return jax.jit(jax.value_and_grad(task.loss))(params, batch, 3)
    model = models.build_model(config.model, batch.shape[2:])
    tc, wrap = config.train, config.data.wrap_target

    def loss(params):
        if block:
            value, kl = model.apply({"params": params}, batch, method=type(model).scanned_loss,
                                    likelihood=tc.loss, wrap=wrap,
                                    time_reduction=tc.time_reduction, block=block)
        else:
            out = model.apply({"params": params}, batch)
            value = metrics.forward_prediction_loss(out["prediction"], batch,
                                                    likelihood=tc.loss, wrap=wrap,
                                                    time_reduction=tc.time_reduction)
            kl = out.get("kl")
        return value if kl is None else value + metrics.reduce_frames(kl, tc.time_reduction)

    return jax.jit(jax.value_and_grad(loss))(params)


def _assert_same_loss_and_grads(ours, reference):
    (value, grads), (reference_value, reference_grads) = ours, reference
    assert float(value) == pytest.approx(float(reference_value), rel=1e-5)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(reference_grads), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fields", [
    {},  # squared error summed over frames, next-frame targets
    REFERENCE_CHOICES,  # the reference's (its Gaussian encoder giving its means)
    {"model__kind": "cornn", "model__hidden_units": 20},  # dense coupling
], ids=["default", "reference-choices", "cornn"])
def test_the_loss_computed_inside_rematerialised_blocks_equals_the_ordinary_loss(fields):
    """model.remat_block > 0: each block encodes its frames, runs the lattice and decodes and
    scores each z_t inside the scan; the loss (with its KL) and its gradients (encoder, drive,
    couplings, decoder) are those of the ordinary forward pass."""
    _assert_same_loss_and_grads(_remat_loss_and_grads(2, False, **fields),
                                _remat_loss_and_grads(0, False, **fields))


def test_blocks_draw_each_frames_encoder_noise_the_same_whatever_the_block_size():
    """With sampling, frame t's noise comes from fold_in(key, t): blocks of 2 and of 4 frames
    train on the same draw, and it is a draw (not the encoder's means)."""
    two, four = (_remat_loss_and_grads(block, True, **REFERENCE_CHOICES) for block in (2, 4))
    _assert_same_loss_and_grads(two, four)
    means, _ = _remat_loss_and_grads(2, False, **REFERENCE_CHOICES)
    assert abs(float(two[0]) - float(means)) > 1e-4


def _train_step_temporaries(steps: int, block: int) -> int:
    """Bytes of temporaries XLA allocates for a train step's gradient (compiled, not run)."""
    from locornn import optim, tasks

    config = experiment_config("waves", data__sequence_length=steps, model__remat_block=block,
                               model__encoder="gaussian")
    task = tasks.build_task(config)
    # the parameters' shapes are all lowering needs: traced, not computed
    params = jax.eval_shape(lambda: optim.create_train_state(config, task).params)
    frames = jax.ShapeDtypeStruct((config.train.batch_size, steps, *task.sample.shape[2:]),
                                  jnp.float32)
    compiled = jax.jit(jax.grad(task.loss)).lower(params, frames).compile()
    return compiled.memory_analysis().temp_size_in_bytes


def test_a_train_steps_memory_grows_sub_linearly_in_t_with_blocks_of_sqrt_t():
    """XLA's memory analysis of a whole train step (encoder, KL, lattice, decoder, loss): 16x
    the frames cost ~16x the temporaries without blocks, well under 16x with blocks of
    sqrt(T) frames, which encode their own frames."""
    plain_short, plain_long = _train_step_temporaries(16, 0), _train_step_temporaries(256, 0)
    remat_short, remat_long = _train_step_temporaries(16, 4), _train_step_temporaries(256, 16)
    assert plain_long > 12 * plain_short
    assert remat_long < 6 * remat_short
    assert remat_long < plain_long / 6


def test_a_remat_block_that_does_not_divide_the_sequence_is_refused():
    config = experiment_config("waves", model__remat_block=3)  # smoke sequences: 8 frames
    with pytest.raises(configs.ConfigError, match=r"'model.remat_block' \(3\) must divide "
                                                  r"'data.sequence_length' \(8\)"):
        configs.validate(config)
