"""One-layer models: a supported Keras layer alone between an input and the output, every
weight randomized. ``MODEL=layer:Conv2D`` converts one (``make convert MODEL=layer:Conv2D``);
``tests/e2e/test_layers.py`` holds each to its export op, stage-2 ops, torch module and
parameter count. A new layer gets a line here (README, "Adding a Keras layer")."""

from __future__ import annotations

import keras

from models.small import SEED, randomize

L = keras.layers
PREFIX = "layer:"
IMAGE, SEQUENCE = (8, 8, 3), (10, 3)


# case -> (input shape without the batch, input dtype, the layer called on the input); the
# layer is named "layer". A layer that works on conv features gets a Conv before it ("conv"),
# the layout it meets in a real net (channels-first after stage 2).
def _after_conv2d(layer):
    return lambda x: layer()(L.Conv2D(4, 3, name="conv")(x))


def _after_conv1d(layer):
    return lambda x: layer()(L.Conv1D(4, 3, name="conv")(x))


CASES = {
    "Conv2D": (IMAGE, "float32", lambda x: L.Conv2D(4, 3, padding="same", name="layer")(x)),
    "DepthwiseConv2D": (IMAGE, "float32", lambda x: L.DepthwiseConv2D(3, name="layer")(x)),
    "Dense": ((6,), "float32", lambda x: L.Dense(4, name="layer")(x)),
    "BatchNormalization": (
        IMAGE,
        "float32",
        _after_conv2d(lambda: L.BatchNormalization(name="layer")),
    ),
    "MaxPooling2D": (IMAGE, "float32", _after_conv2d(lambda: L.MaxPooling2D(2, name="layer"))),
    "GlobalAveragePooling2D": (
        IMAGE,
        "float32",
        _after_conv2d(lambda: L.GlobalAveragePooling2D(name="layer")),
    ),
    "GlobalMaxPooling2D": (
        IMAGE,
        "float32",
        _after_conv2d(lambda: L.GlobalMaxPooling2D(name="layer")),
    ),
    "PReLU": (IMAGE, "float32", _after_conv2d(lambda: L.PReLU(shared_axes=[1, 2], name="layer"))),
    "Conv1D": (SEQUENCE, "float32", lambda x: L.Conv1D(4, 3, name="layer")(x)),
    "GlobalAveragePooling1D": (
        SEQUENCE,
        "float32",
        _after_conv1d(lambda: L.GlobalAveragePooling1D(name="layer")),
    ),
    "GlobalMaxPooling1D": (
        SEQUENCE,
        "float32",
        _after_conv1d(lambda: L.GlobalMaxPooling1D(name="layer")),
    ),
    "LayerNormalization": (SEQUENCE, "float32", lambda x: L.LayerNormalization(name="layer")(x)),
    "Embedding": ((10,), "int32", lambda x: L.Embedding(20, 4, name="layer")(x)),
    "LSTM": (SEQUENCE, "float32", lambda x: L.LSTM(4, name="layer")(x)),
    "GRU": (SEQUENCE, "float32", lambda x: L.GRU(4, return_sequences=True, name="layer")(x)),
    "MultiHeadAttention": (
        (10, 8),
        "float32",
        lambda x: L.MultiHeadAttention(2, 4, name="layer")(x, x),
    ),
}


def build(case: str) -> keras.Model:
    """The one-layer model of ``case`` (a key of ``CASES``), named ``layer_<case>``."""
    shape, dtype, call = CASES[case]
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(shape, dtype=dtype, name="x")
    return randomize(keras.Model(inputs, call(inputs), name=f"layer_{case}"))
