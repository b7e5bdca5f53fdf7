"""Stage 1's GroupNormalization function (``pipeline.forms.group_norm``) as ``nn.GroupNorm``,
registered in onnx2torch's converter registry."""

from __future__ import annotations

import torch
from onnx2torch.node_converters.registry import add_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OperationConverterResult
from torch import nn

from pipeline.forms import DOMAIN, VERSION
from pipeline.forms import group_norm as group_norm_form


@add_converter(operation_type=group_norm_form.OP_TYPE, version=VERSION, domain=DOMAIN)
def _convert(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    scale, bias = (
        graph.initializers[name].to_torch().reshape(-1) for name in node.input_values[1:]
    )
    (groups,) = node.attributes["groups"]
    module = nn.GroupNorm(int(groups), scale.numel(), eps=node.attributes.get("epsilon", 1e-5))
    with torch.no_grad():
        module.weight.copy_(scale)
        module.bias.copy_(bias)
    mapping = OnnxMapping(inputs=(node.input_values[0],), outputs=node.output_values)
    return OperationConverterResult(module.eval(), mapping)
