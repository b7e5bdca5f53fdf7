"""sink_transposes: a layout round trip around layout-free ops disappears.

Pattern: ``Transpose(x, p) -> chain -> Transpose(q)`` with ``q`` undoing ``p``, or ending in a
``ReduceMean``/``ReduceMax`` (keepdims=0) whose remaining axes keep their order; the chain is
ops that act on every element alike: unary activations, and Mul/Add/Sub/Div/PRelu with a
constant operand (PReLU's alpha, LayerScale's gamma), each value used once. tf2onnx leaves
these round trips around ops it did not write itself (stage 1's PRelu).

Output form: the chain runs on ``x`` itself (so on NCHW data), each constant broadcast to
the full rank and transposed by ``q``: ``c' = transpose(c[None, ...], q)``; a final Reduce
reduces over ``p``'s image of its axes. Left alone: anything else (nothing to record: a
Transpose no pass removes is listed with a reason in passes.json).
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from pipeline.passes._base import GraphPass, add_initializer, const, only_consumer
from pipeline.passes.layout_math import compose, is_identity

_UNARY = ("Relu", "Sigmoid", "Tanh", "Neg", "Abs", "Exp", "Elu", "Selu", "LeakyRelu", "Erf")
_WITH_CONST = ("Mul", "Add", "Sub", "Div", "PRelu")
_REDUCE = ("ReduceMean", "ReduceMax")


def _perm(node: ir.Node) -> tuple[int, ...]:
    return tuple(node.attributes.get_ints("perm", ()))


def _const_operand(node: ir.Node, data: ir.Value) -> int | None:
    """The index of the constant operand of a binary op fed by ``data``, else None."""
    if len(node.inputs) != 2:
        return None
    index = 1 if node.inputs[0] is data else 0
    if node.inputs[1 - index] is not data or const(node.inputs[index]) is None:
        return None
    if node.op_type == "PRelu" and index != 1:
        return None
    return index


def _reduce_axes(node: ir.Node) -> list[int] | None:
    if node.attributes.get_int("keepdims", 1) != 0:
        return None
    if len(node.inputs) > 1 and node.inputs[1] is not None:
        array = const(node.inputs[1])
        return None if array is None else [int(a) for a in array.reshape(-1)]
    return list(node.attributes.get_ints("axes", ())) or None


class SinkTransposes(GraphPass):
    NAME = "sink_transposes"

    def rewrite(self, model: ir.Model) -> bool:
        modified = False
        for start in list(model.graph):
            if start.op_type == "Transpose" and start.graph is not None:
                modified |= self._sink(model.graph, start)
        return modified

    def _sink(self, graph: ir.Graph, start: ir.Node) -> bool:
        p, chain, current = _perm(start), [], start.outputs[0]
        while (node := only_consumer(current)) is not None:
            if node.op_type == "Transpose" and is_identity(compose(p, _perm(node))):
                self._rewrite(graph, start, chain, node)
                return True
            if node.op_type in _REDUCE and chain and self._reduce_end(graph, start, chain, node):
                return True
            if node.op_type in _UNARY or (
                node.op_type in _WITH_CONST and _const_operand(node, current) is not None
            ):
                chain.append(node)
                current = node.outputs[0]
                continue
            return False
        return False

    @staticmethod
    def _rebase(graph: ir.Graph, start: ir.Node, chain: list[ir.Node]) -> None:
        """The chain reads ``start``'s input; its constants and shapes follow."""
        p = _perm(start)
        q = tuple(p.index(axis) for axis in range(len(p)))
        previous, data = start.outputs[0], start.inputs[0]
        for node in chain:
            index = _const_operand(node, previous) if node.op_type in _WITH_CONST else None
            if previous is start.outputs[0]:
                node.replace_input_with(list(node.inputs).index(previous), data)
            if index is not None:
                array = const(node.inputs[index])
                full = array.reshape((1,) * (len(p) - array.ndim) + array.shape)
                moved = add_initializer(
                    graph, f"{node.name}_nchw", np.transpose(full, q), like=node.inputs[index]
                )
                node.replace_input_with(index, moved)
            node.outputs[0].shape = data.shape
            previous = data = node.outputs[0]

    def _rewrite(self, graph, start, chain, end) -> None:
        self._rebase(graph, start, chain)
        result = chain[-1].outputs[0] if chain else start.inputs[0]
        end.outputs[0].replace_all_uses_with(result, replace_graph_outputs=True)
        graph.remove(end, safe=True)
        if not start.outputs[0].uses():
            graph.remove(start, safe=True)

    def _reduce_end(self, graph, start, chain, reduce) -> bool:
        p, axes = _perm(start), _reduce_axes(reduce)
        if axes is None:
            return False
        axes = [a % len(p) for a in axes]
        kept = [p[a] for a in range(len(p)) if a not in axes]
        if kept != sorted(kept):
            return False
        self._rebase(graph, start, chain)
        new_axes = sorted(p[a] for a in axes)
        if len(reduce.inputs) > 1 and reduce.inputs[1] is not None:
            value = add_initializer(graph, f"{reduce.name}_axes", np.array(new_axes, np.int64))
            reduce.replace_input_with(1, value)
        else:
            reduce.attributes["axes"] = ir.AttrInt64s("axes", new_axes)
        if not start.outputs[0].uses():
            graph.remove(start, safe=True)
        return True
