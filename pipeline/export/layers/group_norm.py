"""GroupNormalization -> one call of ``KerasGroupNorm`` (``pipeline.forms.group_norm``) on
channels-first data, between two Transposes that stage 2 cancels next to a conv; stage 3
writes ``nn.GroupNorm(groups, channels, eps)`` with Keras' gamma and beta."""

from __future__ import annotations

import keras
import numpy as np
import onnx
from onnx import helper

from pipeline.errors import UnsupportedError
from pipeline.export.layers import onnx_edit
from pipeline.export.layers.registry import register
from pipeline.forms import DOMAIN
from pipeline.forms import group_norm as group_norm_form

RANKS = (3, 4)  # a sequence [N, T, C] (after a Conv1D) and an image [N, H, W, C]


def _channels_first(rank: int) -> list[int]:
    return [0, rank - 1, *range(1, rank - 1)]


@register
class GroupNormHandler:
    CLASSES = (keras.layers.GroupNormalization,)

    @staticmethod
    def check(layer) -> None:
        try:
            rank = len(layer.input.shape)
        except (AttributeError, ValueError):  # a shared layer: one input per call
            return
        if rank not in RANKS or layer.axis % rank != rank - 1:
            raise UnsupportedError(
                f"layer '{layer.name}' (GroupNormalization): over axis {layer.axis} of "
                f"{rank}-D data is not supported yet; supported: the channels (last axis) of "
                "[batch, steps, channels] or [batch, height, width, channels] data."
            )

    @staticmethod
    def trace(layer, inputs, *args, **kwargs):
        return [inputs], tuple(inputs.shape), {"rank": len(inputs.shape)}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        rank = info["rank"]
        channels = int(layer.gamma.shape[0]) if layer.scale else int(layer.beta.shape[0])
        broadcast = (channels, *[1] * (rank - 2))  # [C, 1, 1]: per channel on NCHW data
        gamma = layer.gamma.numpy() if layer.scale else np.ones(channels, np.float32)
        beta = layer.beta.numpy() if layer.center else np.zeros(channels, np.float32)
        scale = onnx_edit.initializer(proto.graph, f"{layer.name}.weight", gamma.reshape(broadcast))
        bias = onnx_edit.initializer(proto.graph, f"{layer.name}.bias", beta.reshape(broadcast))
        call = {"domain": DOMAIN, "epsilon": float(layer.epsilon), "groups": [layer.groups]}
        steps = [
            ("Transpose", [], {"perm": _channels_first(rank)}),
            (group_norm_form.OP_TYPE, [scale, bias], call),
        ]
        onnx_edit.become(node, "Transpose", "", [onnx_edit.precede(proto.graph, node, steps)])
        back = [0, *range(2, rank), 1]
        node.attribute.append(helper.make_attribute("perm", back))
        return group_norm_form.function(onnx_edit.opset(proto))
