"""Our additions to onnx2torch, through its converter registry (never by editing it).

Importing this module registers them. Each returns a native ``torch.nn`` module.

- ``GlobalMaxPool`` (Keras GlobalMaxPooling2D): onnx2torch has no converter; it is
  ``nn.AdaptiveMaxPool{1,2,3}d(1)``.
- stage 1's recurrent and attention functions (``keras2torch`` domain):
  ``pipeline.torch_stage.recurrent`` and ``pipeline.torch_stage.attention``;
- stage 2's channel LayerNorm function: ``pipeline.torch_stage.channel_norm``.
"""

from __future__ import annotations

import onnx
from onnx2torch.node_converters.registry import add_converter, get_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import (
    OperationConverterResult,
    get_shape_from_value_info,
    onnx_mapping_from_node,
)
from torch import nn

from pipeline import metadata
from pipeline.errors import UnsupportedError
from pipeline.torch_stage import (  # noqa: F401  (import registers their converters)
    attention,
    channel_norm,
    recurrent,
)

_ADAPTIVE_MAX = {3: nn.AdaptiveMaxPool1d, 4: nn.AdaptiveMaxPool2d, 5: nn.AdaptiveMaxPool3d}


@add_converter(operation_type="GlobalMaxPool", version=1)
def _global_max_pool(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    rank = len(get_shape_from_value_info(graph.value_info[node.input_values[0]]))
    return OperationConverterResult(
        torch_module=_ADAPTIVE_MAX[rank](1), onnx_mapping=onnx_mapping_from_node(node)
    )


def ensure_convertible(proto: onnx.ModelProto) -> None:
    """Fail naming every node onnx2torch has no converter for (it would raise a bare
    NotImplementedError in the middle of the conversion)."""
    opsets = {o.domain or "": o.version for o in proto.opset_import}
    missing = []
    for node in proto.graph.node:
        try:
            get_converter(
                operation_type=node.op_type,
                version=opsets[node.domain or ""],
                domain=node.domain or "",
            )
        except NotImplementedError:
            missing.append(metadata.describe_node(node.name, node.op_type, node.doc_string))
    if missing:
        raise UnsupportedError(
            "onnx2torch has no converter for: " + "; ".join(missing) + ". Replace the Keras "
            "layer with a supported one (README, 'Supported layers'), or register a converter "
            "in pipeline/torch_stage/converters.py."
        )
