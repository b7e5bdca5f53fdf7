"""Stage 1's ConvLSTM function (``pipeline.forms.conv_lstm``) as ``model.py``'s
``KerasConvLSTM2d``/``KerasConvLSTM1d`` (``pipeline.torch_stage.conv_lstm``), its two
convolutions holding the function's W, B and R as they are (gates in Keras' order)."""

from __future__ import annotations

import torch
from onnx2torch.node_converters.registry import add_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OperationConverterResult

from pipeline.forms import DOMAIN, VERSION
from pipeline.forms import conv_lstm as form
from pipeline.torch_stage.conv_lstm import CLASSES_BY_RANK


def _module(node: OnnxNode, graph: OnnxGraph):
    w, r, b = (graph.initializers[n].to_torch() for n in node.input_values[1:4])
    rank = w.dim() - 2
    pads = list(node.attributes["pads"])
    cls = CLASSES_BY_RANK[rank]
    module = cls(
        w.shape[1],
        r.shape[1],
        tuple(w.shape[2:]),
        stride=tuple(node.attributes["strides"]),
        padding="same" if any(pads) else 0,  # stage 1 writes "same" at stride 1 only
        dilation=tuple(node.attributes["dilations"]),
        return_sequences=node.operation_type == form.SEQUENCES,
    )
    with torch.no_grad():
        module.input_conv.weight.copy_(w)
        module.input_conv.bias.copy_(b)
        module.recurrent_conv.weight.copy_(r)
    return module.eval()


for _op_type in form.OP_TYPES:

    @add_converter(operation_type=_op_type, version=VERSION, domain=DOMAIN)
    def _convert(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
        mapping = OnnxMapping(inputs=(node.input_values[0],), outputs=node.output_values)
        return OperationConverterResult(_module(node, graph), mapping)
