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
    # a nested model's own name is no orphan's layer: its nodes are its layers'
    order = [n for n, layer in qualified.items() if not hasattr(layer, "layers")]
    operations = {n for n, op in qualified.items() if not isinstance(op, keras.layers.Layer)}
    _inherit_owners(graph, owner, order, operations, layers)
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


def _props(proto: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in proto.metadata_props}


def _orphan_regions(graph: onnx.GraphProto, owner: dict[int, str], producer) -> list[list[int]]:
    """The nodes no layer owns, in connected groups (the ops of one Keras operation)."""
    parent = {i: i for i in range(len(graph.node)) if i not in owner}

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in parent:
        for name in graph.node[i].input:
            if producer.get(name) in parent:
                parent[root(i)] = root(producer[name])
    regions: dict[int, list[int]] = {}
    for i in parent:
        regions.setdefault(root(i), []).append(i)
    return list(regions.values())


def _layer_between(region, graph, owner, order, operations, producer, consumers) -> str | None:
    """The one Keras layer that owns no node yet and sits, in model order, between the
    layers feeding this group of unowned nodes and the layers it feeds: tf2onnx renamed its
    ops (Resize__14). Or, for a group that leads to the graph's output, the one Keras
    operation outside any layer after its producers (``keras.ops.argmax``: Bitcast, ArgMax,
    ...; not a layer that computes nothing at inference, such as a GaussianNoise before the
    end)."""
    inside = set(region)
    outs = [out for i in region for out in graph.node[i].output]
    ins = [name for i in region for name in graph.node[i].input]
    before = [owner[producer[n]] for n in ins if producer.get(n) in owner]
    after = [owner[c] for out in outs for c in consumers.get(out, []) if c not in inside]
    if not before:
        return None
    low = max(order.index(name) for name in before)
    high = min((order.index(name) for name in after), default=len(order))
    owned = set(owner.values())
    between = [name for name in order[low + 1 : high] if name not in owned]
    if len(between) != 1 or (not after and between[0] not in operations):
        return None
    return between[0]


# an op tf2onnx made up that only these layers compute (a Conv it merged with a Pad and a
# Transpose, Conv__435, is the Conv2D's even though a BatchNormalization reads it)
_COMPUTED_BY = {"Conv": "Conv", "ConvTranspose": "Conv", "MatMul": "Dense", "Gemm": "Dense"}


def _inherit_owners(graph: onnx.GraphProto, owner: dict[int, str], order, operations, classes):
    """Nodes tf2onnx made up (Transpose__36, Shape__38) take a layer: the one layer with no
    node between their neighbours' layers if there is exactly one (for a connected group of
    such nodes at once), else a neighbour's that computes such an op (``_COMPUTED_BY``), else
    a consumer's (the layout transpose before Flatten belongs to 'flatten'), else the
    producer's."""
    producer = {out: i for i, node in enumerate(graph.node) for out in node.output}
    consumers: dict[str, list[int]] = {}
    for i, node in enumerate(graph.node):
        for name in node.input:
            consumers.setdefault(name, []).append(i)
    for region in _orphan_regions(graph, owner, producer):
        layer = _layer_between(region, graph, owner, order, operations, producer, consumers)
        if layer:
            owner.update(dict.fromkeys(region, layer))
    changed = True
    while changed:
        changed = False
        for i, node in enumerate(graph.node):
            if i in owner:
                continue
            near = [c for out in node.output for c in consumers.get(out, []) if c in owner]
            near += [producer[n] for n in node.input if producer.get(n) in owner]
            kind = _COMPUTED_BY.get(node.op_type, "\0")
            fitting = [n for n in near if kind in classes[owner[n]]]
            if near:
                owner[i] = owner[(fitting or near)[0]]
                changed = True
