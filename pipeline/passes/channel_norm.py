"""channel_layer_norm: a LayerNormalization over the channels of channels-first data, which
``sink_transposes`` leaves between two layout Transposes, becomes one channels-first call.

Pattern: ``Transpose(p) -> LayerNormalization(axis=-1, constant scale and bias) ->
Transpose(p^-1)`` where ``p`` moves axis 1 last (``[0, 2, 3, 1]`` or ``[0, 2, 1]``):
Keras' LayerNormalization on the channels of an image (ConvNeXt) or a sequence.

Output form: ``keras2torch.KerasChannelLayerNorm(x, scale[1,C,1...], bias[1,C,1...])``
(``pipeline.forms.channel_norm``; ONNX's LayerNormalization over axis 1 would normalize every
axis after it too). Stage 3 writes ``nn.LayerNorm`` over the moved channel axis.

Left alone: any other LayerNormalization (it needs no rewrite: stage 3 writes ``nn.LayerNorm``).
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline.forms import DOMAIN, VERSION
from pipeline.forms import channel_norm as channel_norm_form
from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import add_initializer, const, only_consumer, perm, replace_nodes
from pipeline.passes.layout_math import compose, is_identity


def channel_sandwich(node: ir.Node) -> tuple[ir.Node, ir.Node] | None:
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


class ChannelLayerNorm(GraphPass):
    NAME = "channel_layer_norm"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        modified = False
        for node in list(model.graph):
            if node.op_type != "LayerNormalization" or node.graph is None:
                continue
            found = channel_sandwich(node)
            constants = [const(v) for v in node.inputs[1:]]
            if found is None or len(constants) != 2 or any(c is None for c in constants):
                continue
            if node.attributes.get_int("axis", -1) not in (-1, len(perm(found[0])) - 1):
                continue
            self._to_channel_norm(model, node, found)
            modified = True
        return modified

    @staticmethod
    def _to_channel_norm(model: ir.Model, node: ir.Node, sandwich) -> None:
        graph, (before, after) = model.graph, sandwich
        rank = len(perm(before))
        scale, bias = (channels_first(graph, node.name, v, rank) for v in node.inputs[1:])
        epsilon = node.attributes.get_float("epsilon", 1e-5)
        op_type = channel_norm_form.OP_TYPE
        inputs = [before.inputs[0], scale, bias]
        replace_nodes(graph, [before, node, after], op_type, inputs, {"epsilon": epsilon}, DOMAIN)
        key = (DOMAIN, op_type, "")
        if key not in model.functions:
            proto = channel_norm_form.function(model.opset_imports.get("", 17))
            model.functions[key] = ir.serde.deserialize_function(proto)
        model.opset_imports.setdefault(DOMAIN, VERSION)
