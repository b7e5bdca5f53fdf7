"""Our additions to onnx2torch, through its converter registry (never by editing it), one
module per op family; importing this package registers them all. Each returns a native
``torch.nn`` module, or one called by forward statements (``templates.Statements``).

- ``pooling``: ``GlobalMaxPool`` (onnx2torch has none); ``AveragePool`` with uneven pads
  (onnx2torch refuses them; others still go to its converter);
- ``recurrent``, ``attention``, ``conv_lstm``: stage 1's functions for recurrent layers,
  MultiHeadAttention and ConvLSTM (``pipeline.forms``);
- ``channel_norm``: stage 2's channel LayerNorm function;
- ``group_norm``: stage 1's GroupNormalization function;
- ``resize_nearest``: stage 1's nearest Resizing function;
- ``dropout``: stage 1's SpatialDropout function;
- ``shape_like``: stage 2's broadcast, cut and range to another tensor's size;
- ``comparison``: ``GreaterOrEqual``/``LessOrEqual`` at opset 16 (onnx2torch's own).

onnx2torch's own converters give its wrapper classes for many ops; ``pipeline.torch_stage.
lowering`` turns those into plain torch. A new ONNX op goes here only when onnx2torch has no
converter for it at all, or refuses a form a Keras layer gives it.
"""

from __future__ import annotations

import onnx
from onnx2torch.node_converters.registry import get_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.utils.safe_shape_inference import safe_shape_inference

from pipeline import metadata
from pipeline.errors import UnsupportedError
from pipeline.torch_stage.converters import (  # noqa: F401  (import registers their converters)
    attention,
    channel_norm,
    comparison,
    conv_lstm,
    dropout,
    group_norm,
    pooling,
    recurrent,
    resize_nearest,
    shape_like,
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
            "in pipeline/torch_stage/converters/."
        )


def refused_nodes(proto: onnx.ModelProto) -> list[str]:
    """The nodes whose onnx2torch converter raises NotImplementedError for their form (after
    ``convert`` failed with one), each named with its Keras layer."""
    model = safe_shape_inference(proto)
    opsets = {o.domain or "": o.version for o in model.opset_import}
    graph = OnnxGraph(model.graph)
    by_name = {n.name: n for n in model.graph.node}
    refused = []
    for name, node in graph.nodes.items():
        try:
            get_converter(node.operation_type, opsets[node.domain or ""], node.domain)(node, graph)
        except NotImplementedError:
            proto_node = by_name[name]
            refused.append(metadata.describe_node(name, proto_node.op_type, proto_node.doc_string))
    return refused
