"""fold_shapes: shape sub-graphs -> constants; a Reshape that flattens -> Flatten.

Pattern: a Reshape whose target shape is computed from ``Shape(x)`` by Gather, Slice,
Concat, Cast, Squeeze/Unsqueeze, Mul and ReduceProd (tf2onnx's Keras Flatten, in every form
it takes), or a constant target.

Two phases, as in onnx-graphsurgeon: first evaluate every small integer tensor symbolically
(a dim is an int or the name of an unknown dim, such as the batch), then rewrite:

- target ``[N, k]`` with ``N`` the data's own first dim and ``k`` = the product of the
  other dims (or -1) -> ``Flatten(axis=1)``: the batch stays dynamic, onnx2torch makes it
  ``nn.Flatten``;
- any other target -> a constant target: ``-1`` for its one unknown dim (the batch of a
  TimeDistributed merged into its time axis and split again, UpSampling1D's
  ``[N, steps * size, C]``); with more, ``0`` for each the data has at the same axis;
- a fully known target -> a constant target.

Left alone (reason recorded): a target with two unknown dims that no 0 can copy.
The shape nodes left unused are removed by the ``remove_unused`` pass that follows. Needs
shapes: runs after shape inference.
"""

from __future__ import annotations

from math import prod

import numpy as np
import onnx_ir as ir

from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import add_initializer, const, replace_nodes
from pipeline.passes.symbolic import SHAPE_OPS, Dim, SymVec, dims, evaluate_graph

BOOL = ir.DataType.BOOL


def _is_identity(data: tuple[Dim, ...], target: tuple[Dim, ...]) -> bool:
    """Does Reshape(data -> target) keep the shape as it is (a no-op tf2onnx left)?"""
    if len(data) != len(target) or list(target).count(-1) > 1:
        return False
    return all(t == d or t == 0 or t == -1 for t, d in zip(target, data, strict=True))


def _is_flatten(data: tuple[Dim, ...], target: tuple[Dim, ...]) -> bool:
    """Does Reshape(data -> target) keep the first dim and flatten all the others?"""
    if len(target) != 2 or len(data) < 2:
        return False
    rest = data[1:]
    rest_size = prod(rest) if all(isinstance(d, int) for d in rest) else None
    first, second = target
    # an unknown first dim read from another value's Shape (tf2onnx's Flatten takes the Shape
    # of the value before its layout Transpose, whose batch dim inference names apart) is the
    # batch too: a Keras tensor's first dim is; the numeric check after the passes holds it
    keeps_batch = (
        first == data[0] or first == 0 or (isinstance(first, str) and isinstance(data[0], str))
    )
    if keeps_batch:
        return second == -1 or second == rest_size
    return first == -1 and rest_size is not None and second == rest_size


def _static_target(data: tuple[Dim, ...], target: tuple[Dim, ...], zero_copies: bool):
    """The constant target that computes ``target`` for every size of the unknown dims: one
    unknown dim becomes ``-1``, which Reshape infers from the data's size as the computed
    target had it (the batch of a TimeDistributed folded into its time axis, or read from
    ``Shape`` of another value). With more, each the data has at the same axis becomes
    ``0``, "copy" (unless ``allowzero``), and at most one other ``-1``. None if two remain."""
    unknown = [i for i, t in enumerate(target) if not isinstance(t, int)]
    if len(unknown) + list(target).count(-1) > 1 and zero_copies:
        unknown = [i for i in unknown if not (i < len(data) and target[i] == data[i])]
        target = tuple(t if i in unknown or isinstance(t, int) else 0 for i, t in enumerate(target))
    if len(unknown) + list(target).count(-1) > 1:
        return None
    return [-1 if i in unknown else t for i, t in enumerate(target)]


class FoldShapes(GraphPass):
    NAME = "fold_shapes"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        graph = model.graph
        known = evaluate_graph(graph)
        modified = False
        for node in list(graph):
            if node.op_type != "Reshape" or node.inputs[1] not in known:
                continue
            modified |= self._fold_reshape(graph, node, known[node.inputs[1]].items, skips)
        modified |= self._fold_known(graph, known)
        return modified

    @staticmethod
    def _fold_known(graph: ir.Graph, known: dict[ir.Value, SymVec]) -> bool:
        """Every other computed value that is fully known (Pad's pads, Slice's bounds,
        Resize's sizes) becomes an initializer of the value's own type (tf2onnx computes
        some in int32: an int64 constant would not type-check); its sub-graph dies."""
        modified = False
        for value, vec in known.items():
            producer = value.producer()
            if producer is None or not vec.known or not value.uses():
                continue
            if all(c.op_type in SHAPE_OPS for c in value.consumers()):
                continue  # an intermediate of a shape sub-graph: its consumer is folded
            if value.dtype is None or not (value.dtype.is_integer() or value.dtype == BOOL):
                continue  # the constant must keep the type its consumers were typed for
            array = np.array(vec.items, value.dtype.numpy()).reshape(() if vec.scalar else (-1,))
            const_value = add_initializer(graph, f"{producer.name}_value", array)
            value.replace_all_uses_with(const_value, replace_graph_outputs=False)
            modified = True
        return modified

    def _fold_reshape(
        self, graph: ir.Graph, node: ir.Node, target: tuple[Dim, ...], skips: Skips
    ) -> bool:
        data = dims(node.inputs[0])
        if data is None:
            skips.add(node, "the input's rank is unknown; run shape inference first")
            return False
        if _is_flatten(data, target):
            replace_nodes(graph, [node], "Flatten", [node.inputs[0]], {"axis": 1})
            return True
        if _is_identity(data, target) and not node.outputs[0].is_graph_output():
            node.outputs[0].replace_all_uses_with(node.inputs[0])  # a no-op Reshape
            graph.remove(node, safe=True)
            return True
        resolved = _static_target(data, target, node.attributes.get_int("allowzero", 0) == 0)
        if resolved is None:
            skips.add(
                node,
                f"target shape {list(target)} has more than one dim computed from an unknown "
                f"size of {list(data)} that no 0 or -1 can stand for; export the model "
                "with static non-batch shapes",
            )
            return False
        if node.inputs[1].is_initializer() and list(const(node.inputs[1])) == resolved:
            return False
        shape = add_initializer(graph, f"{node.name}_shape", np.array(resolved, np.int64))
        node.replace_input_with(1, shape)
        return True
