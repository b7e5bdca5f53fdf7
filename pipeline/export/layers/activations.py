"""Activation layers with a parameter that TensorFlow writes as arithmetic (ELU with an
``alpha``: a Greater/Not/Cast/Where formula around ``Elu``): one ONNX op with the parameter
as its attribute, which stage 3 prints as the torch call (``nn.functional.elu(x, alpha=0.5)``)."""

from __future__ import annotations

import keras
import onnx
from onnx import helper

from pipeline.export.layers import onnx_edit
from pipeline.export.layers.registry import register


@register
class ELUHandler:
    """Keras ``ELU(alpha)`` -> ONNX ``Elu(x, alpha)`` (alpha 1 too: one node either way)."""

    CLASSES = (keras.layers.ELU,)

    @staticmethod
    def trace(layer, inputs, *args, **kwargs):
        return [inputs], tuple(inputs.shape), {}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        onnx_edit.become(node, "Elu", "", [node.input[0]])
        node.attribute.append(helper.make_attribute("alpha", float(layer.alpha)))
        return None
