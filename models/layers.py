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
VIDEO = ((4, 6, 6, 3), "float32", lambda: L.Conv3D(4, 3, padding="same", name="conv"))
# Merge layers and query/value attention take two tensors: the input and a Dense of it.
PAIR = ((6,), "float32", lambda: L.Dense(6, name="dense"))
SEQUENCE_PAIR = ((10, 4), "float32", lambda: L.Dense(4, name="dense"))
TWO_INPUTS = (L.Subtract, L.Average, L.Maximum, L.Minimum, L.Dot, L.Attention, L.AdditiveAttention)

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
    # normalization
    "BatchNormalizationOnSequence": (SEQUENCE, L.BatchNormalization, {}),
    "GroupNormalization": (CONV2D, L.GroupNormalization, {"groups": 2}),
    "LayerNormalizationOverAxes": (CONV2D, L.LayerNormalization, {"axis": [1, 2, 3]}),
    "LayerNormalizationOverTwoAxes": (CONV2D, L.LayerNormalization, {"axis": [1, 2]}),
    "LayerNormalizationOverHeight": (CONV2D, L.LayerNormalization, {"axis": [1]}),
    "LayerNormalizationOverHeightChannels": (CONV2D, L.LayerNormalization, {"axis": [1, 3]}),
    "UnitNormalization": (DENSE, L.UnitNormalization, {}),
    # resizing
    "UpSampling2DBilinear": (CONV2D, L.UpSampling2D, {"size": 2, "interpolation": "bilinear"}),
    "Resizing": (CONV2D, L.Resizing, {"height": 9, "width": 5}),
    "ResizingNearest": (CONV2D, L.Resizing, {"height": 9, "width": 5, "interpolation": "nearest"}),
    "ResizingCrop": (CONV2D, L.Resizing, {"height": 4, "width": 9, "crop_to_aspect_ratio": True}),
    "ResizingPadNearest": (
        CONV2D,
        L.Resizing,
        {
            "height": 4,
            "width": 9,
            "pad_to_aspect_ratio": True,
            "fill_value": 0.5,
            "interpolation": "nearest",
        },
    ),
    # pooling and convolution
    "GlobalAveragePooling1DKeepdims": (CONV1D, L.GlobalAveragePooling1D, {"keepdims": True}),
    "Conv2DGroups": (CONV2D, L.Conv2D, {"filters": 6, "kernel_size": 3, "groups": 2}),
    "SeparableConv1D": (SEQUENCE, L.SeparableConv1D, {"filters": 4, "kernel_size": 3}),
    "DepthwiseConv1D": (SEQUENCE, L.DepthwiseConv1D, {"kernel_size": 3}),
    "Conv3D": (VIDEO, L.Conv3D, {"filters": 4, "kernel_size": 3}),
    "MaxPooling3D": (VIDEO, L.MaxPooling3D, {"pool_size": 2}),
    "GlobalAveragePooling3D": (VIDEO, L.GlobalAveragePooling3D, {}),
    # attention after an encoder: query = the input, value = a Dense of it
    "Attention": (SEQUENCE_PAIR, L.Attention, {}),
    "AdditiveAttention": (SEQUENCE_PAIR, L.AdditiveAttention, {}),
    # merging
    "Subtract": (PAIR, L.Subtract, {}),
    "Average": (PAIR, L.Average, {}),
    "Maximum": (PAIR, L.Maximum, {}),
    "Minimum": (PAIR, L.Minimum, {}),
    "Dot": (PAIR, L.Dot, {"axes": 1}),
    # reshaping
    "RepeatVector": (VECTOR, L.RepeatVector, {"n": 3}),
    "Cropping1D": (CONV1D, L.Cropping1D, {"cropping": (1, 2)}),
    "ZeroPadding1D": (CONV1D, L.ZeroPadding1D, {"padding": (2, 1)}),
    # dropout: kept for training (identity at inference)
    "Dropout": (CONV2D, L.Dropout, {"rate": 0.3}),
    "SpatialDropout1D": (CONV1D, L.SpatialDropout1D, {"rate": 0.5}),
    "SpatialDropout2D": (CONV2D, L.SpatialDropout2D, {"rate": 0.5}),
    "SpatialDropout3D": (VIDEO, L.SpatialDropout3D, {"rate": 0.25}),
    # identity at inference
    "GaussianNoise": (DENSE, L.GaussianNoise, {"stddev": 0.5}),
    "GaussianDropout": (DENSE, L.GaussianDropout, {"rate": 0.5}),
    "ActivityRegularization": (DENSE, L.ActivityRegularization, {"l1": 0.1}),
    # activations
    "SoftmaxAxis": (CONV1D, L.Softmax, {"axis": 1}),
    "LogSoftmax": (DENSE, L.Activation, {"activation": "log_softmax"}),
    "Softsign": (DENSE, L.Activation, {"activation": "softsign"}),  # found by the fuzzer
    "LeakyReLU": (DENSE, L.LeakyReLU, {"negative_slope": 0.2}),
    "ELU": (DENSE, L.ELU, {"alpha": 0.5}),
    "ReLUOptions": (DENSE, L.ReLU, {"max_value": 1.0, "threshold": 0.1, "negative_slope": 0.2}),
}


def build(case: str) -> keras.Model:
    """The one-layer model of ``case`` (a key of ``CASES``), named ``layer_<case>``."""
    (shape, dtype, before), cls, arguments = CASES[case]
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(shape, dtype=dtype, name="x")
    x = inputs if before is None else before()(inputs)
    layer = cls(**arguments, name="layer")
    if cls is L.MultiHeadAttention:
        outputs = layer(x, x)  # self-attention
    elif cls in TWO_INPUTS:
        outputs = layer([inputs, x])
    else:
        outputs = layer(x)
    return randomize(keras.Model(inputs, outputs, name=f"layer_{case}"))
