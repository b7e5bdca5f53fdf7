"""The regions ``sink_transposes`` rewrites: the values in a layout ``p`` (each
``transpose(base, p)`` of a base value) reachable from one entry ``Transpose(p)``, grown
through the ops that have a channels-first form, and the nodes that enter and leave them.
Growth raises ``Abort`` at anything else; the pass then leaves the region as it is.
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline.forms import channel_norm as channel_norm_form
from pipeline.passes._ir import const, perm
from pipeline.passes.layout_math import compose, is_identity

# one element at a time (Dropout too: its mask at training is one draw per element)
UNARY = (
    "Relu",
    "Sigmoid",
    "Tanh",
    "Neg",
    "Abs",
    "Exp",
    "Elu",
    "Selu",
    "LeakyRelu",
    "Erf",
    "Dropout",
)
BINARY = ("Mul", "Add", "Sub", "Div", "PRelu")
REDUCE = ("ReduceMean", "ReduceMax")
ON_CHANNELS = ("LayerNormalization", "MatMul")  # compute on the channel axis itself
AXIS_OPS = ("Split", "Concat")  # along one axis: the base's axis p[axis] once channels-first


class Abort(Exception):
    """The region reaches something it cannot be rewritten with."""


def reduce_axes(node: ir.Node) -> list[int] | None:
    if len(node.inputs) > 1 and node.inputs[1] is not None:
        array = const(node.inputs[1])
        return None if array is None else [int(a) for a in array.reshape(-1)]
    return list(node.attributes.get_ints("axes", ())) or None


class Region:
    """The values in layout ``p`` reachable from one entry Transpose, and their nodes."""

    def __init__(self, p: tuple[int, ...]) -> None:
        self.p = p
        self.values: set[ir.Value] = set()
        self.entries: list[ir.Node] = []
        self.exits: list[ir.Node] = []
        self.ends: list[ir.Node] = []  # Reduce(keepdims=0) nodes the region leaves through
        self.nodes: list[ir.Node] = []
        self.outputs: list[ir.Value] = []  # graph outputs in the region (channels-last data)
        self._pending: list[ir.Value] = []

    # growth ------------------------------------------------------------------------------
    def grow(self, entry: ir.Node) -> None:
        self._enter(entry)
        while self._pending:
            value = self._pending.pop()
            if value.is_graph_output():
                # the model's output: channels-last again by a Transpose, which nchw_output
                # then turns into a declared channels-first output (only for that layout);
                # an entry's own output is that Transpose already: nothing to sink
                if self.p != (0, *range(2, len(self.p)), 1) or value in self.outputs:
                    raise Abort
                if any(value is entry.outputs[0] for entry in self.entries):
                    raise Abort
                self.outputs.append(value)
            for consumer in value.consumers():
                self._take(consumer)

    def _add_value(self, value: ir.Value) -> None:
        if value.shape is not None and len(value.shape) != len(self.p):
            raise Abort
        if value not in self.values:
            self.values.add(value)
            self._pending.append(value)

    def _enter(self, entry: ir.Node) -> None:
        if entry not in self.entries:
            self.entries.append(entry)
            self._add_value(entry.outputs[0])

    def _pull(self, value: ir.Value) -> None:
        """A non-constant operand of a region op must be a region value: bring it in."""
        if value in self.values:
            return
        producer = value.producer()
        if producer is None:
            raise Abort
        if producer.op_type == "Transpose" and perm(producer) == self.p:
            self._enter(producer)
        else:
            self._take(producer)
        if value not in self.values:  # e.g. a Reduce's keepdims=0 output: not in layout p
            raise Abort

    def _take(self, node: ir.Node) -> None:
        if node in self.nodes or node in self.exits or node in self.ends:
            return
        rank = len(self.p)
        if node.op_type == "Transpose":
            if not is_identity(compose(self.p, perm(node))):
                raise Abort
            self.exits.append(node)
            return
        if node.op_type in REDUCE and node.attributes.get_int("keepdims", 1) == 0:
            axes = reduce_axes(node)
            if axes is None:
                raise Abort
            axes = [a % rank for a in axes]
            kept = [self.p[a] for a in range(rank) if a not in axes]
            if kept != sorted(kept):
                raise Abort
            self.ends.append(node)
            self._pull(node.inputs[0])
            return
        self._check(node)
        self.nodes.append(node)
        for value in node.inputs:
            if value is not None and const(value) is None:
                self._pull(value)
        for value in node.outputs:
            self._add_value(value)

    def _check(self, node: ir.Node) -> None:
        """Raise unless ``node`` has a channels-first form (given its constants)."""
        rank, op = len(self.p), node.op_type
        channels_last = self.p[rank - 1] == channel_norm_form.AXIS
        if all(value is None or const(value) is not None for value in node.inputs):
            raise Abort  # nothing of the region flows in: no base layout to speak of
        if op in UNARY:
            return
        if op in AXIS_OPS and node.inputs[0].shape is not None:  # its rank: p maps its axis
            return
        if op in BINARY and len(node.inputs) == 2:
            if op == "PRelu" and const(node.inputs[0]) is not None:
                raise Abort
            return
        if op in REDUCE and reduce_axes(node) is not None:
            return
        if op == "LayerNormalization" and channels_last and len(node.outputs) == 1:
            axis = node.attributes.get_int("axis", -1) % rank
            constants = [const(v) for v in node.inputs[1:]]
            if axis == rank - 1 and len(constants) == 2 and all(c is not None for c in constants):
                return
        if op == "MatMul" and channels_last and rank in (3, 4):
            kernel = const(node.inputs[1])
            if kernel is not None and kernel.ndim == 2 and const(node.inputs[0]) is None:
                return
        raise Abort
