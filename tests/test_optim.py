"""The optimiser's learning-rate schedules, read off Adam's steps.

For a constant gradient, Adam's bias-corrected update is ``-lr(t) * g / (|g| + eps)``, i.e.
``-lr(t)`` per coordinate: the steps it takes are the schedule itself.
"""

import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from locornn import optim


def _train_config(**updates):
    base = dict(learning_rate=1e-2, schedule="constant", warmup_steps=0, decay_steps=0,
                num_steps=20, clip_norm=0.0, optimizer="adam", momentum=0.0)
    return ml_collections.ConfigDict(dict(base, **updates))


def _steps_taken(train_config, n):
    """The learning rate Adam applied at each of ``n`` steps, from a constant gradient of 1."""
    tx = optim.make_optimizer(train_config)
    params = jnp.zeros(3)
    state = tx.init(params)
    taken = []
    for _ in range(n):
        updates, state = tx.update(jnp.ones(3), state, params)
        params = optax.apply_updates(params, updates)
        taken.append(-float(updates[0]))
    return np.array(taken)


def test_a_constant_schedule_steps_the_learning_rate_every_time():
    np.testing.assert_allclose(_steps_taken(_train_config(), 20), 1e-2, rtol=1e-4)


def test_cosine_without_warmup_starts_at_the_learning_rate_and_reaches_zero_at_num_steps():
    taken = _steps_taken(_train_config(schedule="cosine"), 21)
    t = np.arange(21)
    expected = 1e-2 * 0.5 * (1 + np.cos(np.pi * np.minimum(t, 20) / 20))
    np.testing.assert_allclose(taken, expected, rtol=1e-4, atol=1e-9)
    assert taken[0] > 0.99e-2 and taken[-1] < 1e-9


def test_cosine_decays_over_decay_steps_when_given_and_after_the_warmup():
    taken = _steps_taken(_train_config(schedule="cosine", warmup_steps=4, decay_steps=12), 14)
    np.testing.assert_allclose(taken[:5], 1e-2 * np.arange(5) / 4, rtol=1e-4, atol=1e-9)
    assert np.all(np.diff(taken[4:13]) < 0) and taken[12] < 1e-9
