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

from pipeline.forms import DOMAIN
from pipeline.forms import channel_norm as channel_norm_form
from pipeline.passes._ir import const, perm, replace_nodes, use_function
from pipeline.passes.channel_sandwich import Sandwich, SandwichPass, channels_first


class ChannelLayerNorm(SandwichPass):
    NAME = "channel_layer_norm"
    OP_TYPE = "LayerNormalization"

    def accepts(self, node: ir.Node, sandwich: Sandwich) -> bool:
        constants = [const(v) for v in node.inputs[1:]]
        last = len(perm(sandwich[0])) - 1
        axis = node.attributes.get_int("axis", -1)
        known = len(constants) == 2 and all(c is not None for c in constants)
        return known and axis in (-1, last)

    def replace(self, model: ir.Model, node: ir.Node, sandwich: Sandwich) -> None:
        graph, (before, after) = model.graph, sandwich
        rank = len(perm(before))
        scale, bias = (channels_first(graph, node.name, v, rank) for v in node.inputs[1:])
        epsilon = node.attributes.get_float("epsilon", 1e-5)
        op_type = channel_norm_form.OP_TYPE
        inputs = [before.inputs[0], scale, bias]
        replace_nodes(graph, [before, node, after], op_type, inputs, {"epsilon": epsilon}, DOMAIN)
        use_function(model, op_type, channel_norm_form.function)
