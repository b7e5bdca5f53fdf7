"""Stage 1's SpatialDropout function (``pipeline.forms.spatial_dropout``) as
``nn.Dropout1d/2d/3d(p)`` by the rank of its channels-first input, registered in onnx2torch's
converter registry; and ``rate``, the Keras rate a float32 ONNX ratio was written from (the
plain ``Dropout``'s ``nn.Dropout(p)`` is lowered from onnx2torch's wrapper with it)."""

from __future__ import annotations

import numpy as np
from onnx2torch.node_converters.registry import add_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import (
    OperationConverterResult,
    get_shape_from_value_info,
    onnx_mapping_from_node,
)
from torch import nn

from pipeline.forms import DOMAIN, VERSION
from pipeline.forms import spatial_dropout as spatial_form

_SPATIAL = {3: nn.Dropout1d, 4: nn.Dropout2d, 5: nn.Dropout3d}


def rate(ratio) -> float:
    """The shortest decimal that is ``ratio`` in float32: Keras' 0.3, not 0.30000001192."""
    return float(str(np.float32(ratio)))


@add_converter(operation_type=spatial_form.OP_TYPE, version=VERSION, domain=DOMAIN)
def _convert(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    rank = len(get_shape_from_value_info(graph.value_info[node.input_values[0]]))
    module = _SPATIAL[rank](p=rate(node.attributes["ratio"]))
    return OperationConverterResult(module, onnx_mapping_from_node(node))
