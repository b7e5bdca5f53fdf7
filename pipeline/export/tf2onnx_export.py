"""Keras model -> ONNX with tf2onnx, then provenance and the checks tf2onnx does not do.

tf2onnx's ``from_keras`` runs with ``continue_on_error``: a TensorFlow op it cannot convert
stays in the graph as an op no ONNX runtime knows, without an exception. ``validate`` finds
such ops and fails naming the node, its Keras layer and what to do.
"""

from __future__ import annotations

import json
import re

import keras
import onnx
import tensorflow as tf
import tf2onnx

from pipeline import metadata
from pipeline.errors import UnsupportedError
from pipeline.export import keras_forms, layer_support, own_layers

OPSET = 17
_SCOPE_SUFFIX = re.compile(r"_\d+$")


def to_onnx(model: keras.Model, opset: int = OPSET) -> onnx.ModelProto:
    """tf2onnx conversion with a dynamic batch dimension on every input."""
    layer_support.check_layers(model, all_layers(model))
    signature = [
        tf.TensorSpec((None, *tensor.shape[1:]), tensor.dtype, name=_input_name(tensor))
        for tensor in model.inputs
    ]
    traced: list[own_layers.Traced] = []
    with keras_forms.traceable_forms(), own_layers.placeholders(traced):
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=opset)
    own_layers.substitute(proto, traced)
    explicit_same_pads(proto)
    return proto


def explicit_same_pads(proto: onnx.ModelProto) -> None:
    """tf2onnx writes ``padding="same"`` as ``auto_pad=SAME_UPPER`` when a spatial size is
    open; onnxruntime cannot run that with dilations, nor onnx2torch convert it. With stride
    1 the pads do not depend on the size: total ``dilation * (kernel - 1)``, the smaller half
    first (TensorFlow's rule), so they are written out. Strided ones stay (the pads depend
    on the size); stage 3 names them if it cannot convert them."""
    for node in proto.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type != "Conv" or attrs.get("auto_pad", b"NOTSET") != b"SAME_UPPER":
            continue
        kernel = attrs.get("kernel_shape")
        if not kernel or any(s != 1 for s in attrs.get("strides", [1] * len(kernel))):
            continue
        dilations = attrs.get("dilations", [1] * len(kernel))
        totals = [d * (k - 1) for d, k in zip(dilations, kernel, strict=True)]
        pads = [t // 2 for t in totals] + [t - t // 2 for t in totals]
        kept = [a for a in node.attribute if a.name not in ("auto_pad", "pads")]
        del node.attribute[:]
        node.attribute.extend([*kept, onnx.helper.make_attribute("pads", pads)])


def _input_name(tensor) -> str:
    """The Keras InputLayer's name ('input_layer'), not the tensor's ('keras_tensor')."""
    history = getattr(tensor, "_keras_history", None)
    if history is not None and getattr(history, "operation", None) is not None:
        return history.operation.name
    return tensor.name.split(":")[0]


def input_layout(rank: int) -> str:
    """Keras' channels-last layout for an input of this rank ('' when not spatial)."""
    return {3: "NWC", 4: "NHWC", 5: "NDHWC"}.get(rank, "")


def _layer_for(node_name: str, layers: dict[str, str]) -> str | None:
    """The Keras layer a tf2onnx node name comes from: 'lenet4_1/fc1_1/MatMul' -> 'fc1'.

    Keras 3 traces each layer in a name scope with a '_<n>' suffix; a suffix-stripped match
    is preferred, so that layer 'dense' traced as 'dense_1' is not taken for layer 'dense_1'.
    """
    for segment in reversed(node_name.split("/")[:-1] or node_name.split("/")):
        stripped = _SCOPE_SUFFIX.sub("", segment)
        if stripped != segment and stripped in layers:
            return stripped
        if segment in layers:
            return segment
    return None


def all_layers(model) -> list:
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if hasattr(layer, "layers"):
            layers.extend(all_layers(layer))
    return layers


def inference_weight_count(model: keras.Model) -> int:
    """The weight count the PyTorch port must have: Keras' trainable + non-trainable
    weights, less Normalization's (its mean and variance are constants, not trainable, in
    PyTorch; its ``count`` is a tally only ``adapt()`` reads), plus the gamma/beta that a
    BatchNormalization or LayerNormalization with ``scale=False``/``center=False`` leaves out
    (``nn.BatchNorm2d``/``nn.LayerNorm`` always have them, at 1 and 0), plus the second bias
    ``nn.LSTM``/``nn.RNN`` have where Keras LSTM/SimpleRNN have one (GRU has both)."""
    count = model.count_params()
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.Normalization):  # mean/variance: torch constants
            count -= sum(int(w.numpy().size) for w in layer.weights)
        if isinstance(layer, keras.layers.BatchNormalization | keras.layers.LayerNormalization):
            missing = (not layer.scale) + (not layer.center)
            if missing and isinstance(layer, keras.layers.BatchNormalization):
                count += missing * int(layer.moving_mean.shape[0])
            elif missing:  # stage 1 writes LayerNormalization over the last axis only
                count += missing * int(layer.input.shape[-1])
        cells = (
            [layer.forward_layer, layer.backward_layer]
            if hasattr(layer, "forward_layer")
            else [layer]
        )
        for cell in cells:
            if type(cell) in (keras.layers.LSTM, keras.layers.SimpleRNN) and cell.use_bias:
                count += int(cell.cell.bias.shape[0])  # torch's bias_hh (zero) next to bias_ih
    return count


