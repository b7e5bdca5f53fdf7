"""Small Keras models that cover the layers real CNNs use, one concern each, with every
weight randomized (biases and BatchNorm statistics included: at their initial 0/1 they would
hide bias and BatchNorm bugs from the checks)."""

from __future__ import annotations

import keras
import numpy as np

SEED = 0
L = keras.layers


def randomize(model: keras.Model, seed: int = SEED) -> keras.Model:
    """Every weight random but well scaled: kernels keep their initializer's (random) values,
    biases and BN beta/mean ~ N(0, 0.1), BN gamma and variance ~ U(0.5, 1.5)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for weight, value in zip(layer.weights, layer.get_weights(), strict=True):
            name = weight.path.rsplit("/", 1)[-1]
            if name in ("gamma", "moving_variance"):
                value = rng.uniform(0.5, 1.5, value.shape)
            elif name in ("beta", "moving_mean", "bias") or value.ndim == 1:
                value = rng.normal(0.0, 0.1, value.shape)
            values.append(np.asarray(value, dtype=weight.dtype))
        if values:
            layer.set_weights(values)
    return model


def bn_block() -> keras.Model:
    """Conv+BN+ReLU6, DepthwiseConv+BN+ReLU, a residual Add, global pooling, Dense."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((16, 16, 3), name="image")
    x = L.Conv2D(8, 3, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(6.0, name="stem_relu6")(x)
    y = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw_conv")(x)
    y = L.BatchNormalization(name="dw_bn")(y)
    y = L.ReLU(name="dw_relu")(y)
    x = L.Add(name="residual")([x, y])
    x = L.GlobalAveragePooling2D(name="pool")(x)
    outputs = L.Dense(5, name="logits")(x)
    return randomize(keras.Model(inputs, outputs, name="bn_block"))
