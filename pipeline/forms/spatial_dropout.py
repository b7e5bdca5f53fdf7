"""The ONNX form of Keras ``SpatialDropout1D/2D/3D`` on channels-first data, shared by stage 1
(writes it) and stage 3 (reads it as ``nn.Dropout1d/2d/3d(p)``).

Spatial dropout zeroes whole channels in training, which standard ONNX ``Dropout`` (one
element at a time) cannot say. At inference it is the identity, as the body says::

    KerasSpatialDropout(X[N,C,...]) -> Y
        attributes: ratio (float, Keras' rate)
    Body: Y = Identity(X)
"""

from __future__ import annotations

import onnx
from onnx import helper

from pipeline.forms.function import make

OP_TYPE = "KerasSpatialDropout"
PARAM_ROLES = {OP_TYPE: (None,)}


def function(opset: int) -> onnx.FunctionProto:
    nodes = [helper.make_node("Identity", ["X"], ["Y"])]
    return make(OP_TYPE, ["X"], nodes, opset, ["ratio"])
