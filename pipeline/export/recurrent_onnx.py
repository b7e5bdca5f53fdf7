"""A recurrent layer's placeholder becomes a call of its ONNX function
(``pipeline.recurrent_form``), the weights converted by ``pipeline.export.recurrent``."""

from __future__ import annotations

import onnx
from onnx import helper

from pipeline import recurrent_form
from pipeline.export import own_layers, recurrent


def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer) -> onnx.FunctionProto:
    """Turn the placeholder ``node`` into a call of ``layer``'s function (in place)."""
    graph = proto.graph
    form = recurrent.form_of(layer)
    arrays = recurrent.weights(layer)
    inputs = [node.input[0]]
    for key in "WRB":
        inputs.append(
            ""
            if arrays[key] is None
            else own_layers.initializer(graph, f"{layer.name}.{key}", arrays[key])
        )
    own_layers.become(node, form.op_type, recurrent_form.DOMAIN, inputs)
    node.attribute.append(helper.make_attribute("hidden_size", arrays["R"].shape[-1]))
    if form.kind == "SimpleRNN":
        activation = recurrent._activation(layer)
        node.attribute.append(
            helper.make_attribute("activations", [activation] * form.num_directions)
        )
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    return recurrent_form.function(form, opset)
