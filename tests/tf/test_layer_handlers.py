"""Stage 1's own forms for layers tf2onnx writes badly or not at all (grouped Conv2D, ELU with
an alpha, RepeatVector, BatchNormalization on sequences, GroupNormalization, LayerNormalization
over every axis but the batch, Resizing): the ONNX they
give, its numbers against Keras, and each refusal, naming the layer."""

from __future__ import annotations

from collections import Counter

import keras
import numpy as np
import pytest
import tensorflow as tf
from pipeline import ort
from pipeline.errors import UnsupportedError
from pipeline.export import tf2onnx_export
from pipeline.export.layers import normalization
from pipeline.export.layers.convolution import _same_pads
from pipeline.export.layers.resizing import scale
from pipeline.forms.resize_nearest import source_indices

L = keras.layers
TOL = 1e-5  # float32, scaled by the output's largest magnitude


def _model(shape, layer, before=None):
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape, name="x")
    x = inputs if before is None else before(inputs)
    model = keras.Model(inputs, layer(x))
    for weight in model.weights:  # statistics too: no identity BatchNorm
        weight.assign(np.random.default_rng(1).uniform(0.5, 1.5, weight.shape))
    return model


def _ops_and_error(model, shape):
    proto = tf2onnx_export.to_onnx(model)
    x = np.random.default_rng(2).standard_normal((3, *shape)).astype(np.float32)
    expected = np.asarray(model(x))
    (actual,) = ort.run(proto, {proto.graph.input[0].name: x})
    error = np.abs(actual - expected).max() / np.abs(expected).max()
    return Counter(n.op_type for n in proto.graph.node), error


@pytest.mark.parametrize(
    ("shape", "layer", "ops"),
    [
        ((9, 9, 4), L.Conv2D(6, 3, groups=2, name="grouped"), {"Conv": 1, "Transpose": 2}),
        (
            (9, 9, 4),
            L.Conv2D(6, 4, strides=2, padding="same", groups=2, activation="relu", name="g"),
            {"Conv": 1, "Relu": 1, "Transpose": 2},
        ),
        ((5,), L.ELU(alpha=0.5, name="elu"), {"Elu": 1}),
        ((5,), L.RepeatVector(3, name="repeat"), {"Unsqueeze": 1, "Tile": 1}),
        ((7, 3), L.BatchNormalization(name="bn"), {"BatchNormalization": 1, "Transpose": 2}),
        (
            (6, 6, 4),
            L.GroupNormalization(groups=2, name="gn"),
            {"KerasGroupNorm": 1, "Transpose": 2},
        ),
        ((9, 4), L.GroupNormalization(groups=4, name="gn"), {"KerasGroupNorm": 1, "Transpose": 2}),
        (
            (4, 5, 3),
            L.LayerNormalization(axis=[1, 2, 3], name="ln"),
            {"LayerNormalization": 1, "Transpose": 2},
        ),
        (
            (6, 3),
            L.LayerNormalization(axis=[1, 2], name="ln"),
            {"LayerNormalization": 1, "Transpose": 2},
        ),
        ((6, 6, 2), L.Resizing(9, 5, name="resize"), {"Resize": 1, "Transpose": 2}),
        (  # an image's H and W per channel: nn.LayerNorm((H, W)) on NCHW data
            (4, 5, 3),
            L.LayerNormalization(axis=[1, 2], name="ln"),
            {"LayerNormalization": 1, "Transpose": 2},
        ),
        (  # a sequence's steps per channel: nn.LayerNorm(T) on NCW data
            (6, 3),
            L.LayerNormalization(axis=1, name="ln"),
            {"LayerNormalization": 1, "Transpose": 2},
        ),
    ],
)
def test_the_own_form_computes_what_keras_does(shape, layer, ops):
    found, error = _ops_and_error(_model(shape, layer), shape)
    assert dict(found) == ops and error <= TOL


def test_resize_scales_reach_the_size_in_float32_and_float64():
    value = scale(6, 5)  # 5/6 in float32 is 0.8333333: 6 times it is 4.9999999 in float64
    assert float(value) * 6 >= 5 and int(np.float32(value * np.float32(6))) == 5
    assert value == np.nextafter(np.float32(5 / 6), np.float32(np.inf))
    assert scale(6, 12) == np.float32(2.0)


def test_layer_norm_across_the_batch_is_refused_naming_the_layer():
    """Only a fixed batch size lets Keras build it (its gamma spans the batch)."""
    inputs = keras.Input((4, 3), batch_size=2, name="x")
    model = keras.Model(inputs, L.LayerNormalization(axis=[0, 1], name="ln")(inputs))
    with pytest.raises(UnsupportedError, match=r"layer 'ln' .*across the batch \(axis 0\)"):
        tf2onnx_export.to_onnx(model)


def test_layer_norm_forms():
    form = normalization.LayerNormHandler.form
    assert form(3, [-1]) == ("last", -1)
    assert form(4, [1, 2, 3]) == ("channels_first", 1)
    assert form(4, [1, 2]) == ("channels_first", 2)
    assert form(4, [2]) == ("channels_first", 3)
    assert form(4, [1]) == ("moved", 3)  # H alone: x.movedim(...) around nn.LayerNorm
    assert form(4, [1, 3]) == ("moved", 2)
    assert form(5, [1, 3]) == ("moved", 3)


def test_nearest_resize_picks_tensorflow_s_pixels():
    """Every (in, out) size pair up to 40: the rows stage 1 gathers are TensorFlow's."""
    for size in range(1, 41):
        ramp = tf.reshape(tf.range(size, dtype=tf.float32), (1, size, 1, 1))
        for target in range(1, 41):
            picked = tf.image.resize(ramp, (target, 1), method="nearest").numpy().reshape(-1)
            np.testing.assert_array_equal(source_indices(size, target), picked)


def test_same_pads_are_tensorflow_s():
    assert _same_pads(9, 4, 2, 1) == (1, 2)  # out 5: total (5-1)*2+4-9 = 3
    assert _same_pads(8, 3, 1, 2) == (2, 2)
    assert _same_pads(8, 1, 2, 1) == (0, 0)


@pytest.mark.parametrize(
    ("shape", "layer", "message"),
    [
        ((9, 9, 4), L.Conv2D(6, 3, groups=2, activation="tanh", name="g"), "activation 'tanh'"),
        ((None, None, 4), L.Conv2D(6, 3, groups=2, name="g"), "over an open image size"),
        ((7, 3), L.BatchNormalization(axis=1, name="bn"), "over axis 1 of 3-D data"),
        ((6, 6, 3), L.Resizing(9, 9, interpolation="bicubic", name="rs"), "'bicubic' has no"),
        ((6, 6, 3), L.Resizing(9, 9, interpolation="area", name="rs"), "'area' has no"),
        ((6, 6, 3), L.Resizing(4, 9, antialias=True, name="rs"), "antialias=True when down"),
    ],
)
def test_a_form_without_a_torch_equivalent_is_refused_naming_the_layer(shape, layer, message):
    with pytest.raises(UnsupportedError, match=r"layer '(g|bn|rs)'") as refused:
        tf2onnx_export.to_onnx(_model(shape, layer))
    assert message in str(refused.value)
