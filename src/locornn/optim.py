"""The optimiser and the train state: ``create_train_state(config, task)``.

Adam, or SGD with momentum (``train.optimizer``), from optax, with an optional warmup + cosine
schedule and global-norm clipping; the state is Flax's
:class:`~flax.training.train_state.TrainState` (parameters, optimiser state, step), which
:mod:`locornn.checkpoints` restores.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax.training import train_state

from locornn import tasks


class TrainState(train_state.TrainState):
    pass


def make_optimizer(train_config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """Adam (or SGD with momentum, ``train.optimizer``) with an optional warmup + cosine
    schedule and optional global-norm clipping."""
    lr = train_config.learning_rate
    if train_config.schedule == "cosine":
        decay = train_config.decay_steps or train_config.num_steps
        schedule = optax.warmup_cosine_decay_schedule(0.0, lr, train_config.warmup_steps, decay)
    elif train_config.warmup_steps:
        schedule = optax.linear_schedule(0.0, lr, train_config.warmup_steps)
    else:
        schedule = lr
    parts = [optax.clip_by_global_norm(train_config.clip_norm)] if train_config.clip_norm else []
    if train_config.optimizer == "sgd":  # the reference's rotating MNIST: SGD, momentum 0.9
        return optax.chain(*parts, optax.sgd(schedule, momentum=train_config.momentum or None))
    return optax.chain(*parts, optax.adam(schedule))


def create_train_state(config: ml_collections.ConfigDict, task: tasks.Task) -> TrainState:
    """Freshly initialised train state (params from ``config.seed``)."""
    # jitted: one compiled (and persistently cached) program instead of one dispatch per
    # operation of the model's first call (seconds for the Hamiltonian model); the same bits
    init = jax.jit(task.model.init)
    params = init(jax.random.PRNGKey(config.seed), jnp.asarray(task.sample))["params"]
    return TrainState.create(apply_fn=task.model.apply, params=params,
                             tx=make_optimizer(config.train))
