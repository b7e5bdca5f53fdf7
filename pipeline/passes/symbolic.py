"""Symbolic evaluation of small integer sub-graphs (the shape computations tf2onnx writes):
every value that can be known is a ``SymVec`` whose items are ints or the names of unknown
dims (the batch, an open sequence length). Phase 1 of ``fold_shapes``; ``tensordot`` reads it
too.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np
import onnx_ir as ir

from pipeline.passes._ir import const

Dim = int | str  # an int, or the name of an unknown dim


SHAPE_OPS = (
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


def dims(value: ir.Value) -> tuple[Dim, ...] | None:
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
        shape = dims(node.inputs[0])
        if shape is None:
            return None
        start, end = attrs.get_int("start", 0), attrs.get_int("end", len(shape))
        return SymVec(shape[start:end])
    if first is None or any(a is None for a in args):
        return None
    if op in ("Cast", "Identity"):
        to = attrs.get_int("to", ir.DataType.INT64) if op == "Cast" else ir.DataType.INT64
        kind = ir.DataType(to)  # a size cast to float stays the size (a Range's limit)
        return first if kind.is_integer() or kind.is_floating_point() else None
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
    if op in _ARITHMETIC and len(args) == 2:
        return _elementwise(op, args[0], args[1])
    if op == "ReduceProd" and first.known and len(args) == 1:
        return SymVec((prod(first.items),), scalar=attrs.get_int("keepdims", 1) == 0)
    return None


_ARITHMETIC = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Equal": np.equal}


def _elementwise(op: str, left: SymVec, right: SymVec) -> SymVec | None:
    """``op`` item by item (broadcasting one item), unknown dims kept where the result does
    not depend on them: ``d * 1``, ``d + 0``, ``d * 0``, ``d == d``, and ``d == k`` for
    ``k <= 0`` (an unknown dim is a size: at least 1; tf2onnx's strided slices ask whether
    an end is 0, meaning "to the end")."""
    count = max(len(left.items), len(right.items))
    if {len(left.items), len(right.items)} - {1, count}:
        return None
    xs = left.items * count if len(left.items) == 1 else left.items
    ys = right.items * count if len(right.items) == 1 else right.items
    items = [_item(op, x, y) for x, y in zip(xs, ys, strict=True)]
    if any(i is None for i in items):
        return None
    return SymVec(tuple(items), scalar=left.scalar and right.scalar)


def _item(op: str, x: Dim, y: Dim) -> Dim | None:
    if isinstance(x, int) and isinstance(y, int):
        return int(_ARITHMETIC[op](x, y))
    if op == "Equal":
        if x == y:
            return 1
        return 0 if any(isinstance(v, int) and v <= 0 for v in (x, y)) else None
    if op == "Mul" and 0 in (x, y):
        return 0
    if (op == "Mul" and y == 1) or (op in ("Add", "Sub") and y == 0):
        return x
    if (op == "Mul" and x == 1) or (op == "Add" and x == 0):
        return y
    return None


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
