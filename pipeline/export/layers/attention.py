"""MultiHeadAttention: one call of its ONNX function (the form: ``pipeline.forms.attention``;
the mechanism: ``pipeline.export.own_layers``), for the configurations
``nn.MultiheadAttention`` computes exactly; the others are refused, naming the layer."""

from __future__ import annotations

import math

import keras
import numpy as np
import onnx
import tensorflow as tf
from keras.src import backend
from onnx import helper

from pipeline.errors import UnsupportedError
from pipeline.export.layers import onnx_edit
from pipeline.export.layers.registry import register
from pipeline.forms import DOMAIN
from pipeline.forms import attention as attention_form


def _refuse(layer, why: str) -> UnsupportedError:
    return UnsupportedError(
        f"Keras layer '{layer.name}' ({type(layer).__name__}): {why}; it has no exact "
        "nn.MultiheadAttention equivalent. Change the layer's configuration (README, "
        "'Supported layers') and convert again."
    )


def check_attention(layer) -> None:
    """Refuse, naming the layer, what nn.MultiheadAttention cannot compute exactly."""
    query_dim = layer._query_dense.kernel.shape[0]
    if layer.value_dim != layer.key_dim:
        raise _refuse(layer, f"value_dim {layer.value_dim} != key_dim {layer.key_dim}")
    if layer.num_heads * layer.key_dim != query_dim:
        raise _refuse(
            layer,
            f"num_heads * key_dim = {layer.num_heads * layer.key_dim} != query size {query_dim}",
        )
    if layer._output_dense.kernel.shape[-1] != query_dim:
        raise _refuse(layer, "its output_shape differs from the query size")
    if not layer.use_bias:
        raise _refuse(layer, "use_bias=False (not supported yet)")
    if tuple(layer._attention_axes) != (1,):
        raise _refuse(layer, f"attention_axes={layer._attention_axes} (sequence axis only)")
    if getattr(layer, "_use_gate", False):
        raise _refuse(layer, "use_gate=True (a gated output)")
    if getattr(layer, "_sliding_window", None) is not None:
        raise _refuse(layer, "sliding_window (not supported yet)")


def _attention_mask(layer, query, value, kwargs: dict):
    """Keras' combined attention mask [B, Tq or 1, Tv] (bool), computed by the layer's own
    ``_compute_attention_mask`` from the query's Keras mask, the value and key masks, the
    ``attention_mask`` argument and ``use_causal_mask``; None where there is no mask but
    the causal one (its own form)."""
    query_mask = backend.get_keras_mask(query)  # as Keras' call: the query's own mask ...
    for tensor in (query, value, kwargs.get("key")):
        if tensor is not None:  # ... and, as its call does, no mask left on its inputs (a
            backend.set_keras_mask(tensor, None)  # residual Add after it then has none)
    given = {m: kwargs.get(m) for m in ("value_mask", "key_mask", "attention_mask")}
    if query_mask is None and all(m is None for m in given.values()):
        return None
    allowed = layer._compute_attention_mask(
        query,
        value,
        query_mask=query_mask,
        use_causal_mask=bool(kwargs.get("use_causal_mask", False)),
        **given,
    )
    return tf.cast(allowed, tf.bool)


@register
class MultiHeadAttentionHandler:
    CLASSES = (keras.layers.MultiHeadAttention,)

    @staticmethod
    def trace(layer, query, value, key=None, *args, **kwargs):
        if args:
            raise _refuse(layer, "it is called with masks by position (pass them by name)")
        if kwargs.get("return_attention_scores"):
            raise _refuse(layer, "return_attention_scores=True")
        check_attention(layer)
        allowed = _attention_mask(layer, query, value, {**kwargs, "key": key})
        key = value if key is None else key
        if allowed is not None:  # Keras' masked Softmax with attention dropout, else not
            zeros = layer._dropout > 0.0
            return (
                [query, value, key, allowed],
                tuple(query.shape),
                {"masked": True, "zeros": zeros},
            )
        causal = bool(kwargs.get("use_causal_mask", False))
        return [query, value, key], tuple(query.shape), {"causal": causal}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        if info.get("masked"):
            op_type = attention_form.MASKED[1 if info["zeros"] else 0]
        else:
            op_type = attention_form.OP_TYPES[1 if info["causal"] else 0]
        arrays = {}
        for key, dense in (("q", "_query_dense"), ("k", "_key_dense"), ("v", "_value_dense")):
            part = getattr(layer, dense)
            kernel = part.kernel.numpy()
            arrays[f"W{key}"] = kernel.reshape(kernel.shape[0], -1)
            # a projection without bias (Whisper's key) gets zeros: exact, and a key bias
            # adds one number to every score of a query row, which softmax ignores, so its
            # gradient is 0 and it stays 0 in training, as Keras has none
            bias = part.bias.numpy() if part.bias is not None else np.zeros(kernel.shape[1:])
            arrays[f"b{key}"] = bias.reshape(-1).astype(kernel.dtype)
        out = layer._output_dense
        arrays["Wo"] = out.kernel.numpy().reshape(-1, out.kernel.shape[-1])
        arrays["bo"] = out.bias.numpy()
        names = [
            onnx_edit.initializer(proto.graph, f"{info['weights']}.{key}", array)
            for key, array in arrays.items()
        ]
        onnx_edit.become(node, op_type, DOMAIN, [*node.input[:3], *names, *node.input[3:]])
        node.attribute.extend(
            [
                helper.make_attribute("head_shape", [0, 0, layer.num_heads, -1]),
                helper.make_attribute("scale", 1.0 / math.sqrt(float(layer.key_dim))),
            ]
        )
        return attention_form.function(op_type, onnx_edit.opset(proto))
