"""``GlobalMaxPool`` (Keras GlobalMaxPooling2D): onnx2torch has no converter; it is
``nn.AdaptiveMaxPool{1,2,3}d(1)``.

``AveragePool`` with uneven pads (TensorFlow's "same" when the padding is odd: one more at the
end), which onnx2torch refuses: TensorFlow averages over the real pixels only, so the pooled
zero-padded sum is divided by the pooled zero-padded count of ones,
``self.pool(F.pad(x, p)) / self.pool(F.pad(torch.ones_like(x[:1, :1]), p))``, exact at any
size. Everything else stays with onnx2torch's converter."""

from __future__ import annotations

from onnx import defs
from onnx2torch.node_converters import registry
from onnx2torch.node_converters.registry import add_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import (
    OperationConverterResult,
    get_shape_from_value_info,
    onnx_mapping_from_node,
)
from torch import nn

from pipeline.torch_stage.templates import Statements

_ADAPTIVE_MAX = {3: nn.AdaptiveMaxPool1d, 4: nn.AdaptiveMaxPool2d, 5: nn.AdaptiveMaxPool3d}


@add_converter(operation_type="GlobalMaxPool", version=1)
def _global_max_pool(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    rank = len(get_shape_from_value_info(graph.value_info[node.input_values[0]]))
    return OperationConverterResult(
        torch_module=_ADAPTIVE_MAX[rank](1), onnx_mapping=onnx_mapping_from_node(node)
    )


_AVERAGE = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
_UNEVEN_AVERAGE = (
    "{out} = {self}(nn.functional.pad({0}, %s)) "
    "/ {self}(nn.functional.pad(torch.ones_like({0}[:1, :1]), %s))"
)


def _uneven_average_pool(original):
    def convert(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
        attrs = node.attributes
        kernel = list(attrs["kernel_shape"])
        rank = len(kernel)
        pads = list(attrs.get("pads", [0] * 2 * rank))
        plain = attrs.get("count_include_pad", 0) or attrs.get("ceil_mode", 0)
        if pads[:rank] == pads[rank:] or plain or attrs.get("auto_pad", "NOTSET") != "NOTSET":
            return original(node, graph)
        torch_pads = tuple(
            p for axis in reversed(range(rank)) for p in (pads[axis], pads[axis + rank])
        )
        pool = _AVERAGE[rank](kernel, stride=list(attrs.get("strides", [1] * rank)))
        line = _UNEVEN_AVERAGE % (torch_pads, torch_pads)
        return OperationConverterResult(Statements(pool, [line]), onnx_mapping_from_node(node))

    return convert


for _version in (7, 10, 11):
    _key = registry.OperationDescription(
        domain=defs.ONNX_DOMAIN, operation_type="AveragePool", version=_version
    )
    registry._CONVERTER_REGISTRY[_key] = _uneven_average_pool(registry._CONVERTER_REGISTRY[_key])
