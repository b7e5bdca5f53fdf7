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
from pipeline.export.layers.registry import register


@register
class LayerNormHandler:
    CLASSES = (keras.layers.LayerNormalization,)

    @staticmethod
    def forms(rank: int, axis) -> str | None:
        """'last': over the last axis; 'all': over every axis but the batch, which is the
        same set of values whatever the layout (an image's C, H, W together); else None."""
        axes = sorted(a % rank for a in axis)
        if axes == [rank - 1]:
            return "last"
        return "all" if axes == list(range(1, rank)) and rank in (3, 4) else None

    @staticmethod
    def check(layer) -> None:
        try:
            rank = len(layer.input.shape)
        except (AttributeError, ValueError):  # a shared layer: one input per call
            return
        form = LayerNormHandler.forms(rank, layer.axis)
        if form is None or (form == "all" and None in layer.input.shape[1:]):
            raise UnsupportedError(
                f"layer '{layer.name}' (LayerNormalization): over axes {list(layer.axis)} of "
                f"{rank}-D data is not supported yet (its gamma and beta would become "
                "constants, not nn.LayerNorm parameters); supported: the last axis, or every "
                "axis but the batch of [batch, steps, channels] or [batch, H, W, C] data of "
                "fixed sizes."
            )

    @staticmethod
    def trace(layer, inputs, *args, **kwargs):
        """Over the last axis, or all but the batch (else tf2onnx converts Keras' arithmetic)."""
        rank = len(inputs.shape)
        form = LayerNormHandler.forms(rank, layer.axis)
        if form is None or getattr(layer, "rms_scaling", False):
            return None
        shape = tuple(int(d) for d in inputs.shape[1:]) if form == "all" else None
        if form == "all" and None in inputs.shape[1:]:
            return None  # open sizes: no fixed gamma shape (check refused other forms)
        return [inputs], tuple(inputs.shape), {"size": int(inputs.shape[-1]), "shape": shape}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        """``LayerNormalization(x, gamma, beta, axis=-1)``; a missing gamma/beta is 1/0. Over
        every axis but the batch: channels first (Transposes stage 2 cancels next to a conv),
        ``axis=1``, gamma and beta permuted to (C, H, W) with it."""
        shape = info["shape"] or (info["size"],)
        gamma = layer.gamma.numpy() if layer.scale else np.ones(shape, np.float32)
        beta = layer.beta.numpy() if layer.center else np.zeros(shape, np.float32)
        first = (len(shape) - 1, *range(len(shape) - 1))  # (H, W, C) -> (C, H, W)
        gamma, beta = (np.transpose(a, first) for a in (gamma, beta))
        params = [
            onnx_edit.initializer(proto.graph, f"{layer.name}.weight", gamma),
            onnx_edit.initializer(proto.graph, f"{layer.name}.bias", beta),
        ]
        if info["shape"] is None:
            onnx_edit.become(node, "LayerNormalization", "", [node.input[0], *params])
            node.attribute.extend(
                [helper.make_attribute("axis", -1), helper.make_attribute("epsilon", layer.epsilon)]
            )
            return None
        rank = len(shape) + 1
        steps = [
            ("Transpose", [], {"perm": [0, rank - 1, *range(1, rank - 1)]}),
            ("LayerNormalization", params, {"axis": 1, "epsilon": layer.epsilon}),
        ]
        onnx_edit.become(node, "Transpose", "", [onnx_edit.precede(proto.graph, node, steps)])
        node.attribute.append(helper.make_attribute("perm", [0, *range(2, rank), 1]))
        return None


@register
class BatchNormHandler:
    CLASSES = (keras.layers.BatchNormalization,)
    # vectors and sequences (here; a sequence channels-first between two Transposes, which
    # stage 2 cancels next to a Conv1D) and images (tf2onnx's BatchNormalization, NHWC)
    RANKS = (2, 3, 4)

    @staticmethod
    def check(layer) -> None:
        try:
            rank = len(layer.input.shape)
        except (AttributeError, ValueError):  # a shared layer: one input per call
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
        # a sequence: channels first for BatchNormalization, then back
        steps = [
            ("Transpose", [], {"perm": [0, 2, 1]}),
            ("BatchNormalization", names, {"epsilon": layer.epsilon}),
        ]
        onnx_edit.become(node, "Transpose", "", [onnx_edit.precede(proto.graph, node, steps)])
        node.attribute.append(helper.make_attribute("perm", [0, 2, 1]))
        return None
