"""Stage 1's nearest Resizing function (``pipeline.forms.resize_nearest``) as
``nn.Upsample(size=(h, w), mode="nearest-exact")``, registered in onnx2torch's converter
registry. The rows and columns the function gathers are checked to be the ones
``nearest-exact`` picks, so a form it cannot compute is refused, never run."""

from __future__ import annotations

import torch
from onnx2torch.node_converters.registry import add_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OperationConverterResult
from torch import nn

from pipeline import metadata
from pipeline.errors import UnsupportedError
from pipeline.forms import DOMAIN, VERSION
from pipeline.forms import resize_nearest as nearest_form


def _picks(indices: torch.Tensor) -> torch.Tensor:
    """The input rows ``nearest-exact`` reads for ``len(indices)`` output rows of an input
    as tall as TensorFlow's rows say (the largest is within it)."""
    size = int(indices.max()) + 1
    ramp = torch.arange(size, dtype=torch.float32).reshape(1, 1, size)
    return nn.functional.interpolate(ramp, size=len(indices), mode="nearest-exact").reshape(-1)


@add_converter(operation_type=nearest_form.OP_TYPE, version=VERSION, domain=DOMAIN)
def _convert(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    rows, cols = (graph.initializers[name].to_torch() for name in node.input_values[1:])
    for indices in (rows, cols):
        if not torch.equal(_picks(indices).long(), indices.long()):
            raise UnsupportedError(
                f"{metadata.describe_node(node.name, node.op_type, node.proto.doc_string)}: "
                "nn.Upsample(mode='nearest-exact') picks other pixels than TensorFlow here "
                "(an input size stage 1 did not expect); use interpolation='bilinear'."
            )
    module = nn.Upsample(size=(len(rows), len(cols)), mode="nearest-exact")
    mapping = OnnxMapping(inputs=(node.input_values[0],), outputs=node.output_values)
    return OperationConverterResult(module, mapping)
