"""Valid Prediction Time (DESIGN.md section 4): exact answers for known error curves."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from locornn import metrics

SHAPE = (4, 4, 3)  # H, W, C of a frame


def _trajectory(errors, level=0.5):
    """A target of constant brightness ``level`` and a prediction whose normalised error at
    frame t is exactly ``errors[t]`` (a uniform offset ``sqrt(e_t) * level``)."""
    errors = np.asarray(errors, np.float32)
    target = np.full((len(errors), *SHAPE), level, np.float32)
    offset = np.sqrt(errors)[:, None, None, None] * level
    return target + offset, target


def test_normalised_error_is_mse_over_mean_square_of_target():
    rng = np.random.default_rng(0)
    target = rng.uniform(size=(5, *SHAPE)).astype(np.float32)
    pred = rng.uniform(size=(5, *SHAPE)).astype(np.float32)
    expected = ((target - pred) ** 2).mean(axis=(1, 2, 3)) / (target**2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(metrics.normalised_error(pred, target), expected, rtol=1e-5)
    # batched: (N, T, H, W, C) -> (N, T)
    batch = metrics.normalised_error(np.stack([pred, target]), np.stack([target, target]))
    assert batch.shape == (2, 5)
    np.testing.assert_allclose(batch[0], expected, rtol=1e-5)
    np.testing.assert_array_equal(batch[1], 0.0)


def test_vpt_is_the_first_step_strictly_above_threshold():
    # steps 0..3 below 0.025, step 4 above
    pred, target = _trajectory([0.0, 0.01, 0.02, 0.024, 0.03, 0.0, 0.0, 0.0])
    assert int(metrics.vpt(pred, target)) == 4
    # an error exactly equal to the threshold is still valid (strictly greater fails):
    # offsets 0.25 and 0.5 on a target of 1.0 give e = 0.0625 and 0.25 exactly in float32
    target = np.ones((4, *SHAPE), np.float32)
    pred = target + np.array([0.0, 0.25, 0.25, 0.5], np.float32)[:, None, None, None]
    np.testing.assert_array_equal(metrics.normalised_error(pred, target), [0, 0.0625, 0.0625, 0.25])
    assert int(metrics.vpt(pred, target, threshold=0.0625)) == 3
    assert int(metrics.vpt(pred, target, threshold=0.0624)) == 1
    pred, target = _trajectory([0.0, 0.01, 0.02, 0.024, 0.03, 0.0, 0.0, 0.0])
    # a later recovery (step 6, 7) does not count: VPT is the first crossing
    assert int(metrics.vpt(pred, target, threshold=0.1)) == 8  # never crosses: full length


def test_vpt_never_crossing_is_the_full_extrapolation_length():
    pred, target = _trajectory([0.001] * 13)
    assert int(metrics.vpt(pred, target)) == 13
    assert int(metrics.vpt(target, target)) == 13  # a perfect forecast


def test_vpt_crossing_at_the_first_step_is_zero():
    pred, target = _trajectory([0.5, 0.0, 0.0])
    assert int(metrics.vpt(pred, target)) == 0


def test_vpt_offset_counts_steps_from_the_first_extrapolated_frame():
    # frames 0..9 are the training window (their errors do not matter), then 7 good steps
    errors = [1.0] * 10 + [0.0] * 7 + [0.1, 0.0]
    pred, target = _trajectory(errors)
    assert int(metrics.vpt(pred, target, offset=10)) == 7
    assert int(metrics.vpt(pred[10:], target[10:])) == 7
    assert int(metrics.vpt(pred, target)) == 0  # without the offset frame 0 already fails
    good = _trajectory([1.0] * 3 + [0.0] * 4)
    assert int(metrics.vpt(*good, offset=3)) == 4  # full extrapolation length = T - offset
    with pytest.raises(ValueError, match="offset"):
        metrics.vpt(*good, offset=8)


def test_vpt_normalises_by_the_target_energy():
    rng = np.random.default_rng(1)
    target = rng.uniform(0.2, 0.8, size=(20, *SHAPE)).astype(np.float32)
    drift = np.linspace(0, 0.3, 20, dtype=np.float32)[:, None, None, None]
    pred = np.clip(target + drift * rng.normal(size=target.shape).astype(np.float32), 0, 1)
    base = int(metrics.vpt(pred, target))
    assert 0 < base < 20
    # scaling target and prediction by the same factor leaves every e_t, hence VPT, unchanged
    for scale in (0.25, 0.5):
        assert int(metrics.vpt(scale * pred, scale * target)) == base
    # a constant absolute error crosses earlier on a dimmer target
    ramp = np.linspace(0, 0.2, 20, dtype=np.float32)[:, None, None, None]
    bright = np.full_like(target, 0.8)
    dim = np.full_like(target, 0.3)
    vpt_bright = int(metrics.vpt(bright + ramp, bright))
    vpt_dim = int(metrics.vpt(dim + ramp, dim))
    assert vpt_dim < vpt_bright
    # exact: e_t = ramp_t^2 / level^2 > 0.025  <=>  ramp_t > level * sqrt(0.025)
    r = np.linspace(0, 0.2, 20)
    assert vpt_bright == int(np.argmax(r > 0.8 * np.sqrt(0.025)))
    assert vpt_dim == int(np.argmax(r > 0.3 * np.sqrt(0.025)))


def test_vpt_treats_nan_and_uint8_sensibly():
    pred, target = _trajectory([0.0, 0.0, 0.0, 0.0])
    pred[2] = np.nan  # a diverged rollout is not a valid prediction
    assert int(metrics.vpt(pred, target)) == 2
    images = (np.random.default_rng(2).uniform(size=(6, *SHAPE)) * 255).astype(np.uint8)
    assert int(metrics.vpt(images, images)) == 6
    np.testing.assert_allclose(metrics.normalised_error(images, images.astype(np.float32) / 255),
                               0.0, atol=1e-6)


def test_vpt_batch_equals_a_loop_and_median():
    rng = np.random.default_rng(3)
    n, t = 7, 15
    target = rng.uniform(0.1, 1.0, size=(n, t, *SHAPE)).astype(np.float32)
    growth = rng.uniform(0.0, 0.05, size=(n, 1, 1, 1, 1)) * np.arange(t)[None, :, None, None, None]
    pred = (target + growth * rng.normal(size=target.shape)).astype(np.float32)
    batched = metrics.vpt_batch(pred, target)
    assert batched.shape == (n,) and batched.dtype == jnp.int32
    looped = [int(metrics.vpt(pred[i], target[i])) for i in range(n)]
    assert batched.tolist() == looped
    assert len(set(looped)) > 2  # the test exercises different answers
    assert float(metrics.median_vpt(pred, target)) == float(np.median(looped))
    np.testing.assert_array_equal(metrics.vpt_batch(pred, target, offset=4),
                                  [int(metrics.vpt(pred[i], target[i], offset=4))
                                   for i in range(n)])
    # even count: the median is the mean of the two middle values
    assert float(metrics.median_vpt(pred[:6], target[:6])) == float(np.median(looped[:6]))


def test_gaussian_blur_is_scipys_gaussian_filter_with_black_outside_the_image():
    from scipy import ndimage

    frames = np.random.default_rng(0).random((2, 3, 20, 17, 3)).astype(np.float32)
    for sigma in (0.7, 2.0, 4.0):
        expected = ndimage.gaussian_filter(frames, sigma=(0, 0, sigma, sigma, 0),
                                           mode="constant", cval=0.0, truncate=3.0)
        np.testing.assert_allclose(metrics.gaussian_blur(frames, sigma), expected, atol=1e-5)
    delta = np.zeros((32, 32, 1), np.float32)
    delta[16, 16] = 1.0
    assert float(metrics.gaussian_blur(delta, 3.0).sum()) == pytest.approx(1.0, rel=1e-5)
    delta[16, 16], delta[0, 0] = 0.0, 1.0  # in a corner the taps outside the image are lost
    taps = np.exp(-0.5 * (np.arange(-9, 10) / 3.0) ** 2)
    kept = (taps[9:].sum() / taps.sum()) ** 2  # one side of each axis, centre included
    assert float(metrics.gaussian_blur(delta, 3.0).sum()) == pytest.approx(kept, rel=1e-5)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        metrics.gaussian_blur(delta, 0.0)


def _disk(centre_x: float, radius: float = 3.0) -> np.ndarray:
    y, x = np.mgrid[0:32, 0:32] + 0.5
    return ((x - centre_x) ** 2 + (y - 16) ** 2 <= radius ** 2).astype(np.float32)[None, None,
                                                                                   ..., None]


def test_the_blurred_loss_points_a_disjoint_disk_toward_its_target_where_pixels_do_not():
    target = _disk(8.0)
    near, far = _disk(18.0), _disk(26.0)  # neither overlaps the target
    pixel = [float(metrics.forecast_loss(p, target)) for p in (near, far)]
    assert pixel[0] == pytest.approx(pixel[1])  # flat: no direction toward the target
    blurred = [float(metrics.forecast_loss_blurred(p, target, sigma=4.0)) for p in (near, far)]
    assert blurred[0] < blurred[1]
    assert float(metrics.forecast_loss_blurred(target, target, sigma=4.0)) == 0.0


def test_forecast_loss_scores_aligned_frames():
    frames = np.zeros((2, 3, 2, 2, 1), np.float32)
    prediction = np.zeros_like(frames)
    prediction[:, 1] = 1.0
    assert float(metrics.forecast_loss(prediction, frames)) == pytest.approx(4.0)
    assert float(metrics.forecast_mse(prediction, frames)) == pytest.approx(1 / 3)
    assert float(metrics.forecast_loss(frames, frames)) == 0.0
    with pytest.raises(ValueError, match="differ"):
        metrics.forecast_loss(prediction[:, :2], frames)


def test_vpt_is_jittable_inside_user_code():
    pred, target = _trajectory([0.0, 0.0, 0.1])
    assert int(jax.jit(lambda p, t: metrics.vpt(p, t, 0.05))(pred, target)) == 2
