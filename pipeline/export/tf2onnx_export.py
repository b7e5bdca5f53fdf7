"""Keras model -> ONNX with tf2onnx, then provenance and the checks tf2onnx does not do.

tf2onnx's ``from_keras`` runs with ``continue_on_error``: a TensorFlow op it cannot convert
stays in the graph as an op no ONNX runtime knows, without an exception. ``validate`` finds
such ops and fails naming the node, its Keras layer and what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keras
import onnx
import tensorflow as tf
import tf2onnx

from pipeline import metadata
from pipeline.errors import InternalError, UnsupportedError
from pipeline.export import keras_forms, layer_support, own_layers, structure, tf2onnx_optimizers

OPSET = 17


def to_onnx(model: keras.Model, opset: int = OPSET) -> onnx.ModelProto:
    """tf2onnx conversion with a dynamic batch dimension on every input."""
    layer_support.check_layers(model, all_layers(model))
    signature = [
        tf.TensorSpec((None, *tensor.shape[1:]), tensor.dtype, name=input_name(tensor))
        for tensor in model.inputs
    ]
    traced: list[own_layers.Traced] = []
    with (
        tracing(traced),
        keras_forms.batch_norm_kept(),
        own_layers.quiet_placeholders(),
        tf2onnx_optimizers.copy_once(),
    ):
        proto, _ = tf2onnx.convert.from_keras(
            functional(model), input_signature=signature, opset=opset
        )
    own_layers.substitute(proto, traced)
    explicit_same_pads(proto)
    structure.name_outputs(proto, structure.output_keys(model))
    return proto


@contextmanager
def tracing(traced: list[own_layers.Traced]) -> Iterator[None]:
    """tf2onnx's trace of the model (``tf2onnx.convert._get_concrete_function``) made with our
    Keras forms and placeholders, which are undone as soon as the trace exists: while
    tf2onnx then freezes and converts the graph, Keras is itself again (``keras_model.keras``
    is saved on a second thread meanwhile). A tf2onnx that traces elsewhere is refused, not
    half-patched."""
    original = tf2onnx.convert._get_concrete_function
    traced_once = False

    def traced_function(*args, **kwargs):
        nonlocal traced_once
        with keras_forms.traceable_forms(), own_layers.placeholders(traced):
            function = original(*args, **kwargs)
        traced_once = True
        return function

    tf2onnx.convert._get_concrete_function = traced_function
    try:
        yield
    finally:
        tf2onnx.convert._get_concrete_function = original
    if not traced_once:
        raise InternalError("tf2onnx converted without tracing through _get_concrete_function")


def functional(model: keras.Model) -> keras.Model:
    """The functional model over the same layers and weights, taking a flat list of inputs.
    tf2onnx's ``from_keras`` calls the model on a list: a Keras 3 ``Sequential`` then names
    its outputs after its tensors (``keras_tensor_5``, a KeyError in tf2onnx), and a model
    whose inputs are a dict (``{"token_ids": ..., "segment_ids": ...}``, keras-hub's
    backbones) refuses the list. The functional model over ``model.inputs`` (the dict
    flattened by sorted key) computes the same with the same layers."""
    if isinstance(model, keras.Sequential) or isinstance(model.input, dict):
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


def validate(proto: onnx.ModelProto, serialized: bytes | None = None) -> None:
    """Fail on any op that is not a standard ONNX op at the model's opset (``serialized``:
    ``proto``'s bytes, where the caller has them: ONNX's checker then takes them as they are)."""
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
        onnx.checker.check_model(proto if serialized is None else serialized, full_check=True)
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
