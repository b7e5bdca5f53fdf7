"""reshape_dims: a Reshape's output dims named as its input's, where the target says so.

ONNX shape inference names a dim it cannot compute a new symbol (``unk__12``): the ``-1`` of
a Reshape whose input has an unknown dim, even where that ``-1`` is exactly that dim (keras-hub
MiT reshapes its tokens ``[N, 64, 8]`` into a map ``[-1, 8, 8, 8]``: the ``-1`` is ``N``).
Everything downstream then has a batch unrelated to the input's, and a later target such as
``[Shape(tokens)[0], -1, 32]`` on that map has two unknowns no ``0`` or ``-1`` can stand for.

For each Reshape whose target evaluates (``symbolic``) to ints, named dims, ``0`` and one
``-1``: ``0`` is the input's dim at that axis (unless ``allowzero``), and ``-1`` is

- the one named input dim the target does not name, when the known sizes on both sides
  have the same product (``[N, 8, 8, 8] -> [-1, 64, 8]``: ``N``);
- an int, when every named input dim is named in the target (``[N, 8, 8, 8] -> [N, -1, 8]``:
  64).

Those dims are written on the output, and shape inference runs again so that they flow
downstream (inference keeps a dim it cannot compute as written); repeated until nothing
changes. Dims inference left unnamed are not matched. Needs shapes: runs after inference.
"""

from __future__ import annotations

from collections import Counter
from math import prod

import onnx_ir as ir
from onnx_ir.passes import common

from pipeline.passes._base import GraphPass, Skips
from pipeline.passes.symbolic import Dim, dims, evaluate_graph

_ROUNDS = 8  # each round settles at least the first Reshape still unnamed; hub_mit takes 5


def reshaped(data: tuple[Dim, ...], target: tuple[Dim, ...], allowzero: bool) -> list | None:
    """The Reshape's output dims (ints and ``sym:`` names), or None if one stays unknown."""
    copies = not allowzero  # a 0 copies the input's dim at its axis
    out = [data[i] if t == 0 and copies and i < len(data) else t for i, t in enumerate(target)]
    if any(isinstance(d, str) and not d.startswith("sym:") for d in (*data, *out)):
        return None
    if -1 not in out:
        return out
    named_in = Counter(d for d in data if isinstance(d, str))
    named_out = Counter(d for d in out if isinstance(d, str))
    left = named_in - named_out
    if named_out - named_in or sum(left.values()) > 1:
        return None
    sizes_in = prod(d for d in data if isinstance(d, int))
    sizes_out = prod(d for d in out if isinstance(d, int) and d != -1)
    if sizes_out == 0 or sizes_in % sizes_out:
        return None
    ratio = sizes_in // sizes_out
    if left:
        if ratio != 1:
            return None
        fill: Dim = next(iter(left))
    else:
        fill = ratio
    return [fill if d == -1 else d for d in out]


def _as_shape(out: list) -> ir.Shape:
    return ir.Shape([d if isinstance(d, int) else ir.SymbolicDim(d[4:]) for d in out])


class ReshapeDims(GraphPass):
    NAME = "reshape_dims"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        settled: dict[ir.Value, ir.Shape] = {}
        for _ in range(_ROUNDS):
            if not self._round(model.graph, settled):
                break
            _reinfer(model, settled)
        return bool(settled)

    @staticmethod
    def _round(graph: ir.Graph, settled: dict[ir.Value, ir.Shape]) -> bool:
        known = evaluate_graph(graph)
        changed = False
        for node in graph:
            if node.op_type != "Reshape" or node.inputs[1] not in known:
                continue
            data, output = dims(node.inputs[0]), node.outputs[0]
            if data is None:
                continue
            allowzero = node.attributes.get_int("allowzero", 0) == 1
            out = reshaped(data, known[node.inputs[1]].items, allowzero)
            if out is not None and dims(output) != tuple(out):
                output.shape = settled[output] = _as_shape(out)
                changed = True
        return changed


def _reinfer(model: ir.Model, settled: dict[ir.Value, ir.Shape]) -> None:
    """Shape inference again from the settled Reshape outputs: every other inner value's
    shape is cleared first (inference keeps a shape already written, so a stale ``unk__``
    symbol downstream would stay). A shape inference leaves unknown (it failed, or cannot
    infer that op) is put back as it was."""
    before = {}
    for node in model.graph:
        for value in node.outputs:
            if not value.is_graph_output():
                before[value] = value.shape
                value.shape = settled.get(value)
    common.ShapeInferencePass()(model)
    for value, shape in before.items():
        if value.shape is None:
            value.shape = shape
