"""The ONNX form of a LayerNormalization over the channel axis of channels-first data, shared
by stage 2 (writes it) and stage 3 (reads it).

Keras normalizes the last axis of NHWC data (ConvNeXt's LayerNorm after a depthwise conv);
once stage 2 has made the data NCHW, that axis is axis 1, and ONNX's ``LayerNormalization``
normalizes axis 1 *and every axis after it*. So stage 2 writes one call of a model-local
function (domain ``keras2torch``, see ``pipeline.forms``)::

    KerasChannelLayerNorm(X[N,C,...], scale[1,C,1...], bias[1,C,1...]) -> Y[N,C,...]

Body (the two-pass mean/variance Keras computes, in standard ops, no Transpose)::

    d = X - ReduceMean(X, axes=[1])
    Y = d / Sqrt(ReduceMean(d * d, axes=[1]) + epsilon) * scale + bias

Stage 3 writes it as ``nn.LayerNorm(C, eps=epsilon)`` called over the moved channel axis.
"""

from __future__ import annotations

import onnx
from onnx import helper

from pipeline.forms.function import attribute_constant, make

OP_TYPE = "KerasChannelLayerNorm"
AXIS = 1
PARAM_ROLES = {OP_TYPE: (None, "weight", "bias")}


def function(opset: int) -> onnx.FunctionProto:
    nodes = [
        attribute_constant("epsilon_value", "epsilon", onnx.AttributeProto.FLOAT),
        helper.make_node("ReduceMean", ["X"], ["mean"], axes=[AXIS], keepdims=1),
        helper.make_node("Sub", ["X", "mean"], ["centred"]),
        helper.make_node("Mul", ["centred", "centred"], ["squared"]),
        helper.make_node("ReduceMean", ["squared"], ["variance"], axes=[AXIS], keepdims=1),
        helper.make_node("Add", ["variance", "epsilon_value"], ["shifted"]),
        helper.make_node("Sqrt", ["shifted"], ["deviation"]),
        helper.make_node("Div", ["centred", "deviation"], ["normalized"]),
        helper.make_node("Mul", ["normalized", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "bias"], ["Y"]),
    ]
    return make(OP_TYPE, ["X", "scale", "bias"], nodes, opset, ["epsilon"])
