"""Convolutions tf2onnx cannot convert: ``Conv2D(groups>1)`` (Keras 3 traces it as a
``StatefulPartitionedCall`` tf2onnx leaves in the graph). Written as ONNX ``Conv`` with
``group``, channels-first between two Transposes (as tf2onnx writes every conv; stage 2
cancels them), so stage 3 gets ``nn.Conv2d(..., groups=g)``."""

from __future__ import annotations

import keras
import numpy as np
import onnx

from pipeline.errors import UnsupportedError
from pipeline.export.layers import onnx_edit
from pipeline.export.layers.registry import register

ACTIVATIONS = {"linear": [], "relu": [("Relu", [], {})]}  # applied after the conv, in ONNX


def _same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's "same": the total padding, the smaller half first."""
    span = (kernel - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def _activation(layer) -> str:
    name = keras.activations.serialize(layer.activation)  # a dict for the user's own
    return name if isinstance(name, str) else repr(name)


@register
class GroupedConv2DHandler:
    CLASSES = (keras.layers.Conv2D,)

    @staticmethod
    def check(layer) -> None:
        if layer.groups == 1:
            return
        activation = _activation(layer)
        if activation not in ACTIVATIONS or layer.data_format != "channels_last":
            raise UnsupportedError(
                f"layer '{layer.name}' (Conv2D): groups={layer.groups} with activation "
                f"{activation!r} or {layer.data_format} is not supported yet; supported: "
                f"channels_last with activation {' or '.join(ACTIVATIONS)} (add the "
                "activation as its own layer)."
            )

    @staticmethod
    def trace(layer, inputs, *args, **kwargs):
        """Grouped convs only (tf2onnx converts the rest); the image size must be fixed."""
        if layer.groups == 1:
            return None
        if None in inputs.shape[1:3]:
            raise UnsupportedError(
                f"layer '{layer.name}' (Conv2D): groups={layer.groups} over an open image "
                "size is not supported yet; give the Input a fixed height and width."
            )
        output = layer.compute_output_shape(tuple(inputs.shape))
        return [inputs], tuple(output), {"size": tuple(inputs.shape[1:3])}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        kernel = np.transpose(layer.kernel.numpy(), (3, 2, 0, 1))  # (out, in/g, kh, kw)
        inputs = [onnx_edit.initializer(proto.graph, f"{info['weights']}.weight", kernel)]
        if layer.use_bias:
            inputs.append(
                onnx_edit.initializer(proto.graph, f"{info['weights']}.bias", layer.bias.numpy())
            )
        dims = (info["size"], layer.kernel_size, layer.strides, layer.dilation_rate)
        sizes = zip(*dims, strict=True)
        pairs = [_same_pads(*dims) if layer.padding == "same" else (0, 0) for dims in sizes]
        conv = {
            "group": layer.groups,
            "kernel_shape": list(layer.kernel_size),
            "strides": list(layer.strides),
            "dilations": list(layer.dilation_rate),
            "pads": [p[0] for p in pairs] + [p[1] for p in pairs],
        }
        activation = _activation(layer)
        steps = [("Conv", inputs, conv), *ACTIVATIONS[activation]]
        onnx_edit.channels_first(proto.graph, node, 4, steps)
        return None
