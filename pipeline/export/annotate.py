"""Provenance of stage 1's ONNX: each node's Keras layer in its ``doc_string`` (Netron shows it
as the node's description), the model's Keras facts in ``metadata_props``
(``pipeline.metadata`` names the keys; the weight counts come from ``counts``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import keras
import onnx
import tensorflow as tf
import tf2onnx

from pipeline import metadata
from pipeline.export import counts, folded_weights, regularizers
from pipeline.export.owners import inherit_owners
from pipeline.export.tf2onnx_export import input_name

_SCOPE_SUFFIX = re.compile(r"_\d+$")


def input_layout(rank: int) -> str:
    """Keras' channels-last layout for an input of this rank ('' when not spatial)."""
    return {3: "NWC", 4: "NHWC", 5: "NDHWC"}.get(rank, "")


def qualified_layers(model, scope: str = "") -> dict[str, object]:
    """Every layer by its qualified name, in model order: a layer of a nested model (a
    ``Sequential`` block, a transfer-learning base) is ``<outer>/<inner>``, its nested model
    itself ``<outer>`` (before its layers). A Keras operation called outside any layer
    (``keras.ops.argmax`` on a functional model's tensor) counts as a layer of its own."""
    layers = {}
    for layer in getattr(model, "operations", model.layers):
        layers[scope + layer.name] = layer
        if hasattr(layer, "layers"):
            layers.update(qualified_layers(layer, f"{scope}{layer.name}/"))
    return layers


def _layer_for(node_name: str, layers: Mapping[str, str], model_name: str = "") -> str | None:
    """The Keras layer a tf2onnx node name comes from: 'lenet4_1/fc1_1/MatMul' -> 'fc1';
    'transfer_1/base_1/block_1_1/convolution' -> 'base/block_1' (a nested model's layer).

    Keras 3 traces each layer in a name scope with a '_<n>' suffix; a suffix-stripped match
    is preferred, so that layer 'dense' traced as 'dense_1' is not taken for layer 'dense_1'.
    The first segment, the model's own scope ('conv_lstm_1' for model 'conv_lstm'), is no
    layer's, even where a layer has that name.
    """
    found, scope = None, ""
    parts = node_name.split("/")
    scopes = parts[:-1] or parts  # the last part is the op's own name
    if len(parts) > 1 and _SCOPE_SUFFIX.sub("", scopes[0]) == model_name:
        scopes = scopes[1:]
    for segment in scopes:
        for name in (_SCOPE_SUFFIX.sub("", segment), segment):
            if scope + name in layers:
                found = scope + name
                scope = found + "/"
                break
    return found


def _uses_bias(layer) -> bool:
    """Built with ``use_bias=True``: the layer, or the one a TimeDistributed wraps."""
    if isinstance(layer, keras.layers.TimeDistributed):
        layer = layer.layer
    return bool(getattr(layer, "use_bias", False))


def annotate(proto: onnx.ModelProto, model: keras.Model) -> None:
    """Write each node's Keras layer into its doc_string and the model facts into metadata."""
    qualified = qualified_layers(model)
    layers = {name: type(layer).__name__ for name, layer in qualified.items()}
    graph = proto.graph
    owner: dict[int, str] = {}
    for index, node in enumerate(graph.node):
        layer = _layer_for(node.name, layers, model.name)
        if layer:
            owner[index] = layer
    _weight_readers(graph, owner, layers, model.name)
    # a nested model's own name is no orphan's layer: its nodes are its layers'
    order = [n for n, layer in qualified.items() if not hasattr(layer, "layers")]
    operations = {n for n, op in qualified.items() if not isinstance(op, keras.layers.Layer)}
    inherit_owners(graph, owner, order, operations, layers)
    for index, node in enumerate(graph.node):
        if index in owner:
            node.doc_string = metadata.layer_doc(owner[index], layers[owner[index]])
    for tensor in graph.initializer:  # tf2onnx names frozen variable reads after the read
        if "ReadVariableOp" in tensor.name:
            tensor.doc_string = metadata.KERAS_WEIGHT
    folded_weights.mark(graph, model)  # and the reads it folded into constants
    facts = {
        metadata.MODEL_NAME: model.name,
        metadata.LAYERS: json.dumps([[name, cls] for name, cls in layers.items()]),
        metadata.PARAM_COUNT: str(counts.inference_weight_count(model)),
        metadata.USE_BIAS: json.dumps(
            [name for name, layer in qualified.items() if _uses_bias(layer)]
        ),
        **counts.frozen(qualified),
        **regularizers.penalties(qualified),
        metadata.BATCHNORM_MOMENTUM: json.dumps(
            {
                name: float(layer.momentum)
                for name, layer in qualified.items()
                if isinstance(layer, keras.layers.BatchNormalization)
            }
        ),
        "keras.version": keras.__version__,
        "tensorflow.version": tf.__version__,
        "tf2onnx.version": tf2onnx.__version__,
    }
    for tensor in model.inputs:
        key = metadata.INPUT_LAYOUT_PREFIX + input_name(tensor)
        facts[key] = input_layout(len(tensor.shape))
    onnx.helper.set_model_props(proto, {**_props(proto), **facts})


def _weight_readers(graph: onnx.GraphProto, owner: dict[int, str], layers, model_name) -> None:
    """A node tf2onnx renamed (``Conv__21``) that reads one layer's weights is that layer's:
    a SeparableConv2D's pointwise conv on one channel, which a Conv2D after it would
    otherwise take (fuzz seed 11050)."""
    weights = {t.name for t in graph.initializer}
    for index, node in enumerate(graph.node):
        if index in owner:
            continue
        found = {_layer_for(name, layers, model_name) for name in node.input if name in weights}
        found.discard(None)
        if len(found) == 1:
            owner[index] = found.pop()


def _props(proto: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in proto.metadata_props}
