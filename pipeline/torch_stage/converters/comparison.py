"""``GreaterOrEqual``/``LessOrEqual`` at opset 16 (which only added bfloat16 to version 12):
onnx2torch registers version 12 alone, so its own converter is registered for 16 too.
keras-hub's causal mask compares positions so (``i >= j``)."""

from __future__ import annotations

from onnx2torch.node_converters.registry import add_converter, get_converter

for _op in ("GreaterOrEqual", "LessOrEqual"):
    add_converter(operation_type=_op, version=16)(
        get_converter(operation_type=_op, version=12, domain="")
    )
