"""Keras model -> ONNX with tf2onnx, then provenance and the checks tf2onnx does not do.

tf2onnx's ``from_keras`` runs with ``continue_on_error``: a TensorFlow op it cannot convert
stays in the graph as an op no ONNX runtime knows, without an exception. ``validate`` finds
such ops and fails naming the node, its Keras layer and what to do.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import keras
import onnx
import tensorflow as tf
import tf2onnx

from pipeline import metadata
from pipeline.errors import UnsupportedError
from pipeline.export import keras_forms, layer_support, own_layers, structure

OPSET = 17
log = logging.getLogger(__name__)


def to_onnx(model: keras.Model, opset: int = OPSET) -> onnx.ModelProto:
    """tf2onnx conversion with a dynamic batch dimension on every input."""
    layer_support.check_layers(model, all_layers(model))
    signature = [
        tf.TensorSpec((None, *tensor.shape[1:]), tensor.dtype, name=input_name(tensor))
        for tensor in model.inputs
    ]
    traced: list[own_layers.Traced] = []
    with keras_forms.traceable_forms(), own_layers.placeholders(traced), _optimizer_copy_once():
        proto, _ = tf2onnx.convert.from_keras(
            functional(model), input_signature=signature, opset=opset
        )
    own_layers.substitute(proto, traced)
    explicit_same_pads(proto)
    structure.name_outputs(proto, structure.output_keys(model))
    return proto


@contextmanager
def _optimizer_copy_once() -> Iterator[None]:
    """tf2onnx's graph optimizers, copying the graph once rather than before each run.

    With tf2onnx's default ``catch_errors``, each of its ~24 optimizer runs first deep-copies
    the whole graph, weights included, so that a failing optimizer is skipped: 10 of
    ResNet50's 34 s of export. Here they run without, on a graph copied once; only if one
    raises (fuzz seed 1078: ``max() arg is an empty sequence``) do they run again from that
    copy the way tf2onnx runs them by default, skipping the failing ones, with a warning.
    Stage 1's check against Keras holds the result either way."""
    original = tf2onnx.optimizer.optimize_graph

    def optimize_graph(graph, catch_errors=True, optimizers=None):
        backup = copy.deepcopy(graph)
        try:
            return original(graph, catch_errors=False, optimizers=optimizers)
        except Exception as exc:  # any optimizer's; tf2onnx itself would skip it
            log.warning(
                "a tf2onnx graph optimizer failed (%s: %s); optimizing again as tf2onnx does "
                "by default, skipping the optimizers that fail",
                type(exc).__name__,
                exc,
            )
            return original(backup, catch_errors=True, optimizers=optimizers)

    tf2onnx.optimizer.optimize_graph = optimize_graph
    try:
        with _const_protos_left_alone():
            yield
    finally:
        tf2onnx.optimizer.optimize_graph = original


@contextmanager
def _const_protos_left_alone() -> Iterator[None]:
    """tf2onnx's ``Node.update_proto`` without copying a constant's tensor into its NodeProto.

    After each of its ~24 optimizer runs, tf2onnx re-writes every node's NodeProto from the
    node's attributes; for a ``Const`` that copies its tensor, so the whole model's weights
    are copied about 24 times (``RepeatedCompositeContainer.extend``: 6.0 s of ResNet50's
    export under cProfile; skipping it took the export from 23.5 to 14.6 s and VGG16's from
    49.9 to 27.7 s, and their peak memory from 5.7 to 3.1 GB and 9.6 to 5.6 GB). A Const's
    NodeProto is never read: ``Graph.make_graph`` writes each constant as an initializer
    from the node's attributes (``get_value_attr``), and only non-constant nodes' NodeProtos
    enter the graph. So a Const's update is skipped; every other node's runs as before."""
    node_class = tf2onnx.graph.Node
    original = node_class.update_proto

    def update_proto(node, external_tensor_storage=None):
        if not node.is_const():
            original(node, external_tensor_storage)

    node_class.update_proto = update_proto
    try:
        yield
    finally:
        node_class.update_proto = original


def functional(model: keras.Model) -> keras.Model:
    """A Keras 3 ``Sequential`` as the functional model over the same layers and weights.
    tf2onnx's ``from_keras`` takes a Sequential's output names from its tensors
    (``keras_tensor_5``) and fails on them with a KeyError; the functional model names its
    output after the last layer and traces the same computation."""
    if isinstance(model, keras.Sequential):
        return keras.Model(model.inputs, model.outputs, name=model.name)
    return model


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


def input_name(tensor) -> str:
    """The Keras InputLayer's name ('input_layer'), not the tensor's ('keras_tensor')."""
    history = getattr(tensor, "_keras_history", None)
    if history is not None and getattr(history, "operation", None) is not None:
        return history.operation.name
    return tensor.name.split(":")[0]


def all_layers(model) -> list:
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if hasattr(layer, "layers"):
            layers.extend(all_layers(layer))
    return layers


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
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        message = str(exc).replace("\n", " ")
        named = [
            metadata.describe_node(n.name, n.op_type, n.doc_string)
            for n in proto.graph.node
            if n.name and f"node name: {n.name})" in message
        ]
        raise UnsupportedError(
            "tf2onnx wrote an ONNX graph that fails ONNX's own check"
            + (f" at {'; '.join(named)}" if named else "")
            + f": {message[:400]}. This is a tf2onnx conversion error for that layer's "
            "configuration: replace the layer or change its configuration (README, "
            "'Known not to convert')."
        ) from exc