def annotate(proto: onnx.ModelProto, model: keras.Model) -> None:
    """Write each node's Keras layer into its doc_string and the model facts into metadata."""
    layers = {layer.name: type(layer).__name__ for layer in model.layers}
    graph = proto.graph
    owner: dict[int, str] = {}
    for index, node in enumerate(graph.node):
        layer = _layer_for(node.name, layers)
        if layer:
            owner[index] = layer
    _inherit_owners(graph, owner, list(layers))
    for index, node in enumerate(graph.node):
        if index in owner:
            node.doc_string = metadata.layer_doc(owner[index], layers[owner[index]])
    for tensor in graph.initializer:  # tf2onnx names frozen variable reads after the read
        if "ReadVariableOp" in tensor.name:
            tensor.doc_string = metadata.KERAS_WEIGHT
    facts = {
        metadata.MODEL_NAME: model.name,
        metadata.LAYERS: json.dumps([[name, cls] for name, cls in layers.items()]),
        metadata.PARAM_COUNT: str(inference_weight_count(model)),
        metadata.USE_BIAS: json.dumps(
            [layer.name for layer in all_layers(model) if getattr(layer, "use_bias", False)]
        ),
        "keras.version": keras.__version__,
        "tensorflow.version": tf.__version__,
        "tf2onnx.version": tf2onnx.__version__,
    }
    for tensor in model.inputs:
        key = metadata.INPUT_LAYOUT_PREFIX + _input_name(tensor)
        facts[key] = input_layout(len(tensor.shape))
    onnx.helper.set_model_props(proto, {**_props(proto), **facts})


def _props(proto: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in proto.metadata_props}


def _orphan_between(
    node: onnx.NodeProto, owner: dict[int, str], order: list[str], producer, consumers
) -> str | None:
    """The one Keras layer that owns no node yet and sits, in model order, between this
    node's producer layer and consumer layer (tf2onnx renamed its only op: Resize__14)."""
    before = [owner[producer[n]] for n in node.input if producer.get(n) in owner]
    after = [owner[c] for out in node.output for c in consumers.get(out, []) if c in owner]
    if not before or not after:
        return None
    low, high = order.index(before[0]), order.index(after[0])
    owned = set(owner.values())
    between = [name for name in order[low + 1 : high] if name not in owned]
    return between[0] if len(between) == 1 else None


def _inherit_owners(graph: onnx.GraphProto, owner: dict[int, str], order: list[str]) -> None:
    """Nodes tf2onnx made up (Transpose__36, Shape__38) take a layer: the one layer with no
    node between their neighbours' layers if there is exactly one, else a consumer's (the
    layout transpose before Flatten belongs to 'flatten'), else the producer's."""
    producer = {out: i for i, node in enumerate(graph.node) for out in node.output}
    consumers: dict[str, list[int]] = {}
    for i, node in enumerate(graph.node):
        for name in node.input:
            consumers.setdefault(name, []).append(i)
    for i, node in enumerate(graph.node):
        if i not in owner and (orphan := _orphan_between(node, owner, order, producer, consumers)):
            owner[i] = orphan
    changed = True
    while changed:
        changed = False
        for i, node in enumerate(graph.node):
            if i in owner:
                continue
            near = [c for out in node.output for c in consumers.get(out, []) if c in owner]
            near += [producer[n] for n in node.input if producer.get(n) in owner]
            if near:
                owner[i] = owner[near[0]]
                changed = True


def validate(proto: onnx.ModelProto) -> None:
    """Fail on any op that is not a standard ONNX op at the model's opset."""
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    functions = {(f.domain, f.name) for f in proto.functions}  # stage 1's recurrent layers
    bad = []
    for node in proto.graph.node:
        if (node.domain, node.op_type) in functions:
            continue
        standard = node.domain in ("", "ai.onnx")
        if not standard or not onnx.defs.has(node.op_type, opset, ""):
            bad.append(metadata.describe_node(node.name, node.op_type, node.doc_string))
    if bad:
        raise UnsupportedError(
            f"tf2onnx left {len(bad)} op(s) it could not convert to ONNX opset {opset}: "
            + "; ".join(bad)
            + ". No ONNX runtime can run them. Replace that Keras layer with a supported one "
            "(README, 'Supported layers') or change its configuration, and convert again."
        )
    onnx.checker.check_model(proto, full_check=True)
