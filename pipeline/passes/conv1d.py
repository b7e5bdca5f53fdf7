"""conv1d: a 1-D convolution or pooling, which TensorFlow computes as a 2-D one over a height
of 1, becomes the 1-D ONNX op (``nn.Conv1d``/``nn.MaxPool1d``/``nn.AvgPool1d`` in stage 3).

Patterns (tf2onnx's output, after its own transpose optimizer)::

    input side:  Unsqueeze(x[N,C,W], axes=[2]) -> Op                 (x channels-first)
                 Unsqueeze(x[N,W,C], axes=[1]) -> Transpose([0,3,1,2]) -> Op  (x channels-last)
    output side: Op -> Squeeze(axes=[2])                              (channels-first result)
                 Op -> Transpose([0,2,3,1]) -> Squeeze(axes=[1])      (channels-last result)

``Op`` is Conv, MaxPool or AveragePool with a kernel, stride, dilation and pads of 1/1/1/0
along the height. Output form: ``[Transpose(x, [0,2,1])] -> Op1d -> [Transpose([0,2,1])]``,
the height dropped from every attribute and from the weight (``[O, I, 1, k] -> [O, I, k]``).
A bias ``Add`` of a per-channel constant right after a 1-D Conv goes into the Conv's bias.

Left alone (reason recorded): other patterns around a 2-D op with a height-1 kernel.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import add_initializer, const, only_consumer, perm, take_over
from pipeline.passes.conv_bias import fold_bias_add

_OPS = ("Conv", "MaxPool", "AveragePool")
_TO_NCHW, _TO_NHWC, _SWAP = (0, 3, 1, 2), (0, 2, 3, 1), (0, 2, 1)


def _axes(node: ir.Node) -> tuple[int, ...] | None:
    """Squeeze/Unsqueeze axes, non-negative (tf2onnx writes Unsqueeze(x[N,W,C], -3))."""
    if len(node.inputs) > 1:
        array = const(node.inputs[1])
        axes = None if array is None else [int(a) for a in array.reshape(-1)]
    else:
        axes = list(node.attributes.get_ints("axes", ()))
    shape = node.inputs[0].shape
    if axes is None or shape is None:
        return None
    rank = len(shape) + (len(axes) if node.op_type == "Unsqueeze" else 0)
    return tuple(a + rank if a < 0 else a for a in axes)


def _is(node: ir.Node | None, op: str, axes: tuple[int, ...]) -> bool:
    return node is not None and node.op_type == op and _axes(node) == axes


def _input_side(op: ir.Node) -> tuple[ir.Value, bool, list[ir.Node]] | None:
    """(the rank-3 input, whether it is channels-last, the nodes that go)."""
    source = op.inputs[0].producer()
    if _is(source, "Unsqueeze", (2,)) and only_consumer(source.outputs[0]) is op:
        return source.inputs[0], False, [source]
    if perm(source) == _TO_NCHW and only_consumer(source.outputs[0]) is op:
        unsqueeze = source.inputs[0].producer()
        if _is(unsqueeze, "Unsqueeze", (1,)) and only_consumer(unsqueeze.outputs[0]) is source:
            return unsqueeze.inputs[0], True, [source, unsqueeze]
    return None


def _output_side(op: ir.Node) -> tuple[ir.Value, bool, list[ir.Node]] | None:
    """(the rank-3 result, whether it is channels-last, the nodes that go)."""
    after = only_consumer(op.outputs[0])
    if _is(after, "Squeeze", (2,)):
        return after.outputs[0], False, [after]
    if perm(after) == _TO_NHWC and (squeeze := only_consumer(after.outputs[0])) is not None:
        if _is(squeeze, "Squeeze", (1,)):
            return squeeze.outputs[0], True, [after, squeeze]
    return None


def _height_one(op: ir.Node | None) -> bool:
    """A 2-D op with a height-1 kernel on data of height 1 (a 1x1 pooling over a real image,
    NASNet's, has the kernel but not the data)."""
    if op is None or op.op_type not in _OPS:
        return False
    kernel = list(op.attributes.get_ints("kernel_shape", ()))
    shape = op.inputs[0].shape
    height = shape[2] if shape is not None and len(shape) == 4 else None
    return len(kernel) == 2 and kernel[0] == 1 and height == 1


def _split_between(graph: ir.Graph, op: ir.Node, next_op: ir.Node) -> None:
    """op -> next_op on [N, C, 1, W] becomes op -> Squeeze(2) -> Unsqueeze(2) -> next_op."""
    axis = add_initializer(graph, f"{op.name}_height_axis", np.array([2], np.int64))
    squeeze = ir.node("Squeeze", [op.outputs[0], axis], name=f"{op.name}_squeeze")
    unsqueeze = ir.node("Unsqueeze", [squeeze.outputs[0], axis], name=f"{next_op.name}_unsqueeze")
    for node, source in ((squeeze, op), (unsqueeze, next_op)):
        node.doc_string = source.doc_string
    shape = op.outputs[0].shape
    if shape is not None:
        squeeze.outputs[0].shape = ir.Shape([shape[0], shape[1], shape[3]])
        unsqueeze.outputs[0].shape = shape
    squeeze.outputs[0].type = unsqueeze.outputs[0].type = op.outputs[0].type
    graph.insert_after(op, [squeeze, unsqueeze])
    index = list(next_op.inputs).index(op.outputs[0])
    next_op.replace_input_with(index, unsqueeze.outputs[0])


def _width_attributes(op: ir.Node) -> dict | None:
    """The op's attributes along the width only; None if the height is not trivial."""
    attrs = {}
    for name, height_value in (("kernel_shape", 1), ("strides", 1), ("dilations", 1)):
        values = list(op.attributes.get_ints(name, ()))
        if values:
            if len(values) != 2 or values[0] != height_value:
                return None
            attrs[name] = [values[1]]
    pads = list(op.attributes.get_ints("pads", ()))
    if pads:
        if len(pads) != 4 or pads[0] or pads[2]:
            return None
        attrs["pads"] = [pads[1], pads[3]]
    if op.attributes.get_string("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        return None
    for name in ("group", "ceil_mode", "count_include_pad"):
        if name in op.attributes:
            attrs[name] = op.attributes.get_int(name)
    return attrs


class Conv1d(GraphPass):
    NAME = "conv1d"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        graph, modified = model.graph, False
        for op in list(graph):
            if _height_one(op) and _height_one(next_op := only_consumer(op.outputs[0])):
                _split_between(graph, op, next_op)  # tf2onnx dropped the Squeeze/Unsqueeze
        for op in list(graph):
            if not _height_one(op) or op.graph is None:
                continue
            found_in, found_out = _input_side(op), _output_side(op)
            attrs = _width_attributes(op)
            weight = const(op.inputs[1]) if op.op_type == "Conv" else None
            if found_in is None or found_out is None or attrs is None:
                skips.add(op, "a 2-D op with a height-1 kernel outside the 1-D pattern")
                continue
            if op.op_type == "Conv" and weight is None:
                skips.add(op, "its weight is not an initializer")
                continue
            self._to_1d(graph, op, found_in, found_out, attrs, weight)
            modified = True
        return modified

    def _to_1d(self, graph, op, found_in, found_out, attrs, weight) -> None:
        (x, x_last, in_nodes), (y, y_last, out_nodes) = found_in, found_out
        if x_last:
            swap = ir.node("Transpose", [x], {"perm": list(_SWAP)}, name=f"{op.name}_to_ncw")
            swap.doc_string = op.doc_string
            graph.insert_before(op, swap)
            x = swap.outputs[0]
        inputs = [x]
        if weight is not None:
            inputs.append(add_initializer(graph, f"{op.name}_w1d", weight[:, :, 0, :]))
            inputs += list(op.inputs[2:])
        new = ir.node(op.op_type, inputs, attrs, name=op.name, doc_string=op.doc_string)
        graph.insert_before(op, new)
        result = new.outputs[0]
        if y_last:
            back = ir.node("Transpose", [result], {"perm": list(_SWAP)}, name=f"{op.name}_to_nwc")
            back.doc_string = op.doc_string
            graph.insert_after(new, back)
            result = back.outputs[0]
        take_over(y, result)
        graph.remove([*reversed(out_nodes), op, *in_nodes], safe=True)
        if op.op_type == "Conv" and not y_last:
            fold_bias_add(graph, new)
