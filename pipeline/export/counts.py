"""The weight counts the PyTorch port must have: all of them, and the frozen ones."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import keras

from pipeline import metadata
from pipeline.export.tf2onnx_export import all_layers


def inference_weight_count(model: keras.Model) -> int:
    """The weight count the PyTorch port must have: Keras' trainable + non-trainable
    weights, less Normalization's (its mean and variance are constants, not trainable, in
    PyTorch; its ``count`` is a tally only ``adapt()`` reads), plus the gamma/beta that a
    BatchNormalization or LayerNormalization with ``scale=False``/``center=False`` leaves out
    (``nn.BatchNorm2d``/``nn.LayerNorm`` always have them, at 1 and 0), plus the second bias
    ``nn.LSTM``/``nn.RNN`` have where Keras LSTM/SimpleRNN have one (GRU has both), plus the
    zero bias ``nn.MultiheadAttention`` has for a projection without one (Whisper's key)."""
    count = model.count_params()
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.Normalization):  # mean/variance: torch constants
            count -= sum(int(w.numpy().size) for w in layer.weights)
        norms = (keras.layers.BatchNormalization, keras.layers.LayerNormalization)
        if isinstance(layer, (*norms, keras.layers.GroupNormalization)):
            missing = (not layer.scale) + (not layer.center)
            if missing and isinstance(layer, keras.layers.BatchNormalization):
                count += missing * int(layer.moving_mean.shape[0])
            elif missing:  # stage 1 writes LayerNormalization over the last axis only
                count += missing * int(layer.input.shape[-1])
        count += _missing_attention_biases(layer)
        cells = (
            [layer.forward_layer, layer.backward_layer]
            if hasattr(layer, "forward_layer")
            else [layer]
        )
        for cell in cells:
            if type(cell) in (keras.layers.LSTM, keras.layers.SimpleRNN) and cell.use_bias:
                count += int(cell.cell.bias.shape[0])  # torch's bias_hh (zero) next to bias_ih
    return count


def _missing_attention_biases(layer) -> int:
    """The MultiHeadAttentions in ``layer`` or inside it (keras-hub's encoder blocks hold
    theirs): the size of each projection bias they lack though ``use_bias``."""
    if hasattr(layer, "layers"):
        return 0  # a nested model: its layers are counted one by one
    count = 0
    for attention in layer._flatten_layers(include_self=True, recursive=True):
        if isinstance(attention, keras.layers.MultiHeadAttention) and attention.use_bias:
            parts = (attention._query_dense, attention._key_dense, attention._value_dense)
            count += sum(math.prod(p.kernel.shape[1:]) for p in parts if p.bias is None)
    return count


def frozen(qualified: Mapping[str, object]) -> dict[str, str]:
    """The layers with weights Keras freezes (``trainable=False``, or inside a frozen nested
    model), and the parameters they hold when trainable (BatchNorm's moving statistics are
    never parameters)."""
    frozen = {
        name: layer
        for name, layer in qualified.items()
        if not hasattr(layer, "layers") and getattr(layer, "weights", None) and not layer.trainable
    }
    count = 0
    for layer in frozen.values():
        layer.trainable = True  # what the layer trains when unfrozen; then frozen again
        count += sum(int(w.numpy().size) for w in layer.trainable_weights)
        layer.trainable = False
    return {
        metadata.FROZEN_LAYERS: json.dumps(list(frozen)),
        metadata.FROZEN_PARAM_COUNT: str(count),
    }
