"""Normalizations stage 1 writes as one ONNX op with Keras' weights, where tf2onnx would write
Keras' arithmetic with the weights folded into constants:

- LayerNormalization over the last axis: one ``LayerNormalization`` (other axes are left to
  tf2onnx);
- BatchNormalization of vectors (after a Dense): one ``BatchNormalization`` with gamma, beta
  and the moving statistics (``nn.BatchNorm1d`` in stage 3). Feature maps are traced as
  TensorFlow's fused op instead (``keras_forms``), which tf2onnx converts to the same op."""

from __future__ import annotations

import keras
import numpy as np
import onnx
from onnx import helper

from pipeline.errors import UnsupportedError
from pipeline.export.layers import onnx_edit
from pipeline.export.layers.registry import input_rank, register


@register
class LayerNormHandler:
    CLASSES = (keras.layers.LayerNormalization,)

    @staticmethod
    def form(rank: int, axis) -> int | None:
        """The ONNX ``axis`` stage 1 normalizes channels-last data over: -1 for Keras' last
        axis (the data as it is); on channels-first data, 1 for every axis but the batch,
        ``k + 1`` for the spatial axes ``k .. rank - 2`` (a trailing block once the
        channels come first). None: no such form (the spatial axes but not the last ones)."""
        axes = sorted(a % rank for a in axis)
        if axes == [rank - 1]:
            return -1
        if rank not in (3, 4, 5) or axes[0] < 1:
            return None
        if axes == list(range(1, rank)):
            return 1
        return axes[0] + 1 if axes == list(range(axes[0], rank - 1)) else None

    @staticmethod
    def check(layer) -> None:
        rank = input_rank(layer)
        if rank is not None and LayerNormHandler.form(rank, layer.axis) is None:
            raise UnsupportedError(
                f"layer '{layer.name}' (LayerNormalization): over axes {list(layer.axis)} of "
                f"{rank}-D data is not supported yet (no trailing block of axes in either "
                "layout for nn.LayerNorm); supported: the last axis, every axis but the "
                "batch, or the last spatial axes (an image's H and W, or its W)."
            )

    @staticmethod
    def trace(layer, inputs, *args, **kwargs):
        """The forms above (else tf2onnx converts Keras' arithmetic)."""
        rank = len(inputs.shape)
        axis = LayerNormHandler.form(rank, layer.axis)
        if axis is None or getattr(layer, "rms_scaling", False):
            return None
        shape = tuple(int(inputs.shape[a % rank]) for a in sorted(a % rank for a in layer.axis))
        return [inputs], tuple(inputs.shape), {"axis": axis, "shape": shape, "rank": rank}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        """``LayerNormalization(x, gamma, beta, axis)``, a missing gamma/beta 1/0. Off the
        last axis: on channels-first data (Transposes stage 2 cancels next to a conv), over
        every axis but the batch with gamma and beta permuted (H, W, C) -> (C, H, W)."""
        shape, axis, rank = info["shape"], info["axis"], info["rank"]
        gamma = layer.gamma.numpy() if layer.scale else np.ones(shape, np.float32)
        beta = layer.beta.numpy() if layer.center else np.zeros(shape, np.float32)
        if axis == 1:
            first = (len(shape) - 1, *range(len(shape) - 1))
            gamma, beta = (np.transpose(a, first) for a in (gamma, beta))
        params = [
            onnx_edit.initializer(proto.graph, f"{layer.name}.weight", gamma),
            onnx_edit.initializer(proto.graph, f"{layer.name}.bias", beta),
        ]
        normalize = {"axis": axis, "epsilon": layer.epsilon}
        if axis == -1:
            onnx_edit.become(node, "LayerNormalization", "", [node.input[0], *params])
            node.attribute.extend(helper.make_attribute(k, v) for k, v in normalize.items())
            return None
        steps = [("LayerNormalization", params, normalize)]
        onnx_edit.channels_first(proto.graph, node, rank, steps)
        return None


@register
class BatchNormHandler:
    CLASSES = (keras.layers.BatchNormalization,)
    # vectors and sequences (here; a sequence channels-first between two Transposes, which
    # stage 2 cancels next to a Conv1D) and images (tf2onnx's BatchNormalization, NHWC)
    RANKS = (2, 3, 4)

    @staticmethod
    def check(layer) -> None:
        rank = input_rank(layer)
        if rank is None:
            return
        if rank not in BatchNormHandler.RANKS or layer.axis % rank != rank - 1:
            raise UnsupportedError(
                f"layer '{layer.name}' (BatchNormalization): over axis {layer.axis} of {rank}-D "
                "data is not supported yet (tf2onnx folds it into arithmetic, so it would lose "
                "its nn.BatchNorm1d/3d form and parameters); supported: the last axis of "
                "[batch, features], [batch, steps, channels] or [batch, height, width, "
                "channels] data."
            )

    @staticmethod
    def trace(layer, inputs, training=None, mask=None, **kwargs):
        """Vectors [N, C] and sequences [N, T, C] normalized over C, at inference only (else
        Keras computes it)."""
        rank = len(inputs.shape)
        if rank not in (2, 3) or training or layer.axis % rank != rank - 1:
            return None
        return [inputs], tuple(inputs.shape), {"rank": rank}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        """``BatchNormalization(x, gamma, beta, mean, variance)``; a missing gamma/beta is 1/0
        (``nn.BatchNorm1d`` always has them)."""
        size = int(layer.moving_mean.shape[0])
        weights = {
            "weight": layer.gamma.numpy() if layer.scale else np.ones(size, np.float32),
            "bias": layer.beta.numpy() if layer.center else np.zeros(size, np.float32),
            "running_mean": layer.moving_mean.numpy(),
            "running_var": layer.moving_variance.numpy(),
        }
        names = [
            onnx_edit.initializer(proto.graph, f"{layer.name}.{key}", array)
            for key, array in weights.items()
        ]
        if info["rank"] == 2:
            onnx_edit.become(node, "BatchNormalization", "", [node.input[0], *names])
            node.attribute.append(helper.make_attribute("epsilon", layer.epsilon))
            return None
        steps = [("BatchNormalization", names, {"epsilon": layer.epsilon})]
        onnx_edit.channels_first(proto.graph, node, 3, steps)  # a sequence
        return None
