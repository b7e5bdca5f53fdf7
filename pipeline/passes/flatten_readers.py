"""Where the values a Flatten makes are read, for ``flatten_dense``: through Dropouts and ops
that keep each row of flattened features whole as the last axis (a TimeDistributed(Flatten)'s
reshape back to ``[N, T, F]``, an UpSampling1D's Unsqueeze/Tile/Reshape over time), up to the
Dense or the recurrent layer whose weights meet them, and the re-ordering of a recurrent
layer's input weights (its ``W``'s last axis is the features, one column per value)."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from pipeline.forms import DOMAIN
from pipeline.forms import recurrent as recurrent_form
from pipeline.passes._ir import add_initializer, const, static_dims
from pipeline.passes.layout_math import nhwc_rows_to_nchw

_ROW_KEEPING = ("Dropout", "Identity", "Reshape", "Unsqueeze", "Squeeze", "Tile", "Expand")
RECURRENT = frozenset(form.op_type for form in recurrent_form.all_forms())


def readers(value: ir.Value, size: int) -> list[tuple[ir.Node, ir.Value]] | tuple:
    """Each node reading ``value``'s rows of ``size`` features, with the value it reads; or
    (node, why not) when the values are a model output too (re-ordered, they would no longer
    be Keras'). A Dropout is one element at a time; the other ops looked through have rows
    of ``size`` on both sides, so each output row is one input row, whole and in order."""
    if value.is_graph_output():
        return value.producer(), "the flattened values are a model output too"
    found = []
    for user in value.consumers():
        if user.op_type not in _ROW_KEEPING or not _keeps_rows(user, size):
            found.append((user, value))
            continue
        deeper = readers(user.outputs[0], size)
        if isinstance(deeper, tuple):
            return deeper
        found += deeper
    return found


def _keeps_rows(node: ir.Node, size: int) -> bool:
    if node.op_type in ("Dropout", "Identity"):
        return True
    before, after = static_dims(node.inputs[0]), static_dims(node.outputs[0])
    return bool(before) and bool(after) and before[-1] == after[-1] == size


def recurrent_problem(read: ir.Value, node: ir.Node, size: int) -> str | None:
    """Why a recurrent layer's input weights cannot take the re-ordered features; None if
    they can."""
    if node.inputs[0] is not read:
        return "the flattened values are not the recurrent layer's input sequence"
    weights = const(node.inputs[1])
    if weights is None or weights.ndim != 3 or weights.shape[2] != size:
        return f"the recurrent layer's input weights do not have H*W*C = {size} columns"
    if len(node.inputs[1].uses()) > 1:
        return "the recurrent layer's input weights are shared"
    return None


def is_recurrent(node: ir.Node) -> bool:
    return node.domain == DOMAIN and node.op_type in RECURRENT


def fold_recurrent(graph: ir.Graph, node: ir.Node, hwc: tuple[int, ...]) -> None:
    """``W`` [directions, gates * H, H*W*C]: each direction's columns re-ordered from Keras'
    (H, W, C) order to PyTorch's (C, H, W)."""
    weights = const(node.inputs[1])
    folded = np.stack([nhwc_rows_to_nchw(w.T, hwc).T for w in weights])
    node.replace_input_with(1, add_initializer(graph, node.inputs[1].name, folded))
