"""keras-hub's CachedMultiHeadAttention: registered once keras-hub is imported, and refused,
naming the layer, where it is called with a key/value cache (a generation step)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from pipeline.errors import UnsupportedError
from pipeline.export import layers
from pipeline.export.layers.hub_attention import CachedAttentionHandler

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("keras_hub") is None, reason="keras-hub absent"
)


def _layer():
    from keras_hub.layers import CachedMultiHeadAttention

    layer = CachedMultiHeadAttention(num_heads=2, key_dim=4, name="cached")
    layer.build((None, 3, 8), (None, 3, 8))
    return layer


def test_keras_hub_attention_is_stage_1_s_once_keras_hub_is_imported():
    layer = _layer()
    assert layers.handler_for(layer) is CachedAttentionHandler
    from keras_hub.src.models.whisper.whisper_cached_multi_head_attention import (
        WhisperCachedMultiHeadAttention,
    )

    assert layers.classes()[WhisperCachedMultiHeadAttention] is CachedAttentionHandler


def test_a_call_with_a_cache_is_refused_naming_the_layer():
    layer = _layer()
    x = np.zeros((1, 3, 8), np.float32)
    cache = np.zeros((1, 2, 3, 2, 4), np.float32)
    with pytest.raises(UnsupportedError, match=r"'cached' \(CachedMultiHeadAttention\): .*cache"):
        CachedAttentionHandler.trace(layer, x, x, cache=cache, cache_update_index=0)
    with pytest.raises(UnsupportedError, match="return_attention_scores=True"):
        CachedAttentionHandler.trace(layer, x, x, return_attention_scores=True)
