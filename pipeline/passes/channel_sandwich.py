"""What ``channel_layer_norm`` and ``pointwise_conv`` share: an op that computes on the
channel axis of channels-first data, left by ``sink_transposes`` between a Transpose that
moves the channels last and its inverse, and the pass shape that rewrites each such op."""

from __future__ import annotations

import onnx_ir as ir

from pipeline.forms import channel_norm as channel_norm_form
from pipeline.passes._base import GraphPass, Skips, nodes_of
from pipeline.passes._ir import add_initializer, const, only_consumer, perm
from pipeline.passes.layout_math import compose, is_identity

Sandwich = tuple[ir.Node, ir.Node]  # (Transpose in, Transpose out)


def channel_sandwich(node: ir.Node) -> Sandwich | None:
    """(Transpose in, Transpose out) when ``node`` computes on the channels moved last
    between a Transpose that moves axis 1 last and its inverse; else None."""
    before, after = node.inputs[0].producer(), only_consumer(node.outputs[0])
    p, back = perm(before), perm(after)
    if p is None or back is None or only_consumer(before.outputs[0]) is not node:
        return None
    if len(p) not in (3, 4) or p[-1] != channel_norm_form.AXIS or not is_identity(compose(p, back)):
        return None
    return before, after


def channels_first(graph: ir.Graph, name: str, value: ir.Value, rank: int) -> ir.Value:
    """A per-channel constant [C] as [1, C, 1, ...] for data of this rank."""
    array = const(value)
    shape = (1, array.size, *(1,) * (rank - 2))
    return add_initializer(graph, f"{name}_nchw", array.reshape(shape), like=value)


class SandwichPass(GraphPass):
    """Rewrites every ``OP_TYPE`` node in a channel sandwich that ``accepts`` it."""

    OP_TYPE = ""

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        modified = False
        for node in nodes_of(model.graph, self.OP_TYPE):
            sandwich = channel_sandwich(node)
            if sandwich is not None and self.accepts(node, sandwich):
                self.replace(model, node, sandwich)
                modified = True
        return modified

    def accepts(self, node: ir.Node, sandwich: Sandwich) -> bool:
        raise NotImplementedError

    def replace(self, model: ir.Model, node: ir.Node, sandwich: Sandwich) -> None:
        raise NotImplementedError
