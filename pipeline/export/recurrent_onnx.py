"""The ONNX function body of each recurrent form, and the swap of stage 1's placeholders.

Body, for X batch-first (B, T, F) (onnxruntime runs recurrent ops only time-major)::

    [Backward: X reversed along time]
    Xt = Transpose(X, [1, 0, 2])                        # (T, B, F)
    Y, Y_h = LSTM|GRU|RNN(Xt, W, R, B)                  # (T, D, B, H), (D, B, H)
    Forward/Backward  Sequence: Transpose(Squeeze(Y, 1), [1, 0, 2])          (B, T, H)
                      Last:     Squeeze(Y_h, 0)                              (B, H)
    BidirectionalConcat Sequence: Reshape(Transpose(Y, [2, 0, 1, 3]), [0, 0, -1])  (B, T, 2H)
                        Last:     Reshape(Transpose(Y_h, [1, 0, 2]), [0, -1])      (B, 2H)
    BidirectionalSum  Sequence: Transpose(ReduceSum(Y, 1), [1, 0, 2])        (B, T, H)
                      Last:     ReduceSum(Y_h, 0)                            (B, H)

Keras' backward layer of a Bidirectional returns its sequence re-reversed to input order, as
ONNX's ``reverse`` direction does; a ``go_backwards`` layer returns it in processing order,
which is the forward op on the reversed input.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from pipeline import recurrent_form
from pipeline.errors import UnsupportedError
from pipeline.export import recurrent
from pipeline.recurrent_form import Form

_INT64_MIN = np.iinfo(np.int64).min


def _const(name: str, values) -> onnx.NodeProto:
    tensor = numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)
    return helper.make_node("Constant", [], [name], value=tensor)


def _ref(name: str, kind: int) -> onnx.AttributeProto:
    return onnx.AttributeProto(name=name, ref_attr_name=name, type=kind)


def _outputs(form: Form) -> list[onnx.NodeProto]:
    source = "Y_all" if form.output == "Sequence" else "Y_h"
    sequence = form.output == "Sequence"
    if form.direction == "BidirectionalConcat":
        perm, shape = ([2, 0, 1, 3], [0, 0, -1]) if sequence else ([1, 0, 2], [0, -1])
        return [
            helper.make_node("Transpose", [source], ["batch_first"], perm=perm),
            _const("merged_shape", shape),
            helper.make_node("Reshape", ["batch_first", "merged_shape"], ["Y"]),
        ]
    reduce = "ReduceSum" if form.direction == "BidirectionalSum" else "Squeeze"
    axis = 1 if sequence else 0
    nodes = [_const("direction_axis", [axis])]
    attrs = {"keepdims": 0} if reduce == "ReduceSum" else {}
    if not sequence:
        return [*nodes, helper.make_node(reduce, [source, "direction_axis"], ["Y"], **attrs)]
    return [
        *nodes,
        helper.make_node(reduce, [source, "direction_axis"], ["time_major"], **attrs),
        helper.make_node("Transpose", ["time_major"], ["Y"], perm=[1, 0, 2]),
    ]


def function(form: Form, opset: int) -> onnx.FunctionProto:
    nodes = []
    x = "X"
    if form.direction == "Backward":
        nodes += [
            _const("start", [-1]),
            _const("end", [_INT64_MIN]),
            _const("time_axis", [1]),
            _const("step", [-1]),
            helper.make_node("Slice", ["X", "start", "end", "time_axis", "step"], ["X_rev"]),
        ]
        x = "X_rev"
    nodes.append(helper.make_node("Transpose", [x], ["X_tbf"], perm=[1, 0, 2]))
    op = helper.make_node(
        recurrent_form.KINDS[form.kind],
        ["X_tbf", "W", "R", "B"],
        ["Y_all", "Y_h"],
        direction="bidirectional" if form.bidirectional else "forward",
    )
    op.attribute.append(_ref("hidden_size", onnx.AttributeProto.INT))
    attributes = ["hidden_size"]
    if form.kind == "GRU":
        op.attribute.append(helper.make_attribute("linear_before_reset", 1))
    if form.kind == "SimpleRNN":
        op.attribute.append(_ref("activations", onnx.AttributeProto.STRINGS))
        attributes.append("activations")
    nodes += [op, *_outputs(form)]
    return helper.make_function(
        recurrent_form.DOMAIN,
        form.op_type,
        ["X", "W", "R", "B"],
        ["Y"],
        nodes,
        [helper.make_opsetid("", opset)],
        attributes,
    )


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
    proto.functions.extend(function(form, opset) for form in forms.values())
    if forms:
        proto.opset_import.append(
            helper.make_opsetid(recurrent_form.DOMAIN, recurrent_form.VERSION)
        )
