"""Built-in data: plane waves and noise are deterministic, in range, and split train/test."""

import jax
import numpy as np
import pytest

from locornn import data
from locornn.data import waves
from tests.conftest import experiment_config


def test_plane_wave_has_the_requested_wavelength_orientation_and_drift():
    """A wave along +x with wavelength 8 and speed 1 px/frame: x_t(col) = x_0(col - t)."""
    params = waves.WaveParams(orientation=np.array([0.0]), wavelength=np.array([8.0]),
                              speed=np.array([1.0]), phase=np.array([0.3]))
    frames = np.asarray(waves.render_plane_waves(params, length=4, size=16))[0, ..., 0]
    assert frames.shape == (4, 16, 16)
    np.testing.assert_allclose(frames[0, :, :8], frames[0, :, 8:], atol=1e-5)  # period 8
    np.testing.assert_allclose(frames[0], frames[0, :1].repeat(16, 0), atol=1e-6)  # rows equal
    np.testing.assert_allclose(frames[1, :, 1:], frames[0, :, :-1], atol=1e-5)  # drifts +1 col
    spectrum = np.abs(np.fft.rfft(frames[0, 0] - frames[0, 0].mean()))
    assert np.argmax(spectrum) == 16 // 8


def test_wave_at_90_degrees_varies_along_rows():
    params = waves.WaveParams(np.array([np.pi / 2]), np.array([6.0]), np.array([1.0]),
                              np.array([0.0]))
    frame = np.asarray(waves.render_plane_waves(params, 1, 12))[0, 0, ..., 0]
    np.testing.assert_allclose(frame, frame[:, :1].repeat(12, 1), atol=1e-6)
    assert frame[:, 0].std() > 0.2


def test_waves_and_noise_are_in_unit_range_and_deterministic():
    key = jax.random.PRNGKey(3)
    for make in (lambda k: waves.plane_waves(k, 4, 5, 10), lambda k: waves.noise(k, 4, 5, 10)):
        a, b, c = make(key), make(key), make(jax.random.PRNGKey(4))
        assert a.shape == (4, 5, 10, 10, 1)
        assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c)


@pytest.mark.parametrize("name", ["waves", "noise"])
def test_train_and_test_splits_are_fixed_and_disjoint(name):
    config = experiment_config(name)
    first, second = data.load(config.data), data.load(config.data)
    np.testing.assert_array_equal(first.train, second.train)
    assert first.train.shape == (64, 8, 12, 12, 1) and first.test.shape == (16, 8, 12, 12, 1)
    for sequence in first.test:  # no held-out sequence appears in training
        assert not np.any(np.all(first.train == sequence, axis=(1, 2, 3, 4)))


def test_train_batches_depend_only_on_seed_and_step():
    train = np.arange(10)[:, None]
    a = [data.train_batch(train, step, 3, seed=0) for step in range(7)]
    b = data.train_batch(train, 5, 3, seed=0)
    np.testing.assert_array_equal(a[5], b)
    epoch = np.concatenate(a[:3]).ravel()
    assert len(set(epoch.tolist())) == 9  # one epoch: 3 batches without repeats
    assert not np.array_equal(data.train_batch(train, 0, 3, seed=1), a[0])


def test_part_of_a_batch_is_those_rows_of_the_whole_batch():
    """A host builds only its devices' rows: the same sequences as the whole batch's rows."""
    train = np.arange(40 * 2).reshape(40, 2)
    whole = data.train_batch(train, 7, 8, seed=3)
    for rows in (slice(0, 4), slice(4, 8), slice(2, 3)):
        np.testing.assert_array_equal(data.train_batch(train, 7, 8, seed=3, rows=rows),
                                      whole[rows])


# --------------------------------------------------------------------------------------------
# data.on_demand: sequences made when indexed, never the whole split


