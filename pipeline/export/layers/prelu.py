"""PReLU: one ONNX ``PRelu`` with Keras' alpha as a weight."""

from __future__ import annotations

import keras
import onnx

from pipeline.export.layers import onnx_edit
from pipeline.export.layers.registry import register


@register
class PReLUHandler:
    """Keras PReLU -> ONNX ``PRelu(x, alpha)``, alpha a Keras weight (tf2onnx would write
    Relu/Neg/Mul with alpha folded into a constant: no trainable alpha in PyTorch)."""

    CLASSES = (keras.layers.PReLU,)

    @staticmethod
    def trace(layer, inputs, *args, **kwargs):
        return [inputs], tuple(inputs.shape), {}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        slope = onnx_edit.initializer(proto.graph, f"{info['weights']}.weight", layer.alpha.numpy())
        onnx_edit.become(node, "PRelu", "", [node.input[0], slope])
        return None
