"""Flax modules: encoders/decoders (:mod:`.codecs`), sequence models (:mod:`.oscillator`) and
an ``nn.RNN`` cell (:mod:`.cell`)."""

from __future__ import annotations

import ml_collections

from locornn.models.cell import LocoRNNCell
from locornn.models.codecs import (
    ConvDecoder,
    ConvEncoder,
    GaussianEncoder,
    MLPDecoder,
    MLPEncoder,
    RetinotopicDecoder,
    RetinotopicEncoder,
)
from locornn.models.oscillator import OscillatorCore, OscillatorRNN


def build_model(model_config: ml_collections.ConfigDict,
                image_shape: tuple[int, int, int]) -> OscillatorRNN:
    """The sequence model a config's ``model`` section names (``locornn`` or ``cornn``)."""
    return OscillatorRNN(ml_collections.FrozenConfigDict(model_config), tuple(image_shape))


__all__ = ["build_model", "LocoRNNCell", "OscillatorRNN", "OscillatorCore", "MLPEncoder",
           "ConvEncoder", "GaussianEncoder", "MLPDecoder", "ConvDecoder",
           "RetinotopicEncoder", "RetinotopicDecoder"]
