"""The reference's autoregressive forecaster, closed-loop training, and the open-loop variants
against self-damping: each field does what it says."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from locornn import metrics, tasks
from locornn.models import forecasting

IMAGE = (8, 8, 3)
K, T, B = 3, 7, 2  # context frames, window, batch
TINY = dict(lattice=4, channels=1, hidden_units=8, lstm_units=8, gru_units=6, encoded_units=6,
            context_frames=K, encoder="mlp", decoder="mlp", decoder_hidden=5)
FRAMES = jax.random.uniform(jax.random.PRNGKey(0), (B, T, *IMAGE))
REFERENCE = dict(rollout="autoregressive", coupling_init="smoothing", site_bias=True,
                 decode_velocity=True, state_from_gru=True)


def _model(kind="locornn", **fields):
    config = ml_collections.ConfigDict(dict(TINY, kind=kind, **fields))
    return forecasting.build_forecast_model(config, IMAGE)


def _init(model, frames=FRAMES):
    return jax.jit(model.init)(jax.random.PRNGKey(1), frames)["params"]


def _apply(model, params, frames, **kwargs):
    """``model.apply`` as one jitted program (``kwargs``, such as ``num_steps``, fixed in it), not
    dispatched op by op: the same outputs, compiled once and kept in the compilation cache."""
    return jax.jit(lambda p, x: model.apply({"params": p}, x, **kwargs))(params, frames)


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


AUTOREGRESSIVE = [("locornn", dict(rollout="autoregressive")), ("locornn", REFERENCE),
                  ("cornn", REFERENCE), ("lstm", dict(rollout="autoregressive"))]


@pytest.mark.parametrize("kind,fields", AUTOREGRESSIVE)
def test_teacher_forcing_drives_every_step_with_the_true_frame(kind, fields):
    model = _model(kind, **fields)
    params = _init(model)
    out = _apply(model, params, FRAMES)
    # Frame t (t >= K: not read by the GRU) drives step t: states up to t are untouched by it,
    # the state after it changes.
    t = K + 1
    changed = _apply(model, params, FRAMES.at[:, t].set(0.0))
    _close(out["z"][:, :t + 1], changed["z"][:, :t + 1])
    assert not np.allclose(out["z"][:, t + 1], changed["z"][:, t + 1])
    assert out["prediction"].shape == FRAMES.shape


@pytest.mark.parametrize("kind,fields", AUTOREGRESSIVE)
def test_closed_loop_forecast_is_teacher_forcing_on_its_own_pictures(kind, fields):
    """The closed loop feeds the decoded frame back: forecasting from the context equals
    teacher forcing on a sequence whose frames after the context are the forecast itself."""
    model = _model(kind, **fields)
    params = _init(model)
    forecast = _apply(model, params, FRAMES[:, :K], num_steps=T - K)["prediction"]
    own = jnp.concatenate([FRAMES[:, :K], forecast[:, K:]], axis=1)
    _close(_apply(model, params, own)["prediction"], forecast)


@pytest.mark.parametrize("kind,fields", AUTOREGRESSIVE)
def test_changing_the_decoder_changes_the_closed_loop_states_only(kind, fields):
    model = _model(kind, **fields)
    params = _init(model)
    bent = jax.tree_util.tree_map_with_path(
        lambda path, x: x + 0.3 if "decoder" in jax.tree_util.keystr(path) else x, params)
    z = _apply(model, params, FRAMES[:, :K], num_steps=T - K)["z"]
    z_bent = _apply(model, bent, FRAMES[:, :K], num_steps=T - K)["z"]
    # States 0..K come from the GRU and the K true frames; the decoder enters at state K + 1.
    _close(z[:, :K + 1], z_bent[:, :K + 1])
    assert not np.allclose(z[:, K + 1:], z_bent[:, K + 1:])


def test_open_loop_states_never_depend_on_the_decoder_or_on_frames_after_the_context():
    model = _model("locornn")
    params = _init(model)
    bent = jax.tree_util.tree_map_with_path(
        lambda path, x: x + 0.3 if "decoder" in jax.tree_util.keystr(path) else x, params)
    z = _apply(model, params, FRAMES)["z"]
    _close(z, _apply(model, bent, FRAMES)["z"])
    _close(z, _apply(model, params, FRAMES.at[:, K:].set(0.0))["z"])


def test_a_traced_feedback_start_matches_the_static_paths():
    model = _model("locornn", **REFERENCE)
    params = _init(model)
    apply = jax.jit(lambda p, f, start: model.apply({"params": p}, f, feedback_from=start))
    # feedback from T: teacher forcing (the fast path without pictures in the scan)
    _close(apply(params, FRAMES, jnp.int32(T))["prediction"],
           _apply(model, params, FRAMES)["prediction"])
    # feedback from K: the forecast from the context alone
    _close(apply(params, FRAMES, jnp.int32(K))["prediction"],
           _apply(model, params, FRAMES[:, :K], num_steps=T - K)["prediction"])


def test_reference_fields_shape_the_parameters():
    params = _init(_model("locornn", **REFERENCE))
    lattice = (TINY["lattice"],) * 2
    assert params["core"]["bias"].shape == (*lattice, 1)  # one bias per site
    assert "initial_state" not in params  # the GRU's state is (z0, v0) itself
    assert params["inference_gru"]["hn"]["kernel"].shape[-1] == 2 * 16
    assert params["decoder"]["hidden"]["kernel"].shape[0] == 2 * 16  # reads [z, v]
    assert params["drive_kernel"].shape == (3, 3, 1, 1)  # K_x on the encoded lattice
    # smoothing init: 1/9 + N(0, 0.1^2) truncated at 2 std, for K_z, K_v and K_x alike
    kernels = np.concatenate([np.ravel(params["core"]["position_kernel"]),
                              np.ravel(params["core"]["velocity_kernel"]),
                              np.ravel(params["drive_kernel"])])
    assert np.all(np.abs(kernels - 1 / 9) <= 0.2 + 1e-6)
    plain = _init(_model("locornn", rollout="autoregressive"))
    assert plain["core"]["bias"].shape == (1,) and "initial_state" in plain


def test_smoothing_init_has_the_reference_mean_and_spread():
    init = forecasting.coupling_initializer("smoothing")
    kernel = np.asarray(init(jax.random.PRNGKey(0), (3, 3, 1, 4000)))
    assert kernel.mean() == pytest.approx(1 / 9, abs=0.003)
    assert 0.07 < kernel.std() < 0.1  # a 2-sigma truncated N(0, 0.1^2) has std 0.088
    lecun = np.asarray(forecasting.coupling_initializer("lecun")(jax.random.PRNGKey(0),
                                                                 (3, 3, 1, 4000)))
    assert abs(lecun.mean()) < 0.01


def test_decode_velocity_makes_the_picture_depend_on_v():
    """With a linear decoder the picture's logit is ``W_z z_t + W_v v_t + b``, and symplectic
    Euler gives ``v_t = (z_t - z_{t-1}) / dt``: the decoder reads the true velocity."""
    model = _model("locornn", decode_velocity=True, decoder_hidden=0)
    params = _init(model)
    out = _apply(model, params, FRAMES)
    kernel, bias = params["decoder"]["project"]["kernel"], params["decoder"]["project"]["bias"]
    assert kernel.shape[0] == 2 * 16  # [z, v] on the 4x4x1 lattice
    z = out["z"].reshape(B, T, 16)
    dt = jax.nn.sigmoid(params["core"]["dt_raw"])
    v = (z[:, 1:] - z[:, :-1]) / dt
    logit = jax.scipy.special.logit(out["prediction"][:, 1:].reshape(B, T - 1, -1))
    # [z, v] is concatenated on the channel axis, so the flattened rows alternate z, v per site
    _close(logit - z[:, 1:] @ kernel[0::2] - bias, v @ kernel[1::2])


def test_zero_sum_velocity_kernel_and_damping_cap_act_on_the_effective_parameters():
    model = _model("locornn", velocity_kernel_sum="zero", alpha_max=0.3, alpha=0.5)
    params = _init(model)
    params["core"]["velocity_kernel"] = params["core"]["velocity_kernel"] + 2.0
    learned = forecasting.learned_constants(params, model.config)
    assert learned["alpha"] == pytest.approx(0.3)  # capped below its raw 0.5
    assert abs(learned["velocity_kernel_sum"]) < 1e-5  # a uniform velocity feels no coupling
    free = _model("locornn")
    assert forecasting.learned_constants(params, free.config)["velocity_kernel_sum"] > 10
    # and the rollout sees the constrained kernel: adding a constant to K_v changes nothing
    base = _init(model)
    shifted = dict(base, core=dict(base["core"],
                                   velocity_kernel=base["core"]["velocity_kernel"] + 2.0))
    _close(_apply(model, base, FRAMES)["z"],
           _apply(model, shifted, FRAMES)["z"])


def test_frame_weights_ramp_to_late_frames_with_mean_one_and_mask_the_rest():
    weights = np.asarray(metrics.frame_weights(5, late_weight=3.0))
    np.testing.assert_allclose(weights, np.linspace(1, 3, 5) / 2.0, rtol=1e-6)
    assert weights.mean() == pytest.approx(1.0) and weights[-1] / weights[0] == pytest.approx(3)
    np.testing.assert_array_equal(metrics.frame_weights(4), np.ones(4))
    masked = np.asarray(metrics.frame_weights(6, first=1, scored=4))
    np.testing.assert_array_equal(masked, [0, 1, 1, 1, 0, 0])
    prediction, frames = jnp.ones((2, 3, 2, 2, 1)), jnp.zeros((2, 3, 2, 2, 1))
    assert float(metrics.forecast_loss(prediction, frames, jnp.array([0.0, 1.0, 2.0]))) == 12.0


def _objective_config(**updates):
    from tests.conftest import experiment_config

    return experiment_config("hamiltonian", model__context_frames=K, data__sequence_length=T,
                             **{k.replace(".", "__"): v for k, v in updates.items()})


def test_curricula_grow_what_the_loss_sees():
    config = _objective_config(**{"train.curriculum_steps": 10})
    config.model.update(TINY)
    model = forecasting.build_forecast_model(config.model, IMAGE)
    params = _init(model)
    loss = jax.jit(tasks.forecast_objectives(config, model)[0])  # the step traced, as in training
    late = FRAMES.at[:, -1].set(1.0 - FRAMES[:, -1])  # differs only in the last frame
    # open loop: at step 0 the scored window is the context + 1 frame, so the last frame does
    # not count; at the end of the curriculum it does
    assert float(loss(params, FRAMES, 0)) == float(loss(params, late, 0))
    assert float(loss(params, FRAMES, 9)) != float(loss(params, late, 9))

    config = _objective_config(**{"train.curriculum_steps": 10, "train.closed_loop_frames": 4,
                                  "model.rollout": "autoregressive"})
    config.model.update({**TINY, "rollout": "autoregressive"})
    model = forecasting.build_forecast_model(config.model, IMAGE)
    params = _init(model)
    loss = jax.jit(tasks.forecast_objectives(config, model)[0])
    weights = metrics.frame_weights(T, first=1)

    def scored(prediction):
        return float(metrics.forecast_loss(prediction, FRAMES, weights))

    forced = _apply(model, params, FRAMES)["prediction"]
    closed = _apply(model, params, FRAMES, feedback_from=T - 4)["prediction"]
    assert float(loss(params, FRAMES, 0)) == pytest.approx(scored(forced), rel=1e-5)  # k = 0
    assert float(loss(params, FRAMES, 9)) == pytest.approx(scored(closed), rel=1e-5)  # k = 4
    assert scored(forced) != pytest.approx(scored(closed), rel=1e-3)


def test_the_blurred_loss_adds_the_pixel_loss_of_blurred_frames_and_only_when_asked():
    config = _objective_config(**{"train.blur_sigma": 1.5})
    config.model.update(TINY)
    model = forecasting.build_forecast_model(config.model, IMAGE)
    params = _init(model)
    prediction = _apply(model, params, FRAMES)["prediction"]
    pixel = float(metrics.forecast_loss(prediction, FRAMES))
    blurred = float(metrics.forecast_loss(metrics.gaussian_blur(prediction, 1.5),
                                          metrics.gaussian_blur(FRAMES, 1.5)))
    loss, eval_step = tasks.forecast_objectives(config, model)
    assert float(loss(params, FRAMES)) == pytest.approx(pixel + blurred, rel=1e-5)
    # the held-out MSE stays the plain per-pixel error, whatever the objective
    held_out = eval_step(params, FRAMES)
    assert float(held_out["mse"]) == pytest.approx(float(jnp.mean((prediction - FRAMES) ** 2)),
                                                   rel=1e-5)
    config.train.blur_sigma = 0.0
    assert float(tasks.forecast_objectives(config, model)[0](params, FRAMES)) == pytest.approx(
        pixel, rel=1e-5)
