"""transposes_past_elementwise: a layout Transpose moves below the element-wise ops after it,
so that it meets what consumes the layout (a Flatten, an inverse Transpose, the graph output).

Pattern: ``Transpose(x, p) -> U`` where ``U`` is a unary element-wise op (an activation, a
Dropout, an Identity: one element at a time, so free of layout; a Dropout's ratio and
training-mode inputs constants, its mask output unused) and the Transpose's only consumer.
Output form: ``U(x) -> Transpose(p)``, repeated while another such op follows. tf2onnx moves
a Transpose down through the activations it knows but stops at a Dropout, so ``Conv ->
BatchNorm -> ReLU -> Dropout -> Flatten -> Dense`` (the common CNN head) kept a Transpose
that ``flatten_dense`` (which looks for ``Transpose -> Flatten``) never saw. Nothing to skip:
every match is rewritten, and the op count stays the same.
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import const, only_consumer
from pipeline.passes.regions import UNARY

ELEMENTWISE = (*UNARY, "Identity")


def _movable(node: ir.Node | None) -> bool:
    """Is ``node`` element-wise on its first input alone (constants beside it, one output
    used)?"""
    if node is None or node.op_type not in ELEMENTWISE or node.domain not in ("", "ai.onnx"):
        return False
    if any(value is not None and const(value) is None for value in node.inputs[1:]):
        return False
    return all(not v.consumers() and not v.is_graph_output() for v in node.outputs[1:])


class TransposesPastElementwise(GraphPass):
    NAME = "transposes_past_elementwise"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        graph, modified = model.graph, False
        for node in list(graph):
            if node.op_type != "Transpose" or node.graph is None:
                continue
            while _movable(after := only_consumer(node.outputs[0])):
                _swap(graph, node, after)
                modified = True
        return modified


def _swap(graph: ir.Graph, transpose: ir.Node, op: ir.Node) -> None:
    """``x -> Transpose -> t -> op -> y`` becomes ``x -> op -> y' -> Transpose -> t'``; the
    value after the op keeps its name (a graph output's name is the interface)."""
    x, t, y = transpose.inputs[0], transpose.outputs[0], op.outputs[0]
    y_shape, y_type, y_name, t_name = y.shape, y.type, y.name, t.name
    y.replace_all_uses_with(t, replace_graph_outputs=True)
    op.replace_input_with(0, x)
    transpose.replace_input_with(0, y)
    y.shape, t.shape, t.type = x.shape, y_shape, y_type
    y.name, t.name = t_name, y_name
    transpose.doc_string = op.doc_string  # it now lays out the op's layer's output (diagnose)
    graph.remove(transpose)
    graph.insert_after(op, transpose)