def test_on_demand_waves_are_the_same_frames_rendered_only_when_indexed():
    """data.on_demand = True: the same train and test frames as the whole split, built row by
    row (by an int, a slice or an index array, as train_batch and test_batches index)."""
    whole = data.load(experiment_config("waves").data)
    lazy = data.load(experiment_config("waves", data__on_demand=True).data)
    assert isinstance(lazy.train, waves.OnDemand) and "on demand" in lazy.source
    for split in ("train", "test"):
        eager, rendered = getattr(whole, split), getattr(lazy, split)
        assert rendered.shape == eager.shape and len(rendered) == len(eager)
        np.testing.assert_allclose(rendered[[5, 0, 3]], eager[[5, 0, 3]], atol=1e-6)
        np.testing.assert_allclose(rendered[2:4], eager[2:4], atol=1e-6)
        np.testing.assert_allclose(rendered[1, 2], eager[1, 2], atol=1e-6)
        np.testing.assert_allclose(np.asarray(rendered), eager, atol=1e-6)
    batch = data.train_batch(lazy.train, 7, 4, seed=0, rows=slice(1, 3))
    np.testing.assert_allclose(batch, data.train_batch(whole.train, 7, 4, seed=0)[1:3],
                               atol=1e-6)


def test_on_demand_noise_draws_each_sequence_from_its_own_key():
    """Sequence i is uniform(fold_in(key, i)): the same whichever rows are asked together,
    in [0, 1], and different sequences differ."""
    noise = data.load(experiment_config("noise", data__on_demand=True).data).train
    np.testing.assert_array_equal(noise[[4, 1]][0], noise[4])
    assert noise[0].min() >= 0 and noise[0].max() < 1
    assert not np.allclose(noise[0], noise[1])


def test_on_demand_is_refused_for_sets_that_are_read_not_generated():
    from locornn import configs

    config = experiment_config("rotating_mnist", data__on_demand=True)
    with pytest.raises(configs.ConfigError, match="'data.on_demand' is for the generated sets"):
        configs.validate(config)


def test_a_period_range_sets_each_waves_temporal_period_and_keeps_its_wavelength():
    key = jax.random.PRNGKey(5)
    params = waves.sample_wave_params(key, 256, wavelength=(5.0, 24.0), period=(10.0, 30.0))
    period = np.asarray(params.wavelength / params.speed)  # frames per temporal cycle
    assert period.min() >= 10.0 - 1e-4 and period.max() <= 30.0 + 1e-4
    assert period.max() - period.min() > 15  # spread over the range, not one value
    by_speed = waves.sample_wave_params(key, 256, wavelength=(5.0, 24.0))
    np.testing.assert_array_equal(params.wavelength, by_speed.wavelength)  # same draw
    assert float((by_speed.wavelength / by_speed.speed).min()) < 10.0  # the speed range's
    # a pixel of the rendered wave repeats after its period (here 12 frames)
    one = waves.WaveParams(np.array([0.3]), np.array([8.0]), np.array([8.0 / 12]),
                           np.array([0.0]))
    frames = np.asarray(waves.render_plane_waves(one, 25, 10))[0]
    np.testing.assert_allclose(frames[12], frames[0], atol=1e-5)
    np.testing.assert_allclose(frames[24], frames[0], atol=1e-5)


def test_the_config_period_range_reaches_the_data_set():
    config = experiment_config("waves", data__period_min=10.0, data__period_max=12.0)
    loaded = data.load(config.data)
    assert "periods 10-12 frames" in loaded.source
    assert not np.allclose(loaded.train, data.load(experiment_config("waves").data).train)


@pytest.mark.parametrize("low, high", [(1.0, 5.0), (12.0, 10.0), (0.0, 10.0)])
def test_impossible_period_ranges_are_refused(low, high):
    from locornn import configs

    with pytest.raises(configs.ConfigError, match="period_min"):
        configs.validate(experiment_config("waves", data__period_min=low, data__period_max=high))
