"""One-layer models: a supported Keras layer alone between an input and the output, every
weight randomized. ``MODEL=layer:Conv2D`` converts one (``make convert MODEL=layer:Conv2D``);
``tests/e2e/test_layers.py`` holds each to its export op, stage-2 ops, torch module and
parameter count. A new layer gets a line here (README, "Adding a Keras layer")."""

from __future__ import annotations

import keras

from models.small import SEED, randomize

L = keras.layers
PREFIX = "layer:"

# What the layer is called on: (input shape without the batch, dtype, a layer before it). A
# layer that works on conv features gets a Conv before it ("conv"): the layout it meets in a
# real net (channels-first after stage 2).
IMAGE = ((8, 8, 3), "float32", None)
CONV2D = ((8, 8, 3), "float32", lambda: L.Conv2D(4, 3, name="conv"))
SEQUENCE = ((10, 3), "float32", None)
CONV1D = ((10, 3), "float32", lambda: L.Conv1D(4, 3, name="conv"))
VECTOR = ((6,), "float32", None)
DENSE = ((6,), "float32", lambda: L.Dense(5, name="dense"))
TOKENS = ((10,), "int32", None)
QUERY = ((10, 8), "float32", None)

# case -> (its input, the Keras layer class, its arguments); the layer is named "layer"
CASES = {
    "Conv2D": (IMAGE, L.Conv2D, {"filters": 4, "kernel_size": 3, "padding": "same"}),
    "DepthwiseConv2D": (IMAGE, L.DepthwiseConv2D, {"kernel_size": 3}),
    "Dense": (VECTOR, L.Dense, {"units": 4}),
    "BatchNormalization": (CONV2D, L.BatchNormalization, {}),
    "BatchNormalizationAfterDense": (DENSE, L.BatchNormalization, {}),
    "MaxPooling2D": (CONV2D, L.MaxPooling2D, {"pool_size": 2}),
    "GlobalAveragePooling2D": (CONV2D, L.GlobalAveragePooling2D, {}),
    "GlobalMaxPooling2D": (CONV2D, L.GlobalMaxPooling2D, {}),
    "PReLU": (CONV2D, L.PReLU, {"shared_axes": [1, 2]}),
    "Conv1D": (SEQUENCE, L.Conv1D, {"filters": 4, "kernel_size": 3}),
    "GlobalAveragePooling1D": (CONV1D, L.GlobalAveragePooling1D, {}),
    "GlobalMaxPooling1D": (CONV1D, L.GlobalMaxPooling1D, {}),
    "LayerNormalization": (SEQUENCE, L.LayerNormalization, {}),
    "Embedding": (TOKENS, L.Embedding, {"input_dim": 20, "output_dim": 4}),
    "LSTM": (SEQUENCE, L.LSTM, {"units": 4}),
    "GRU": (SEQUENCE, L.GRU, {"units": 4, "return_sequences": True}),
    "MultiHeadAttention": (QUERY, L.MultiHeadAttention, {"num_heads": 2, "key_dim": 4}),
}


def build(case: str) -> keras.Model:
    """The one-layer model of ``case`` (a key of ``CASES``), named ``layer_<case>``."""
    (shape, dtype, before), cls, arguments = CASES[case]
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(shape, dtype=dtype, name="x")
    x = inputs if before is None else before()(inputs)
    layer = cls(**arguments, name="layer")
    outputs = layer(x, x) if cls is L.MultiHeadAttention else layer(x)  # self-attention
    return randomize(keras.Model(inputs, outputs, name=f"layer_{case}"))
