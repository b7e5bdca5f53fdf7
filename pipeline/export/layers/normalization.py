"""Normalizations stage 1 writes as one ONNX op with Keras' weights, where tf2onnx would write
Keras' arithmetic with the weights folded into constants:

- LayerNormalization over any axes but the batch: one ``LayerNormalization``, on the data as it
  is, channels first, or with the axes moved last (see ``LayerNormHandler.form``);
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
    def form(rank: int, axis) -> tuple[str, int]:
        """How stage 1 writes the normalization over Keras' ``axis`` of channels-last data,
        and the ONNX ``axis`` it normalizes over from:

        - ``("last", -1)``: Keras' last axis, on the data as it is;
        - ``("channels_first", 1)``: every axis but the batch, on channels-first data;
        - ``("channels_first", k + 1)``: the spatial axes ``k .. rank - 2`` (a trailing
          block once the channels come first);
        - ``("moved", rank - n)``: any other ``n`` axes, on channels-first data moved last
          (in Keras' order, gamma's) by a Transpose and back (``x.transpose(2, 3)`` around
          ``nn.LayerNorm`` in stage 3)."""
        axes = sorted(a % rank for a in axis)
        if axes == [rank - 1]:
            return "last", -1
        if rank in (3, 4, 5) and axes[0] >= 1:
            if axes == list(range(1, rank)):
                return "channels_first", 1
            if axes == list(range(axes[0], rank - 1)):
                return "channels_first", axes[0] + 1
        return "moved", rank - len(axes)

    @staticmethod
    def check(layer) -> None:
        rank = input_rank(layer)
        if rank is not None and 0 in (a % rank for a in layer.axis):
            raise UnsupportedError(
                f"layer '{layer.name}' (LayerNormalization): over axes {list(layer.axis)} of "
                f"{rank}-D data normalizes across the batch (axis 0), which a PyTorch module "
                "cannot do per sample; normalize over the other axes."
            )

    @staticmethod
    def trace(layer, inputs, *args, **kwargs):
        """Every form above (RMS scaling: tf2onnx converts Keras' arithmetic)."""
        rank = len(inputs.shape)
        if getattr(layer, "rms_scaling", False):
            return None
        axes = sorted(a % rank for a in layer.axis)
        kind, axis = LayerNormHandler.form(rank, axes)
        shape = tuple(int(inputs.shape[a]) for a in axes)
        info = {"kind": kind, "axis": axis, "shape": shape, "axes": axes, "rank": rank}
        return [inputs], tuple(inputs.shape), info

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        """``LayerNormalization(x, gamma, beta, axis)``, a missing gamma/beta 1/0. Over every
        axis but the batch on channels-first data, gamma and beta are permuted (H, W, C) ->
        (C, H, W). Keras broadcasts gamma by a reshape to the sorted axes, as here."""
        shape, axis, rank = info["shape"], info["axis"], info["rank"]
        gamma = layer.gamma.numpy() if layer.scale else np.ones(shape, np.float32)
        beta = layer.beta.numpy() if layer.center else np.zeros(shape, np.float32)
        gamma, beta = (np.reshape(a, shape) for a in (gamma, beta))
        if info["kind"] == "channels_first" and axis == 1:
            first = (len(shape) - 1, *range(len(shape) - 1))
            gamma, beta = (np.transpose(a, first) for a in (gamma, beta))
        params = [
            onnx_edit.initializer(proto.graph, f"{info['weights']}.weight", gamma),
            onnx_edit.initializer(proto.graph, f"{info['weights']}.bias", beta),
        ]
        normalize = {"axis": axis, "epsilon": layer.epsilon}
        steps = [("LayerNormalization", params, normalize)]
        if info["kind"] == "channels_first":
            onnx_edit.channels_first(proto.graph, node, rank, steps)
        elif info["kind"] == "moved":  # on channels-first data, the axes moved last and back
            axes, rank = info["axes"], info["rank"]
            first = [0 if a == 0 else 1 if a == rank - 1 else a + 1 for a in range(rank)]
            moved = [first[a] for a in axes]
            perm = [a for a in range(rank) if a not in moved] + moved
            back = [int(i) for i in np.argsort(perm)]
            steps = [("Transpose", [], {"perm": perm}), *steps, ("Transpose", [], {"perm": back})]
            onnx_edit.channels_first(proto.graph, node, rank, steps)
        else:
            onnx_edit.become(node, "LayerNormalization", "", [node.input[0], *params])
            node.attribute.extend(helper.make_attribute(k, v) for k, v in normalize.items())
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
            onnx_edit.initializer(proto.graph, f"{info['weights']}.{key}", array)
            for key, array in weights.items()
        ]
        if info["rank"] == 2:
            onnx_edit.become(node, "BatchNormalization", "", [node.input[0], *names])
            node.attribute.append(helper.make_attribute("epsilon", layer.epsilon))
            return None
        steps = [("BatchNormalization", names, {"epsilon": layer.epsilon})]
        onnx_edit.channels_first(proto.graph, node, 3, steps)  # a sequence
        return None
