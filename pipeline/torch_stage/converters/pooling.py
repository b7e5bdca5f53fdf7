"""``GlobalMaxPool`` (Keras GlobalMaxPooling2D): onnx2torch has no converter; it is
``nn.AdaptiveMaxPool{1,2,3}d(1)``."""

from __future__ import annotations

from onnx2torch.node_converters.registry import add_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import (
    OperationConverterResult,
    get_shape_from_value_info,
    onnx_mapping_from_node,
)
from torch import nn

_ADAPTIVE_MAX = {3: nn.AdaptiveMaxPool1d, 4: nn.AdaptiveMaxPool2d, 5: nn.AdaptiveMaxPool3d}


@add_converter(operation_type="GlobalMaxPool", version=1)
def _global_max_pool(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    rank = len(get_shape_from_value_info(graph.value_info[node.input_values[0]]))
    return OperationConverterResult(
        torch_module=_ADAPTIVE_MAX[rank](1), onnx_mapping=onnx_mapping_from_node(node)
    )
