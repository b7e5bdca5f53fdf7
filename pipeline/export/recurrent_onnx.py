"""Swap stage 1's recurrent placeholders for calls of their ONNX functions
(``pipeline.recurrent_form``), the weights converted by ``pipeline.export.recurrent``."""

from __future__ import annotations

import onnx
from onnx import helper, numpy_helper

from pipeline import recurrent_form
from pipeline.errors import UnsupportedError
from pipeline.export import recurrent
from pipeline.recurrent_form import Form


def substitute(proto: onnx.ModelProto, traced: list) -> None:
    """Replace every placeholder node with a call of its layer's function (in place)."""
    graph = proto.graph
    forms: dict[str, Form] = {}
    seen = set()
    for node in graph.node:
        match = recurrent._PLACEHOLDER.search(node.name)
        if not match or not node.op_type.startswith(("PyFunc", "EagerPyFunc")):
            continue
        layer = traced[int(match[1])]
        if layer.name in seen:
            raise UnsupportedError(
                f"Keras layer '{layer.name}' ({type(layer).__name__}) is called more than once; "
                "a shared recurrent layer is not supported (call one layer per input)"
            )
        seen.add(layer.name)
        form = recurrent.form_of(layer)
        forms[form.op_type] = form
        arrays = recurrent.weights(layer)
        inputs = [node.input[0]]
        for key in "WRB":
            if arrays[key] is None:
                inputs.append("")
                continue
            name = f"{layer.name}.{key}"
            graph.initializer.append(numpy_helper.from_array(arrays[key], name))
            inputs.append(name)
        del node.input[:]
        node.input.extend(inputs)
        del node.attribute[:]
        node.op_type, node.domain = form.op_type, recurrent_form.DOMAIN
        node.attribute.append(helper.make_attribute("hidden_size", arrays["R"].shape[-1]))
        if form.kind == "SimpleRNN":
            node.attribute.append(
                helper.make_attribute(
                    "activations",
                    [recurrent._activation(layer)] * 2
                    if form.bidirectional
                    else [recurrent._activation(layer)],
                )
            )
    if len(seen) != len(traced):
        missing = [layer.name for layer in traced if layer.name not in seen]
        raise UnsupportedError(
            f"tf2onnx dropped the recurrent layer(s) {missing}; report the model"
        )
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    proto.functions.extend(recurrent_form.function(form, opset) for form in forms.values())
    if forms:
        proto.opset_import.append(
            helper.make_opsetid(recurrent_form.DOMAIN, recurrent_form.VERSION)
        )
