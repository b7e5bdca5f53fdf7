"""The ONNX form of Keras ``GroupNormalization`` on channels-first data, shared by stage 1
(writes it) and stage 3 (reads it as ``nn.GroupNorm``). Opset 17 has no GroupNormalization
op, and tf2onnx's own form reshapes over computed shapes, so stage 1 writes one call of a
model-local function (domain ``keras2torch``, see ``pipeline.forms``)::

    KerasGroupNorm(X[N,C,...], scale[C,1...], bias[C,1...]) -> Y[N,C,...]
        attributes: epsilon (float), groups (ints, one value)

Body (the mean and variance over each group of channels, as Keras computes them)::

    g = Reshape(X, [0, groups, -1])
    d = g - ReduceMean(g, axes=[2])
    n = Reshape(d / Sqrt(ReduceMean(d * d, axes=[2]) + epsilon), Shape(X))
    Y = n * scale + bias
"""

from __future__ import annotations

import onnx
from onnx import helper

from pipeline.forms.function import attribute_constant, int_constant, make

OP_TYPE = "KerasGroupNorm"
PARAM_ROLES = {OP_TYPE: (None, "weight", "bias")}


def function(opset: int) -> onnx.FunctionProto:
    nodes = [
        attribute_constant("epsilon_value", "epsilon", onnx.AttributeProto.FLOAT),
        attribute_constant("groups_value", "groups", onnx.AttributeProto.INTS),
        int_constant("keep", [0]),
        int_constant("rest", [-1]),
        helper.make_node("Concat", ["keep", "groups_value", "rest"], ["grouped_shape"], axis=0),
        helper.make_node("Reshape", ["X", "grouped_shape"], ["grouped"]),
        helper.make_node("ReduceMean", ["grouped"], ["mean"], axes=[2], keepdims=1),
        helper.make_node("Sub", ["grouped", "mean"], ["centred"]),
        helper.make_node("Mul", ["centred", "centred"], ["squared"]),
        helper.make_node("ReduceMean", ["squared"], ["variance"], axes=[2], keepdims=1),
        helper.make_node("Add", ["variance", "epsilon_value"], ["shifted"]),
        helper.make_node("Sqrt", ["shifted"], ["deviation"]),
        helper.make_node("Div", ["centred", "deviation"], ["normalized_groups"]),
        helper.make_node("Shape", ["X"], ["shape"]),
        helper.make_node("Reshape", ["normalized_groups", "shape"], ["normalized"]),
        helper.make_node("Mul", ["normalized", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "bias"], ["Y"]),
    ]
    return make(OP_TYPE, ["X", "scale", "bias"], nodes, opset, ["epsilon", "groups"])
