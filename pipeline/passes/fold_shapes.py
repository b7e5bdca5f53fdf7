"""fold_shapes: shape sub-graphs -> constants; a Reshape that flattens -> Flatten.

Pattern: a Reshape whose target shape is computed from ``Shape(x)`` by Gather, Slice,
Concat, Cast, Squeeze/Unsqueeze, Mul and ReduceProd (tf2onnx's Keras Flatten, in every form
it takes), or a constant target.

Two phases, as in onnx-graphsurgeon: first evaluate every small integer tensor symbolically
(a dim is an int or the name of an unknown dim, such as the batch), then rewrite:

- target ``[N, k]`` with ``N`` the data's own first dim and ``k`` = the product of the
  other dims (or -1) -> ``Flatten(axis=1)``: the batch stays dynamic, onnx2torch makes it
  ``nn.Flatten``;
- any other target with only the first dim unknown and equal to the data's -> a constant
  target with -1 there;
- a fully known target -> a constant target.

Left alone (reason recorded): a target that depends on an unknown dim other than the batch.
Unused shape nodes are removed afterwards. Needs shapes: runs after shape inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np
import onnx_ir as ir

from pipeline.passes._base import (
    GraphPass,
    RemoveUnusedNodes,
    add_initializer,
    const,
    replace_nodes,
)

Dim = int | str  # an int, or the name of an unknown dim


_SHAPE_OPS = (
    "Shape",
    "Gather",
    "Slice",
    "Concat",
    "Cast",
    "Unsqueeze",
    "Squeeze",
    "Mul",
    "ReduceProd",
    "Identity",
)


@dataclass(frozen=True)
class SymVec:
    """A small integer tensor of rank 0 or 1 whose items may be unknown dims."""

    items: tuple[Dim, ...]
    scalar: bool = False

    @property
    def known(self) -> bool:
        return all(isinstance(i, int) for i in self.items)


def _dims(value: ir.Value) -> tuple[Dim, ...] | None:
    if value.shape is None:
        return None
    out: list[Dim] = []
    for axis, dim in enumerate(value.shape):
        if isinstance(dim, int):
            out.append(dim)
        elif dim.value is not None:
            out.append(f"sym:{dim.value}")
        else:
            out.append(f"dim:{value.name}[{axis}]")
    return tuple(out)


def _from_const(array: np.ndarray) -> SymVec | None:
    if array.dtype.kind not in "iu" or array.ndim > 1:
        return None
    return SymVec(tuple(int(v) for v in array.reshape(-1)), scalar=array.ndim == 0)


def _evaluate(node: ir.Node, args: list[SymVec | None]) -> SymVec | None:  # noqa: C901
    op, attrs = node.op_type, node.attributes
    first = args[0] if args else None
    if op == "Shape":
        dims = _dims(node.inputs[0])
        if dims is None:
            return None
        start, end = attrs.get_int("start", 0), attrs.get_int("end", len(dims))
        return SymVec(dims[start:end])
    if first is None or any(a is None for a in args):
        return None
    if op in ("Cast", "Identity"):
        to = attrs.get_int("to", ir.DataType.INT64) if op == "Cast" else ir.DataType.INT64
        return first if ir.DataType(to).is_integer() else None
    if op == "Gather" and attrs.get_int("axis", 0) == 0 and args[1].known:
        picked = tuple(first.items[i] for i in args[1].items)
        return SymVec(picked, scalar=args[1].scalar)
    if op == "Slice" and all(a.known for a in args[1:]):
        if len(args) > 3 and args[3].items not in ((0,), (-1,)):
            return None
        step = args[4].items[0] if len(args) > 4 else 1
        return SymVec(first.items[args[1].items[0] : args[2].items[0] : step])
    if op == "Concat":
        return SymVec(tuple(i for a in args for i in a.items))
    if op == "Unsqueeze" and first.scalar:
        return SymVec(first.items)
    if op == "Squeeze" and len(first.items) == 1:
        return SymVec(first.items, scalar=True)
    if op in _ARITHMETIC and all(a.known for a in args):
        left, right = np.array(args[0].items, np.int64), np.array(args[1].items, np.int64)
        if left.size != right.size and 1 not in (left.size, right.size):
            return None
        values = _ARITHMETIC[op](left, right).reshape(-1)
        return SymVec(tuple(int(v) for v in values), scalar=args[0].scalar and args[1].scalar)
    if op == "ReduceProd" and first.known and len(args) == 1:
        return SymVec((prod(first.items),), scalar=attrs.get_int("keepdims", 1) == 0)
    return None


_ARITHMETIC = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract}


def evaluate_graph(graph: ir.Graph) -> dict[ir.Value, SymVec]:
    """Phase 1: every small integer value that can be known (up to unknown dims)."""
    known: dict[ir.Value, SymVec] = {}
    for value in graph.initializers.values():
        array = const(value)
        if array is not None and (vec := _from_const(array)) is not None:
            known[value] = vec
    for node in graph:
        if len(node.outputs) != 1:
            continue
        args = [known.get(v) if v is not None else None for v in node.inputs]
        if node.op_type == "Constant" and (array := const(node.outputs[0])) is not None:
            result = _from_const(array)
        else:
            result = _evaluate(node, args)
        if result is not None:
            known[node.outputs[0]] = result
    return known


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
    keeps_batch = first == data[0] or first == 0
    if keeps_batch:
        return second == -1 or second == rest_size
    return first == -1 and rest_size is not None and second == rest_size


class FoldShapes(GraphPass):
    NAME = "fold_shapes"

    def rewrite(self, model: ir.Model) -> bool:
        graph = model.graph
        known = evaluate_graph(graph)
        modified = False
        for node in list(graph):
            if node.op_type != "Reshape" or node.inputs[1] not in known:
                continue
            modified |= self._fold_reshape(graph, node, known[node.inputs[1]].items)
        modified |= self._fold_known(graph, known)
        if modified:
            RemoveUnusedNodes()(model)
        return modified

    @staticmethod
    def _fold_known(graph: ir.Graph, known: dict[ir.Value, SymVec]) -> bool:
        """Every other computed value that is fully known (Pad's pads, Slice's bounds,
        Resize's sizes) becomes an initializer; its sub-graph dies."""
        modified = False
        for value, vec in known.items():
            producer = value.producer()
            if producer is None or not vec.known or not value.uses():
                continue
            if all(c.op_type in _SHAPE_OPS for c in value.consumers()):
                continue  # an intermediate of a shape sub-graph: its consumer is folded
            array = np.array(vec.items, np.int64).reshape(() if vec.scalar else (-1,))
            const_value = add_initializer(graph, f"{producer.name}_value", array)
            value.replace_all_uses_with(const_value, replace_graph_outputs=False)
            modified = True
        return modified

    def _fold_reshape(self, graph: ir.Graph, node: ir.Node, target: tuple[Dim, ...]) -> bool:
        data = _dims(node.inputs[0])
        if data is None:
            self.skip(node, "the input's rank is unknown; run shape inference first")
            return False
        batch = data[0]
        if _is_flatten(data, target):
            replace_nodes(graph, [node], "Flatten", [node.inputs[0]], {"axis": 1})
            return True
        if _is_identity(data, target) and not node.outputs[0].is_graph_output():
            node.outputs[0].replace_all_uses_with(node.inputs[0])  # a no-op Reshape
            graph.remove(node, safe=True)
            return True
        resolved = [(-1 if d == batch and i == 0 else d) for i, d in enumerate(target)]
        if not all(isinstance(d, int) for d in resolved) or resolved.count(-1) > 1:
            self.skip(
                node,
                f"target shape {list(target)} depends on an unknown dim other "
                "than the batch; export the model with static non-batch shapes",
            )
            return False
        if node.inputs[1].is_initializer() and list(const(node.inputs[1])) == resolved:
            return False
        shape = add_initializer(graph, f"{node.name}_shape", np.array(resolved, np.int64))
        node.replace_input_with(1, shape)
        return True
