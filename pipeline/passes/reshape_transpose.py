"""reshape_as_transpose: a Reshape that only moves size-1 axes the way a layout Transpose
would is that Transpose.

Pattern: ``Reshape(x, shape)`` with a constant ``shape`` (``-1`` or ``0`` for the batch) and
``x`` of known sizes but for the batch, where ``shape`` is ``x``'s sizes permuted by a layout
change of its rank, channels-last to first ``[0, r-1, 1, ..., r-2]`` or first to last
``[0, 2, ..., r-1, 1]``, and the axes of size > 1 keep their order (so the data is the same
either way). tf2onnx writes that Reshape for a layout Transpose that moves only size-1 axes:
a Conv1D on a single-channel sequence, ``[N, 1, W, 1] -> [N, 1, 1, W]``. Output form:
``Transpose(x, perm)``, channels-first preferred where both fit; the passes that take a layout
Transpose (``conv1d``, ``nchw_input``, ``flatten_dense``, ...) then see the pattern they know.
Left alone: any other Reshape (nothing to record: it is not a layout change).
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import const, replace_nodes, static_dims
from pipeline.passes.layout_math import channels_first, channels_last


def as_transpose(dims: tuple[int | None, ...], target: list[int]) -> tuple[int, ...] | None:
    """The layout perm that moves ``dims`` (None: the batch) to ``target``, moving only axes
    of size 1; None if there is none."""
    rank = len(dims)
    if rank < 3 or len(target) != rank or None in dims[1:]:
        return None
    if target[0] not in (-1, 0) and target[0] != dims[0]:
        return None
    for p in (channels_first(rank), channels_last(rank)):  # channels-first preferred
        moved = [dims[a] for a in p[1:]]
        kept = [a for a in p if a == 0 or dims[a] != 1]
        if moved == list(target[1:]) and kept == sorted(kept):
            return p
    return None


class ReshapeAsTranspose(GraphPass):
    NAME = "reshape_as_transpose"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        graph, modified = model.graph, False
        for node in list(graph):
            if node.op_type != "Reshape" or node.graph is None or len(node.inputs) < 2:
                continue
            dims, target = static_dims(node.inputs[0]), const(node.inputs[1])
            if dims is None or target is None or target.ndim != 1:
                continue
            p = as_transpose(dims, [int(d) for d in target])
            if p is not None and node.attributes.get_int("allowzero", 0) == 0:
                replace_nodes(graph, [node], "Transpose", [node.inputs[0]], {"perm": list(p)})
                modified = True
        return modified
