"""Stage 1's registry of layers it writes itself: one handler per Keras class."""

from __future__ import annotations

import sys
import types

import keras
import pytest
from pipeline.export import layers
from pipeline.export.layers import registry


def test_every_family_is_registered_once():
    classes = layers.classes()
    for cls in (keras.layers.LSTM, keras.layers.MultiHeadAttention, keras.layers.PReLU):
        assert cls in classes
    # each class is its handler's own, or one of an optional package (keras-hub) once imported
    optional = {name for _, names, _ in registry._OPTIONAL for name in names}
    assert all(cls in h.CLASSES or cls.__name__ in optional for cls, h in classes.items())


def test_an_optional_class_is_registered_once_its_module_is_imported(monkeypatch):
    """keras-hub's classes: looked up in sys.modules, never imported by the registry."""

    class Handler:
        CLASSES = ()

    module = types.ModuleType("not_imported_yet")
    module.Cached = type("Cached", (keras.layers.Layer,), {})
    monkeypatch.setattr(registry, "_OPTIONAL", [("not_imported_yet", ("Cached",), Handler)])
    monkeypatch.setattr(registry, "_HANDLERS", dict(registry._HANDLERS))
    assert module.Cached not in layers.classes()
    monkeypatch.setitem(sys.modules, "not_imported_yet", module)
    assert layers.classes()[module.Cached] is Handler
    assert layers.handler_for(module.Cached()) is Handler


def test_a_second_handler_for_a_class_is_refused():
    class Again:
        CLASSES = (keras.layers.PReLU,)

    with pytest.raises(ValueError, match="PReLU has two stage-1 handlers"):
        registry.register(Again)
    assert layers.handler_for(keras.layers.PReLU()).__name__ == "PReLUHandler"
