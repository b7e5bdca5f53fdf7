"""The Keras layers stage 1 writes itself, one module per layer family, each handler
registered in ``registry`` (which says what a handler is); ``pipeline.export.own_layers``
is the mechanism that calls them while tf2onnx traces.

Importing this package registers every family below. A new family is a new module here and
one line in the import list.
"""

from __future__ import annotations

from pipeline.export.layers import (  # noqa: F401
    activations,
    attention,
    conv_lstm,
    convolution,
    dropout,
    group_norm,
    hub_attention,
    normalization,
    prelu,
    recurrent,
    reshaping,
    resizing,
)
from pipeline.export.layers.registry import classes, handler_for

__all__ = ["classes", "handler_for"]
