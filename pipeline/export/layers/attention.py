"""MultiHeadAttention: one call of its ONNX function (the form: ``pipeline.forms.attention``;
the mechanism: ``pipeline.export.own_layers``), for the configurations
``nn.MultiheadAttention`` computes exactly; the others are refused, naming the layer."""

from __future__ import annotations

import math

import keras
import onnx
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


@register
class MultiHeadAttentionHandler:
    CLASSES = (keras.layers.MultiHeadAttention,)

    @staticmethod
    def trace(layer, query, value, key=None, *args, **kwargs):
        masks = ("query_mask", "value_mask", "key_mask", "attention_mask")
        if args or any(kwargs.get(m) is not None for m in masks):
            raise _refuse(layer, "it is called with a mask (use_causal_mask converts)")
        if kwargs.get("return_attention_scores"):
            raise _refuse(layer, "return_attention_scores=True")
        check_attention(layer)
        key = value if key is None else key
        causal = bool(kwargs.get("use_causal_mask", False))
        return [query, value, key], tuple(query.shape), {"causal": causal}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        op_type = attention_form.OP_TYPES[1 if info["causal"] else 0]
        arrays = {}
        for key, dense in (("q", "_query_dense"), ("k", "_key_dense"), ("v", "_value_dense")):
            part = getattr(layer, dense)
            kernel = part.kernel.numpy()
            arrays[f"W{key}"] = kernel.reshape(kernel.shape[0], -1)
            arrays[f"b{key}"] = part.bias.numpy().reshape(-1)
        out = layer._output_dense
        arrays["Wo"] = out.kernel.numpy().reshape(-1, out.kernel.shape[-1])
        arrays["bo"] = out.bias.numpy()
        names = [
            onnx_edit.initializer(proto.graph, f"{layer.name}.{key}", array)
            for key, array in arrays.items()
        ]
        onnx_edit.become(node, op_type, DOMAIN, [*node.input[:3], *names])
        node.attribute.extend(
            [
                helper.make_attribute("head_shape", [0, 0, layer.num_heads, -1]),
                helper.make_attribute("scale", 1.0 / math.sqrt(float(layer.key_dim))),
            ]
        )
        return attention_form.function(op_type, onnx_edit.opset(proto))
