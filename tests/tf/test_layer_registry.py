"""Stage 1's registry of layers it writes itself: one handler per Keras class."""

from __future__ import annotations

import keras
import pytest
from pipeline.export import layers
from pipeline.export.layers import registry


def test_every_family_is_registered_once():
    classes = [cls for handler in layers.handlers() for cls in handler.CLASSES]
    assert len(classes) == len(set(classes))
    for cls in (keras.layers.LSTM, keras.layers.MultiHeadAttention, keras.layers.PReLU):
        assert cls in classes


def test_a_second_handler_for_a_class_is_refused():
    class Again:
        CLASSES = (keras.layers.PReLU,)

    with pytest.raises(ValueError, match="PReLU has two stage-1 handlers"):
        registry.register(Again)
    assert layers.handler_for(keras.layers.PReLU()).__name__ == "PReLUHandler"
