"""conv_bias: a per-channel constant added right after a convolution is its bias.

Pattern: ``Conv``/``ConvTranspose`` (channels first) whose only consumer is ``Add`` of a
constant with one value per output channel (shape ``[C]`` broadcast as ``[C, 1, ...]`` or
``[1, C, 1, ...]``), the conv without a bias or with an all-zero one. tf2onnx folds a bias
into its conv itself, but not across the Transpose it leaves between them; once
``sink_transposes`` has moved that Transpose away (a DepthwiseConv2D with a 1x1 kernel
before an ``exponential`` activation), the bias stayed an ``Add`` of a constant, which stage
3 writes as ``x + self.<name>_add_const``: a buffer that never trains, next to a zero bias
parameter. Output form: the conv with that bias, the Add gone (same numbers). Left alone
(nothing to record): any other Add, or a conv with a bias of its own (two Keras weights are
not merged into one parameter).
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import add_initializer, bias_add, const, take_over

# op -> the weight axis that counts the output channels (ConvTranspose: times the groups)
_OUT_AXIS = {"Conv": 0, "ConvTranspose": 1}


def fold_bias_add(graph: ir.Graph, conv: ir.Node) -> bool:
    """Fold the per-channel Add after ``conv`` into its bias; whether it did."""
    weight = const(conv.inputs[1]) if len(conv.inputs) > 1 else None
    if weight is None or conv.op_type not in _OUT_AXIS:
        return False
    channels = weight.shape[_OUT_AXIS[conv.op_type]]
    if conv.op_type == "ConvTranspose":
        channels *= conv.attributes.get_int("group", 1)
    found = bias_add(conv.outputs[0], channels, spatial=weight.ndim - 2)
    has_bias = len(conv.inputs) > 2 and conv.inputs[2] is not None
    own = const(conv.inputs[2]) if has_bias else None
    if found is None or (has_bias and (own is None or np.any(own))):
        return False
    add, bias = found
    like = add.inputs[1] if add.inputs[0] is conv.outputs[0] else add.inputs[0]
    value = add_initializer(graph, f"{conv.name}_bias", bias.astype(np.float32), like=like)
    if len(conv.inputs) < 3:
        conv.resize_inputs(3)
    conv.replace_input_with(2, value)
    take_over(add.outputs[0], conv.outputs[0])
    graph.remove(add, safe=True)
    return True


class ConvBias(GraphPass):
    NAME = "conv_bias"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        modified = False
        for node in list(model.graph):
            if node.op_type in _OUT_AXIS and node.graph is not None:
                modified |= fold_bias_add(model.graph, node)
        return modified
