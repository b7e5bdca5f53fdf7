"""``RepeatVector``: tf2onnx writes it over the computed batch size (Shape, Concat, Reshape),
which no pass folds with an open batch. Written as ``Tile(Unsqueeze(x, 1), [1, n, 1])``:
torch ``x.unsqueeze(1).repeat(1, n, 1)``."""

from __future__ import annotations

import keras
import numpy as np
import onnx

from pipeline.export.layers import onnx_edit
from pipeline.export.layers.registry import register


@register
class RepeatVectorHandler:
    CLASSES = (keras.layers.RepeatVector,)

    @staticmethod
    def trace(layer, inputs, *args, **kwargs):
        return [inputs], (inputs.shape[0], layer.n, inputs.shape[1]), {}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        axes = onnx_edit.constant(proto.graph, f"{node.name}_axes", np.array([1], np.int64))
        repeats = np.array([1, layer.n, 1], np.int64)
        times = onnx_edit.constant(proto.graph, f"{node.name}_repeats", repeats)
        unsqueezed = onnx_edit.precede(proto.graph, node, [("Unsqueeze", [axes], {})])
        onnx_edit.become(node, "Tile", "", [unsqueezed, times])
        return None
