"""Keras Sequential models, the most common Keras API: plain, started without an Input layer,
and a Sequential of Sequential blocks all export, stage 1 matching Keras (tf2onnx alone
fails on them with a KeyError on the output tensor's name); and which Keras layer each
node tf2onnx writes is annotated with."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from pipeline import ort
from pipeline.compare import FLOAT32_TOL, compare
from pipeline.export import annotate, owners, tf2onnx_export

L = keras.layers


def _plain():
    return keras.Sequential(
        [keras.Input((8, 8, 3)), L.Conv2D(4, 3, activation="relu"), L.Flatten(), L.Dense(3)]
    )


def _without_input():
    return keras.Sequential([L.Conv2D(4, 3, input_shape=(8, 8, 3)), L.Flatten(), L.Dense(3)])


def _nested():
    block = keras.Sequential([L.Conv2D(4, 3), L.BatchNormalization(), L.ReLU()], name="block")
    return keras.Sequential([keras.Input((8, 8, 3)), block, L.GlobalAveragePooling2D(), L.Dense(3)])


@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")
@pytest.mark.parametrize("build", [_plain, _without_input, _nested])
def test_sequential_exports_and_matches_keras(build):
    from models.small import randomize

    keras.utils.set_random_seed(0)
    model = randomize(build())
    proto = tf2onnx_export.to_onnx(model)
    annotate.annotate(proto, model)
    tf2onnx_export.validate(proto)
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 3)).astype(np.float32)
    (actual,) = ort.run(proto, {proto.graph.input[0].name: x})
    result = compare("stage1", "batch2", "y", np.asarray(model(x)), actual, FLOAT32_TOL)
    assert result.passed, result.describe()
    assert all(n.doc_string for n in proto.graph.node if n.op_type in ("Conv", "MatMul"))


def test_a_conv_tf2onnx_made_up_is_the_conv2ds_not_the_batchnorms():
    """ResNet50's stem as tf2onnx leaves it: the layout Transpose of 'conv1_conv', then a
    Conv its optimizer made up (Conv__435: no layer in its name), read by 'conv1_bn'. The
    Conv is the Conv2D's (model.py named it 'conv1_bn', after the BatchNormalization)."""
    from onnx import helper

    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], "m/conv1_conv_1/convolution__6"),
        helper.make_node("Conv", ["t", "w"], ["c"], "Conv__435"),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["y"],
                         "m/conv1_bn_1/FusedBatchNormV3"),
    ]  # fmt: skip
    graph = helper.make_graph(nodes, "g", [], [])
    classes = {
        "conv1_pad": "ZeroPadding2D",
        "conv1_conv": "Conv2D",
        "conv1_bn": "BatchNormalization",
    }
    owner = {i: annotate._layer_for(n.name, classes) for i, n in enumerate(nodes)}
    owner = {i: layer for i, layer in owner.items() if layer}
    owners.inherit_owners(graph, owner, list(classes), set(), classes)
    assert owner == {0: "conv1_conv", 1: "conv1_conv", 2: "conv1_bn"}


def test_the_model_scope_is_no_layer_even_when_a_layer_has_its_name():
    """Model 'conv_lstm' is traced in scope 'conv_lstm_1', the very name of its first layer:
    the second layer's nodes are still the second layer's."""
    layers = {"conv_lstm_1": "ConvLSTM2D", "conv_lstm_2": "ConvLSTM2D", "mix": "Conv2D"}
    names = {
        "conv_lstm_1/conv_lstm_1_1/k2t_layer_0": "conv_lstm_1",
        "conv_lstm_1/conv_lstm_2_1/k2t_layer_1": "conv_lstm_2",
        "conv_lstm_1/mix_1/BiasAdd": "mix",
        "conv_lstm_1/Const": None,
    }
    for name, layer in names.items():
        assert annotate._layer_for(name, layers, "conv_lstm") == layer, name
    # without the model's name, the model's scope is taken for the layer
    assert annotate._layer_for("conv_lstm_1/mix_1/BiasAdd", layers) == "conv_lstm_1"


def test_a_renamed_node_that_reads_a_layer_s_weights_is_that_layer_s():
    """Fuzz seed 11050: a SeparableConv2D's pointwise Conv on one channel comes out of
    tf2onnx as ``Conv__21``; it reads the separable layer's kernel, not the next Conv2D's."""
    import onnx
    from onnx import helper

    weight = onnx.numpy_helper.from_array(
        np.ones((1, 1, 1, 1), np.float32), "m_1/separable_1/separable_conv2d/ReadVariableOp_1:0"
    )
    nodes = [
        helper.make_node("Conv", ["x", "k1"], ["d"], "m_1/separable_1/separable_conv2d/depthwise"),
        helper.make_node("Conv", ["d", weight.name], ["p"], "Conv__21"),
        helper.make_node("Conv", ["p", "k2"], ["y"], "m_1/next_conv_1/BiasAdd"),
    ]
    graph = helper.make_graph(nodes, "g", [], [], [weight])
    layers = {"separable": "SeparableConv2D", "next_conv": "Conv2D"}
    owner = {i: annotate._layer_for(n.name, layers, "m") for i, n in enumerate(nodes)}
    owner = {i: layer for i, layer in owner.items() if layer}
    annotate._weight_readers(graph, owner, layers, "m")
    owners.inherit_owners(graph, owner, list(layers), set(), layers)
    assert owner == {0: "separable", 1: "separable", 2: "next_conv"}
