"""Keras ``Resizing``, bilinear or nearest, cropped or padded to the aspect ratio or not, on
an image of fixed size: stage 1 writes it channels-first between two Transposes stage 2
cancels next to a conv (tf2onnx's own Resize gets sizes that are no integer multiple wrong).

- The crop (``crop_to_aspect_ratio``) is a ``Slice`` and the pad (``pad_to_aspect_ratio``) a
  constant ``Pad`` with ``fill_value``, each with the box Keras computes (in float32, as it
  does).
- Bilinear: ONNX ``Resize`` with each scale the smallest float32 at or above out/in whose
  product with the input size reaches the output size (tf2onnx's float32 scale 5/6 makes
  4 pixels of 5, a graph ONNX's own check rejects); stage 3 writes
  ``nn.Upsample(..., mode="bilinear", recompute_scale_factor=True)``, which maps
  coordinates by the exact size ratio, as TensorFlow does.
- Nearest: ``KerasResizeNearest`` (``pipeline.forms.resize_nearest``) with the rows and
  columns TensorFlow picks; stage 3 writes ``nn.Upsample(size, mode="nearest-exact")``.

Other interpolations and anti-aliased downsampling are refused by name (``check``)."""

from __future__ import annotations

import keras
import numpy as np
import onnx

from pipeline.errors import UnsupportedError
from pipeline.export.layers import onnx_edit
from pipeline.export.layers.registry import input_shape, register
from pipeline.forms import DOMAIN
from pipeline.forms import resize_nearest as nearest_form

INTERPOLATIONS = ("bilinear", "nearest")


def scale(size: int, target: int) -> np.float32:
    """The smallest float32 scale whose product with ``size`` is at least ``target`` both in
    float64 (ONNX's shape inference) and in float32 (onnxruntime)."""
    value = np.float32(target / size)
    while float(value) * size < target or int(np.float32(value * np.float32(size))) < target:
        value = np.nextafter(value, np.float32(np.inf))
    return value


def _f32_ratio(numerator: int, denominator: int) -> int:
    """``int(float32(numerator) / denominator)``, Keras' float32 box arithmetic."""
    return int(np.float32(numerator) / np.float32(denominator))


def box(layer, height: int, width: int) -> dict:
    """What Keras does to an image of ``height`` x ``width`` before resizing it: crop to the
    aspect ratio (``{"crop": (top, rows, left, cols)}``), pad both sides of the height or
    the width (``{"pad": (rows, cols)}``), or neither (``{}``)."""
    target_h, target_w = layer.height, layer.width
    tall = _f32_ratio(width * target_h, target_w)
    wide = _f32_ratio(height * target_w, target_h)
    if layer.crop_to_aspect_ratio:
        rows, cols = max(min(height, tall), 1), max(min(width, wide), 1)
        return {"crop": (_f32_ratio(height - rows, 2), rows, _f32_ratio(width - cols, 2), cols)}
    if layer.pad_to_aspect_ratio:
        rows, cols = max(height, tall) - height, max(width, wide) - width
        return {"pad": (_f32_ratio(rows, 2), _f32_ratio(cols, 2))}
    return {}


@register
class ResizingHandler:
    CLASSES = (keras.layers.Resizing,)

    @staticmethod
    def check(layer) -> None:
        shape = input_shape(layer)
        downsizes = shape is not None and (
            None in shape[1:3] or shape[1] > layer.height or shape[2] > layer.width
        )
        why = None
        if layer.interpolation not in INTERPOLATIONS:
            why = (
                f"interpolation '{layer.interpolation}' has no PyTorch form with TensorFlow's "
                "numbers (torch's bicubic has another kernel; area and the lanczos/gaussian "
                f"kernels none); supported: {', '.join(INTERPOLATIONS)}"
            )
        elif layer.antialias and downsizes:
            why = "antialias=True when downsizing is TensorFlow's own filter; use antialias=False"
        if why:
            raise UnsupportedError(f"layer '{layer.name}' (Resizing): {why}.")

    @staticmethod
    def trace(layer, inputs, *args, **kwargs):
        """The forms above, on an image of fixed size (else tf2onnx)."""
        if layer.interpolation not in INTERPOLATIONS or None in inputs.shape[1:3]:
            return None
        if layer.antialias and (inputs.shape[1] > layer.height or inputs.shape[2] > layer.width):
            return None
        size = tuple(int(d) for d in inputs.shape[1:3])
        output = (inputs.shape[0], layer.height, layer.width, inputs.shape[3])
        return [inputs], output, {"size": size, **box(layer, *size)}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        graph = proto.graph
        steps, (height, width) = _crop_or_pad(graph, node, layer, info)
        if layer.interpolation == "nearest":
            picks = [
                onnx_edit.constant(graph, f"{node.name}_{key}", nearest_form.source_indices(n, t))
                for key, n, t in (("rows", height, layer.height), ("cols", width, layer.width))
            ]
            steps.append((nearest_form.OP_TYPE, picks, {"domain": DOMAIN}))
            onnx_edit.channels_first(graph, node, 4, steps)
            return nearest_form.function(onnx_edit.opset(proto))
        scales = np.array(
            [1, 1, scale(height, layer.height), scale(width, layer.width)], np.float32
        )
        name = onnx_edit.constant(graph, f"{node.name}_scales", scales)
        roi = onnx_edit.constant(graph, f"{node.name}_roi", np.zeros(0, np.float32))
        resize = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
        steps.append(("Resize", [roi, name], resize))
        onnx_edit.channels_first(graph, node, 4, steps)
        return None


def _crop_or_pad(graph: onnx.GraphProto, node: onnx.NodeProto, layer, info: dict):
    """The ``Slice`` or ``Pad`` step of ``box`` on channels-first data (or none), and the
    size of the image the resize then gets."""
    height, width = info["size"]
    if "crop" in info:
        top, height, left, width = info["crop"]
        bounds = {"starts": [top, left], "ends": [top + height, left + width], "axes": [2, 3]}
        names = [
            onnx_edit.constant(graph, f"{node.name}_{key}", np.array(value, np.int64))
            for key, value in bounds.items()
        ]
        return [("Slice", names, {})], (height, width)
    if "pad" in info:
        rows, cols = info["pad"]
        pads = np.array([0, 0, rows, cols, 0, 0, rows, cols], np.int64)
        names = [
            onnx_edit.constant(graph, f"{node.name}_pads", pads),
            onnx_edit.constant(graph, f"{node.name}_fill", np.array(layer.fill_value, np.float32)),
        ]
        return [("Pad", names, {"mode": "constant"})], (height + 2 * rows, width + 2 * cols)
    return [], (height, width)
