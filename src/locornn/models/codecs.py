"""Encoders f (image -> features) and decoders g (hidden state -> image): MLP, convolutional,
and a retinotopic (locally connected) encoder and decoder.

The MLP pair is the reference's rotating-MNIST/sine-wave choice (one linear layer each way). The
convolutional pair follows the DeepMind Hamiltonian-suite nets: ``blocks`` blocks of ``depth``
3x3 convolutions of ``features`` channels with leaky ReLU, halving (encoder) or doubling
(decoder) the resolution between blocks, and a linear projection to or from the hidden state.
All modules map a batch of single frames; sequence models fold time into the batch so that the
whole sequence is encoded in one call, outside the recurrence.

Initialisation (``linear_init``, every linear and convolutional layer of these codecs):

* ``"flax"``: Flax's defaults, LeCun-normal weights (variance ``1 / fan_in``) and zero biases;
* ``"pytorch"``: ``torch.nn.Linear``'s and ``torch.nn.Conv2d``'s defaults, weights *and* biases
  uniform on ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` (variance ``1 / (3 fan_in)``: weights
  ``sqrt(3)`` times smaller in standard deviation than Flax's). The reference's rotating-MNIST
  code uses these; its VAE's KL at initialisation is then ~3x smaller (measured 31 vs 97 nats a
  frame on rotating MNIST).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

LINEAR_INITS = ("flax", "pytorch")


def layer_init(kind: str, fan_in: int) -> dict:
    """``kernel_init`` and ``bias_init`` of a ``Dense``/``Conv`` layer with ``fan_in`` inputs
    per output (``k * k * C_in`` for a convolution), as ``kind`` says (module docstring)."""
    if kind == "flax":
        return {}
    if kind != "pytorch":
        raise ValueError(f"model.linear_init must be one of {LINEAR_INITS}, got {kind!r}")
    bound = 1.0 / math.sqrt(fan_in)

    def bias_init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    # variance_scaling(1/3, fan_in, uniform) is U(-sqrt(3 / (3 fan_in)), +...) = U(-bound, bound)
    return {"kernel_init": nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform"),
            "bias_init": bias_init}


class MLPEncoder(nn.Module):
    """``(N, h, w, c) -> (N, *out_shape)``: one linear layer, optionally LayerNorm-ed."""

    out_shape: Sequence[int]
    layernorm: bool = True
    linear_init: str = "flax"
    layernorm_eps: float = 1e-6

    @nn.compact
    def __call__(self, images: jax.Array) -> jax.Array:
        flat = images.reshape(len(images), -1)
        x = nn.Dense(math.prod(self.out_shape), name="project",
                     **layer_init(self.linear_init, flat.shape[-1]))(flat)
        if self.layernorm:
            x = nn.LayerNorm(epsilon=self.layernorm_eps, name="norm")(x)
        return x.reshape(len(images), *self.out_shape)


class RetinotopicEncoder(nn.Module):
    r"""``(N, h, w, c) -> (N, L, L, C)``: a locally connected (unshared-weight) layer, each lattice
    site reading only the ``receptive_field`` x ``receptive_field`` image patch at its own place.

    ``f(x)_{ij} = sum_{|p|, |q| <= r/2} W_{ij, p q} x_{s i + p, s j + q} + b_{ij}`` with stride
    ``s = h / L``: the image is mapped onto the lattice retinotopically, as the retina onto V1,
    and every site has its own filter (``flax.linen.ConvLocal``). Neighbouring sites see
    overlapping patches; the dense ``MLPEncoder`` instead gives every site the whole image, so
    nothing ties a site's filter to its place. The reference code ships such a layer
    (``tvae/utils/locally_connected.py``) beside its dense encoders; which one its
    orientation-map runs used is not published. Optionally LayerNorm-ed over all units, as
    ``MLPEncoder``.
    """

    out_shape: Sequence[int]
    receptive_field: int = 9
    layernorm: bool = True
    linear_init: str = "flax"
    layernorm_eps: float = 1e-6

    @nn.compact
    def __call__(self, images: jax.Array) -> jax.Array:
        lattice, _, channels = self.out_shape
        stride = images.shape[1] // lattice
        if images.shape[1] != stride * lattice or images.shape[2] != stride * lattice:
            raise ValueError(f"the retinotopic encoder maps {images.shape[1:3]} images onto a "
                             f"{lattice}x{lattice} lattice: the image side must be a multiple "
                             f"of the lattice (set data.image_size or model.lattice)")
        r = self.receptive_field
        x = nn.ConvLocal(channels, (r, r), strides=stride, padding="SAME", name="project",
                         **layer_init(self.linear_init, r * r * images.shape[-1]))(images)
        if self.layernorm:
            flat = nn.LayerNorm(epsilon=self.layernorm_eps, name="norm")(
                x.reshape(len(images), -1))
            x = flat.reshape(x.shape)
        return x


class GaussianEncoder(nn.Module):
    r"""The reference's VAE encoder: ``(N, h, w, c) -> ((N, *out_shape), (N,))``.

    One linear layer gives a mean ``mu`` and a log-variance ``log s^2`` per unit; the output is
    a sample ``mu + s * eps`` (``eps ~ N(0, I)`` from the ``"sample"`` RNG stream) when the
    caller provides that stream (training), and ``mu`` otherwise (evaluation, analysis: a
    deterministic hidden state). With ``layernorm`` it is then LayerNorm-ed without a learned
    scale or shift, as the reference's drive. The second output is
    ``KL(N(mu, s^2) || N(0, I)) = 1/2 sum (mu^2 + s^2 - 1 - log s^2)`` per image.

    ``unused`` extra latent units are sampled and pay their KL but are not returned: the
    reference's encoder gives twice the lattice's units and drives with the first half. Their
    weights feed nothing else, so without gradient clipping they change the loss (their KL) and
    the noise draw, not what the rest of the network learns; they double the encoder's cost.
    """

    out_shape: Sequence[int]
    layernorm: bool = True
    linear_init: str = "flax"
    layernorm_eps: float = 1e-6
    unused: int = 0

    @nn.compact
    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        used = math.prod(self.out_shape)
        units = used + self.unused
        flat = images.reshape(len(images), -1)
        stats = nn.Dense(2 * units, name="project",
                         **layer_init(self.linear_init, flat.shape[-1]))(flat)
        mean, log_var = stats[:, :units], stats[:, units:]
        kl = 0.5 * jnp.sum(mean**2 + jnp.exp(log_var) - 1.0 - log_var, axis=-1)
        x = mean
        if self.has_rng("sample"):
            noise = jax.random.normal(self.make_rng("sample"), mean.shape, mean.dtype)
            x = mean + jnp.exp(0.5 * log_var) * noise
        x = x[:, :used]
        if self.layernorm:
            x = nn.LayerNorm(epsilon=self.layernorm_eps, use_bias=False, use_scale=False,
                             name="norm")(x)
        return x.reshape(len(images), *self.out_shape), kl


class ConvEncoder(nn.Module):
    """``(N, h, w, c) -> (N, *out_shape)``: conv blocks, then a linear projection."""

    out_shape: Sequence[int]
    features: int = 64
    blocks: int = 3
    depth: int = 2
    layernorm: bool = True
    linear_init: str = "flax"
    layernorm_eps: float = 1e-6

    @nn.compact
    def __call__(self, images: jax.Array) -> jax.Array:
        x = images
        for block in range(self.blocks):
            if block:  # halve the resolution between blocks
                x = nn.avg_pool(x, (2, 2), strides=(2, 2))
            for _ in range(self.depth):
                x = nn.leaky_relu(nn.Conv(self.features, (3, 3),
                                          **layer_init(self.linear_init, 9 * x.shape[-1]))(x))
        return MLPEncoder(self.out_shape, self.layernorm, self.linear_init, self.layernorm_eps,
                          name="project")(x)


def _output(x: jax.Array, kind: str) -> jax.Array:
    return jax.nn.sigmoid(x) if kind == "sigmoid" else x


class MLPDecoder(nn.Module):
    """``(N, *state) -> (N, h, w, c)``: a linear layer from the flattened state, optionally
    after one leaky-ReLU layer of ``hidden`` units.

    ``hidden = 0`` (the reference's MLP decoder) makes each pixel an affine function of the
    state. ``hidden > 0`` lets a low-dimensional state (a phase, a position) draw a moving
    object, whose pixels are far from affine in its position: the cheap stand-in for the
    convolutional decoder in CPU-sized forecasting runs.
    """

    image_shape: Sequence[int]
    output: str = "sigmoid"
    hidden: int = 0
    linear_init: str = "flax"

    @nn.compact
    def __call__(self, state: jax.Array) -> jax.Array:
        x = state.reshape(len(state), -1)
        if self.hidden:
            x = nn.leaky_relu(nn.Dense(self.hidden, name="hidden",
                                       **layer_init(self.linear_init, x.shape[-1]))(x))
        x = nn.Dense(math.prod(self.image_shape), name="project",
                     **layer_init(self.linear_init, x.shape[-1]))(x)
        return _output(x.reshape(len(state), *self.image_shape), self.output)


class RetinotopicDecoder(nn.Module):
    r"""``(N, L, L, C) -> (N, h, w, c)``: each lattice site draws only its own ``s x s`` block of
    the image (``s = h / L``) from its own state, with weights of its own.

    ``g(z)_{s i + p, s j + q} = sum_k W_{ij, pq, k} z_{ij k} + b_{ij, pq}``: a locally connected
    layer with a 1x1 kernel (``flax.linen.ConvLocal``) to ``s * s * c`` features, rearranged
    depth-to-space. With the retinotopic encoder, a site then reads and writes its own patch of
    the image, so nothing but the lattice's coupling can move a pattern from one place to
    another: a drifting grating or a travelling front must be carried across the lattice by
    ``K_z, K_v`` (the MLP decoder instead lets every site draw anywhere).
    """

    image_shape: Sequence[int]
    output: str = "sigmoid"
    linear_init: str = "flax"

    @nn.compact
    def __call__(self, state: jax.Array) -> jax.Array:
        height, width, channels = self.image_shape
        n, lattice, lattice_w, units = state.shape
        stride = height // lattice
        if height != stride * lattice or width != stride * lattice_w:
            raise ValueError(f"the retinotopic decoder draws {height}x{width} images from a "
                             f"{lattice}x{lattice_w} lattice: the image side must be a multiple "
                             f"of the lattice (set data.image_size or model.lattice)")
        x = nn.ConvLocal(stride * stride * channels, (1, 1), name="project",
                         **layer_init(self.linear_init, units))(state)
        x = x.reshape(n, lattice, lattice_w, stride, stride, channels)
        x = x.transpose(0, 1, 3, 2, 4, 5).reshape(n, height, width, channels)
        return _output(x, self.output)


class ConvDecoder(nn.Module):
    """``(N, *state) -> (N, h, w, c)``: a linear projection to a coarse grid, then conv blocks."""

    image_shape: Sequence[int]
    features: int = 64
    blocks: int = 3
    depth: int = 2
    output: str = "sigmoid"
    linear_init: str = "flax"

    @nn.compact
    def __call__(self, state: jax.Array) -> jax.Array:
        height, width, channels = self.image_shape
        scale = 2 ** (self.blocks - 1)
        if height % scale or width % scale:
            raise ValueError(f"conv decoder with {self.blocks} blocks needs image sides divisible "
                             f"by {scale}, got {height}x{width}")
        coarse = (height // scale, width // scale, self.features)
        flat = state.reshape(len(state), -1)
        x = nn.Dense(math.prod(coarse), name="project",
                     **layer_init(self.linear_init, flat.shape[-1]))(flat)
        x = x.reshape(len(state), *coarse)
        for block in range(self.blocks):
            if block:  # double the resolution between blocks
                x = jax.image.resize(x, (len(x), x.shape[1] * 2, x.shape[2] * 2, x.shape[3]),
                                     "nearest")
            for _ in range(self.depth):
                x = nn.leaky_relu(nn.Conv(self.features, (3, 3),
                                          **layer_init(self.linear_init, 9 * x.shape[-1]))(x))
        x = nn.Conv(channels, (3, 3), name="to_image",
                    **layer_init(self.linear_init, 9 * x.shape[-1]))(x)
        return _output(x, self.output)


def time_distributed(module: nn.Module, sequence: jax.Array):
    """Apply a per-frame module to ``(B, T, ...)`` by folding time into the batch (each output
    of a module returning several, e.g. :class:`GaussianEncoder`'s, unfolded the same way)."""
    batch, steps = sequence.shape[:2]
    out = module(sequence.reshape(batch * steps, *sequence.shape[2:]))
    return jax.tree.map(lambda o: o.reshape(batch, steps, *o.shape[1:]), out)



# --------------------------------------------------------------------------------------------
# MLPs as explicit parameter lists: for the integrators (the Neural ODE's vector field,
# HGN++'s energies), which need a pure function of (state, parameters)


def mlp_parameters(module: nn.Module, sizes: Sequence[int],
                   prefix: str = "") -> list[tuple[jax.Array, jax.Array]]:
    """Create, inside ``module``'s compact ``__call__``, the ``(kernel, bias)`` pairs of an MLP
    with layer sizes ``sizes`` (input first), named ``{prefix}kernel_{i}`` and
    ``{prefix}bias_{i}``: LeCun-normal kernels, zero biases. :func:`apply_mlp` evaluates them."""
    init = nn.initializers.lecun_normal()
    return [(module.param(f"{prefix}kernel_{i}", init, (n_in, n_out)),
             module.param(f"{prefix}bias_{i}", nn.initializers.zeros, (n_out,)))
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))]


def apply_mlp(layers, x: jax.Array, activation) -> jax.Array:
    """``(..., n_in) -> (..., n_out)``: every layer but the last followed by ``activation``,
    the last linear."""
    for kernel, bias in layers[:-1]:
        x = activation(x @ kernel + bias)
    kernel, bias = layers[-1]
    return x @ kernel + bias
