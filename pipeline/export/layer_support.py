"""Keras layers known not to convert faithfully: refused before tf2onnx runs, by name.

Everything else is converted and then checked numerically; this table is for layers whose
conversion would pass the numbers but not be the model a PyTorch user expects, or would fail
somewhere deep in a later stage with a message that no longer names the layer.
"""

from __future__ import annotations

import keras

from pipeline.errors import UnsupportedError

# Keras class name -> why, and what to do
UNSUPPORTED: dict[str, str] = {
    "PReLU": "tf2onnx writes it as Relu/Neg/Mul with alpha folded into a constant, so PyTorch "
    "would get no trainable alpha; use LeakyReLU (a fixed slope) or ReLU",
    "LSTM": "recurrent layers are not supported yet",
    "GRU": "recurrent layers are not supported yet",
    "SimpleRNN": "recurrent layers are not supported yet",
    "Bidirectional": "recurrent layers are not supported yet",
    "ConvLSTM2D": "recurrent layers are not supported yet",
    "MultiHeadAttention": "attention layers are not supported yet",
    "TFSMLayer": "a wrapped SavedModel has no Keras layers to convert",
}


def check_layers(model: keras.Model, layers: list) -> None:
    bad = [
        f"layer '{layer.name}' ({type(layer).__name__}): {UNSUPPORTED[type(layer).__name__]}"
        for layer in layers
        if type(layer).__name__ in UNSUPPORTED
    ]
    if bad:
        raise UnsupportedError(
            f"model '{model.name}' has Keras layers this pipeline cannot convert: "
            + "; ".join(bad)
            + "."
        )
