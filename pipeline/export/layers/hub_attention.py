"""keras-hub's ``CachedMultiHeadAttention`` (GPT-2's and every keras-hub decoder's attention)
and Whisper's subclass of it (no key bias): without a cache they compute Keras'
MultiHeadAttention with a given ``attention_mask``, so they become the same ONNX function as
``attention`` writes. A call with a ``cache`` (generation, one step at a time) is refused.
Registered only once keras-hub is imported (by loading a model that uses it)."""

from __future__ import annotations

import tensorflow as tf

from pipeline.export.layers.attention import MultiHeadAttentionHandler, check_attention
from pipeline.export.layers.attention import _refuse as refuse
from pipeline.export.layers.registry import register_optional

CACHED = "keras_hub.src.layers.modeling.cached_multi_head_attention"
WHISPER = "keras_hub.src.models.whisper.whisper_cached_multi_head_attention"


class CachedAttentionHandler:
    CLASSES = ()

    @staticmethod
    def trace(layer, query, value, key=None, attention_mask=None, cache=None, **kwargs):
        if cache is not None or kwargs.get("cache_update_index") is not None:
            raise refuse(layer, "it is called with a key/value cache (a generation step)")
        if kwargs.get("return_attention_scores"):
            raise refuse(layer, "return_attention_scores=True")
        check_attention(layer)
        key = value if key is None else key
        if attention_mask is None:
            return [query, value, key], tuple(query.shape), {"causal": False}
        allowed = tf.cast(attention_mask, tf.bool)  # [B, Tq, Tv], as Keras' _compute_attention
        zeros = layer._dropout > 0.0
        return [query, value, key, allowed], tuple(query.shape), {"masked": True, "zeros": zeros}

    write = staticmethod(MultiHeadAttentionHandler.write)


register_optional(CACHED, ("CachedMultiHeadAttention",))(CachedAttentionHandler)
register_optional(WHISPER, ("WhisperCachedMultiHeadAttention",))(CachedAttentionHandler)
