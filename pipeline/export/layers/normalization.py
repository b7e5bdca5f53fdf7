"""LayerNormalization over the last axis: one ONNX ``LayerNormalization`` with Keras' gamma and
beta as weights (tf2onnx would write Keras' moments arithmetic); other axes are left to
tf2onnx."""

from __future__ import annotations

import keras
import numpy as np
import onnx
from onnx import helper

from pipeline.export.layers import onnx_edit
from pipeline.export.layers.registry import register


@register
class LayerNormHandler:
    CLASSES = (keras.layers.LayerNormalization,)

    @staticmethod
    def trace(layer, inputs, *args, **kwargs):
        """Over the last axis only (else tf2onnx converts Keras' arithmetic)."""
        rank = len(inputs.shape)
        axes = [a % rank for a in layer.axis]
        if axes != [rank - 1] or getattr(layer, "rms_scaling", False):
            return None
        return [inputs], tuple(inputs.shape), {}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        """``LayerNormalization(x, gamma, beta, axis=-1)``; a missing gamma/beta is 1/0."""
        size = int(layer.gamma.shape[0] if layer.scale else layer.beta.shape[0])
        gamma = layer.gamma.numpy() if layer.scale else np.ones(size, np.float32)
        beta = layer.beta.numpy() if layer.center else np.zeros(size, np.float32)
        inputs = [
            node.input[0],
            onnx_edit.initializer(proto.graph, f"{layer.name}.weight", gamma),
            onnx_edit.initializer(proto.graph, f"{layer.name}.bias", beta),
        ]
        onnx_edit.become(node, "LayerNormalization", "", inputs)
        node.attribute.extend(
            [helper.make_attribute("axis", -1), helper.make_attribute("epsilon", layer.epsilon)]
        )
        return None
