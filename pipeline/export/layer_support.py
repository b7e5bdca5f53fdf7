"""Keras layers known not to convert faithfully: refused before tf2onnx runs, by name.

Everything else is converted and then checked numerically; this table is for layers whose
conversion would pass the numbers but not be the model a PyTorch user expects, or would fail
somewhere deep in a later stage with a message that no longer names the layer.
"""

from __future__ import annotations

import keras

from pipeline.errors import UnsupportedError
from pipeline.export import layers

# Keras class name -> why, and what to do
UNSUPPORTED: dict[str, str] = {
    "RNN": "a generic RNN over a custom cell has no nn.LSTM/nn.GRU/nn.RNN equivalent; use "
    "keras.layers.LSTM, GRU or SimpleRNN",
    "ConvLSTM1D": "convolutional recurrent layers are not supported",
    "ConvLSTM2D": "convolutional recurrent layers are not supported",
    "Masking": "masked time steps would change the numbers of every later layer and PyTorch has "
    "no mask to carry them; pad and mask in the data pipeline instead",
    "TFSMLayer": "a wrapped SavedModel has no Keras layers to convert",
}


def check_layers(model: keras.Model, model_layers: list) -> None:
    for layer in model_layers:
        check = getattr(layers.handler_for(layer), "check", None)
        if check is not None:
            check(layer)  # raises, naming the layer, for a form its handler cannot hold
    bad = [
        f"layer '{layer.name}' ({type(layer).__name__}): {UNSUPPORTED[type(layer).__name__]}"
        for layer in model_layers
        if type(layer).__name__ in UNSUPPORTED
    ]
    bad += [
        f"layer '{layer.name}' (Embedding): mask_zero=True masks padded time steps, which "
        "PyTorch has no mask to carry; use mask_zero=False and a padding-free input"
        for layer in model_layers
        if isinstance(layer, keras.layers.Embedding) and layer.mask_zero
    ]
    if bad:
        raise UnsupportedError(
            f"model '{model.name}' has Keras layers this pipeline cannot convert: "
            + "; ".join(bad)
            + "."
        )
