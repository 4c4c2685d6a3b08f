"""The retinotopic encoder: each lattice site reads only its own image patch, own weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from locornn import configs, models
from locornn.models.codecs import RetinotopicEncoder
from tests.conftest import experiment_config


def _encoder_and_params(lattice=8, side=16, field=5, layernorm=False):
    encoder = RetinotopicEncoder((lattice, lattice, 1), field, layernorm=layernorm)
    images = jax.random.uniform(jax.random.PRNGKey(0), (2, side, side, 1))
    return encoder, encoder.init(jax.random.PRNGKey(1), images), images


def test_a_site_reads_exactly_the_patch_at_its_place():
    """d f(x)_ij / d x is non-zero on the receptive_field x receptive_field patch centred at
    (stride i, stride j) and zero elsewhere (stride = image side / lattice = 2 here)."""
    encoder, params, images = _encoder_and_params(lattice=8, side=16, field=5)
    i, j = 3, 5
    grad = jax.grad(lambda x: encoder.apply(params, x)[0, i, j, 0])(images)[0, :, :, 0]
    reads = np.abs(np.asarray(grad)) > 0
    rows, cols = np.nonzero(reads)
    assert reads.sum() == 25
    # SAME padding with stride 2 centres the patch on pixel (2i, 2j) give or take Flax's
    # asymmetric split of an even total padding: the patch is 5 wide around there
    assert rows.max() - rows.min() == 4 and cols.max() - cols.min() == 4
    assert abs((rows.min() + rows.max()) / 2 - 2 * i) <= 1
    assert abs((cols.min() + cols.max()) / 2 - 2 * j) <= 1


def test_neighbouring_sites_have_their_own_filters():
    """Unshared weights: two sites shown the same patch content respond differently."""
    encoder, params, _ = _encoder_and_params(lattice=8, side=8, field=3)
    flat = jnp.ones((1, 8, 8, 1))  # every patch (away from the border) looks the same
    out = np.asarray(encoder.apply(params, flat))[0, 2:6, 2:6, 0]
    assert np.unique(np.round(out, 6)).size == out.size


def test_the_image_side_must_be_a_multiple_of_the_lattice():
    encoder = RetinotopicEncoder((8, 8, 1), 3)
    with pytest.raises(ValueError, match="multiple of the lattice"):
        encoder.init(jax.random.PRNGKey(0), jnp.zeros((1, 12, 12, 1)))


def test_locornn_trains_with_it_and_the_config_refuses_what_it_cannot_do():
    config = experiment_config("waves", model__encoder="retinotopic", model__receptive_field=5,
                               data__image_size=16)
    configs.validate(config)
    frames = jax.random.uniform(jax.random.PRNGKey(2), (2, 4, 16, 16, 1))
    model = models.build_model(config.model, frames.shape[2:])
    params = model.init(jax.random.PRNGKey(0), frames)["params"]
    assert params["encoder"]["project"]["kernel"].shape == (8, 8, 25, 1)
    assert model.apply({"params": params}, frames)["prediction"].shape == frames.shape
    for fields, match in [
        (dict(model__kind="cornn", data__image_size=16), "needs model.kind = 'locornn'"),
        (dict(data__image_size=12), "multiple of the lattice"),  # lattice 8
        (dict(model__receptive_field=4, data__image_size=16), "positive odd"),
    ]:
        with pytest.raises(configs.ConfigError, match=match):
            configs.validate(experiment_config("waves", model__encoder="retinotopic", **fields))
