"""GroupNormalization -> one call of ``KerasGroupNorm`` (``pipeline.forms.group_norm``) on
channels-first data, between two Transposes that stage 2 cancels next to a conv; stage 3
writes ``nn.GroupNorm(groups, channels, eps)`` with Keras' gamma and beta."""

from __future__ import annotations

import keras
import numpy as np
import onnx

from pipeline.errors import UnsupportedError
from pipeline.export.layers import onnx_edit
from pipeline.export.layers.registry import input_rank, register
from pipeline.forms import DOMAIN
from pipeline.forms import group_norm as group_norm_form

RANKS = (3, 4)  # a sequence [N, T, C] (after a Conv1D) and an image [N, H, W, C]


@register
class GroupNormHandler:
    CLASSES = (keras.layers.GroupNormalization,)

    @staticmethod
    def check(layer) -> None:
        rank = input_rank(layer)
        if rank is None:
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
        scale = onnx_edit.initializer(
            proto.graph, f"{info['weights']}.weight", gamma.reshape(broadcast)
        )
        bias = onnx_edit.initializer(
            proto.graph, f"{info['weights']}.bias", beta.reshape(broadcast)
        )
        call = {"domain": DOMAIN, "epsilon": float(layer.epsilon), "groups": [layer.groups]}
        steps = [(group_norm_form.OP_TYPE, [scale, bias], call)]
        onnx_edit.channels_first(proto.graph, node, rank, steps)
        return group_norm_form.function(onnx_edit.opset(proto))
