"""Keras ``Resizing`` (bilinear) to a size that is no integer multiple of the input's:
tf2onnx writes ONNX ``Resize`` with scales out/in whose float32 rounding gives one pixel too
few (6 * 0.8333333 = 4.9999999 -> 4), a graph ONNX's own check rejects. Stage 1 writes the
Resize itself, channels-first between two Transposes stage 2 cancels, with each scale the
smallest float32 at or above out/in whose product with the input size reaches the output
size (0.8333334); stage 3 writes ``nn.Upsample(..., mode="bilinear", recompute_scale_factor=True)``,
which maps coordinates by the exact size ratio, as TensorFlow does."""

from __future__ import annotations

import keras
import numpy as np
import onnx

from pipeline.export.layers import onnx_edit
from pipeline.export.layers.registry import register


def scale(size: int, target: int) -> np.float32:
    """The smallest float32 scale whose product with ``size`` is at least ``target`` both in
    float64 (ONNX's shape inference) and in float32 (onnxruntime)."""
    value = np.float32(target / size)
    while float(value) * size < target or int(np.float32(value * np.float32(size))) < target:
        value = np.nextafter(value, np.float32(np.inf))
    return value


@register
class ResizingHandler:
    CLASSES = (keras.layers.Resizing,)

    @staticmethod
    def trace(layer, inputs, *args, **kwargs):
        """Bilinear, no crop or pad to the aspect ratio, fixed input size (else Keras)."""
        plain = not (layer.crop_to_aspect_ratio or layer.pad_to_aspect_ratio)
        if layer.interpolation != "bilinear" or not plain or None in inputs.shape[1:3]:
            return None
        output = (inputs.shape[0], layer.height, layer.width, inputs.shape[3])
        return [inputs], output, {"size": tuple(int(d) for d in inputs.shape[1:3])}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        (height, width) = info["size"]
        scales = np.array(
            [1, 1, scale(height, layer.height), scale(width, layer.width)], np.float32
        )
        name = onnx_edit.constant(proto.graph, f"{node.name}_scales", scales)
        roi = onnx_edit.constant(proto.graph, f"{node.name}_roi", np.zeros(0, np.float32))
        resize = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
        onnx_edit.channels_first(proto.graph, node, 4, [("Resize", [roi, name], resize)])
        return None
