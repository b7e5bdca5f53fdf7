"""Keras layers known not to convert faithfully: refused before tf2onnx runs, by name.

Everything else is converted and then checked numerically; this table is for layers whose
conversion would pass the numbers but not be the model a PyTorch user expects, or would fail
somewhere deep in a later stage with a message that no longer names the layer.
"""

from __future__ import annotations

import keras
import numpy as np

from pipeline.errors import UnsupportedError
from pipeline.export import layers

# Keras class name -> why, and what to do
UNSUPPORTED: dict[str, str] = {
    "RNN": "a generic RNN over a custom cell has no nn.LSTM/nn.GRU/nn.RNN equivalent; use "
    "keras.layers.LSTM, GRU or SimpleRNN",
    "ConvLSTM3D": "a 3-D convolutional LSTM is not supported (ConvLSTM1D and ConvLSTM2D are)",
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
    bad += _precision(model_layers)
    if bad:
        raise UnsupportedError(
            f"model '{model.name}' has Keras layers this pipeline cannot convert: "
            + "; ".join(bad)
            + "."
        )


def _floats(values) -> np.ndarray:
    """A weight's values as numpy can test them: float32 and float64 as they are (a copy of
    VGG16's 220 MB in float64 took 0.4 s), anything else (bfloat16, ints) in float64."""
    values = np.asarray(values)
    return values if values.dtype in (np.float32, np.float64) else values.astype(np.float64)


def _precision(model_layers: list) -> list[str]:
    """Layers that compute in float16/bfloat16 (a mixed-precision policy: the converted model
    computes in float32, so it would differ from Keras by their rounding), and weights that
    are NaN or infinite (Keras' own outputs are then no reference)."""
    bad = []
    for layer in model_layers:
        compute = getattr(getattr(layer, "dtype_policy", None), "compute_dtype", "float32")
        if compute in ("float16", "bfloat16"):
            bad.append(
                f"layer '{layer.name}' ({type(layer).__name__}) computes in {compute} (a "
                "mixed-precision policy); the converted model computes in float32. Rebuild the "
                "model under keras.mixed_precision.set_global_policy('float32'), load its "
                "weights and save it again"
            )
        for weight in layer.weights:
            if not np.isfinite(_floats(weight.numpy())).all():
                bad.append(
                    f"layer '{layer.name}' ({type(layer).__name__}): weight '{weight.path}' holds "
                    "NaN or infinite values, so Keras' outputs are no reference to convert to"
                )
                break
    return bad
