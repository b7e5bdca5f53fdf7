"""The registry of layers stage 1 writes itself: Keras layer class -> its handler.

A handler is a class with

- ``CLASSES``: the Keras layer classes it writes;
- ``trace(layer, *args, **kwargs) -> (inputs, output shape, info) | None``: called in place
  of the layer's ``call`` while tf2onnx traces; None lets Keras compute the layer (tf2onnx
  converts it), an ``UnsupportedError`` refuses it, naming the layer;
- ``write(proto, node, layer, info) -> FunctionProto | None``: turns the layer's placeholder
  node into its ONNX (in place), returning the function it calls, if any;
- optionally ``check(layer)``: raises ``UnsupportedError`` before tf2onnx runs at all, for a
  configuration no ONNX form of this handler can hold.

``@register`` adds one; a Keras class registered twice is an error, not a silent override.
``@register_optional(module, names)`` adds one for classes of an optional package
(keras-hub): they are looked up only once the model's loading has imported that module, so
stage 1 never imports keras-hub for a model that does not use it.
"""

from __future__ import annotations

import sys

_HANDLERS: dict[type, type] = {}
_OPTIONAL: list[tuple[str, tuple[str, ...], type]] = []  # (module, class names, handler)


def register(handler: type) -> type:
    """Class decorator: ``handler`` writes every class in its ``CLASSES``."""
    for cls in handler.CLASSES:
        if cls in _HANDLERS:
            raise ValueError(
                f"Keras class {cls.__name__} has two stage-1 handlers: "
                f"{_HANDLERS[cls].__qualname__} and {handler.__qualname__}"
            )
    for cls in handler.CLASSES:
        _HANDLERS[cls] = handler
    return handler


def register_optional(module: str, names: tuple[str, ...]):
    """Class decorator: ``handler`` writes the classes ``names`` of ``module`` once that module
    is imported (its own ``CLASSES`` stays empty)."""

    def decorate(handler: type) -> type:
        _OPTIONAL.append((module, names, handler))
        return handler

    return decorate


def _resolve_optional() -> None:
    """Register the optional classes whose module is imported by now, each once."""
    for module_name, names, handler in _OPTIONAL:
        module = sys.modules.get(module_name)
        for cls in (getattr(module, name) for name in names) if module else ():
            if _HANDLERS.get(cls) not in (None, handler):
                raise ValueError(f"Keras class {cls.__name__} has two stage-1 handlers")
            _HANDLERS[cls] = handler


def input_shape(layer) -> tuple | None:
    """The shape of ``layer``'s input, for a handler's ``check``; None for a shared layer
    (one input per call: its ``trace`` sees each)."""
    try:
        return tuple(layer.input.shape)
    except (AttributeError, ValueError):
        return None


def input_rank(layer) -> int | None:
    """The rank of ``layer``'s input (see ``input_shape``)."""
    shape = input_shape(layer)
    return None if shape is None else len(shape)


def handler_for(layer) -> type | None:
    """The handler of this exact Keras class (a subclass may compute something else)."""
    _resolve_optional()
    return _HANDLERS.get(type(layer))


def classes() -> dict[type, type]:
    """Every registered Keras class (optional ones whose module is imported) -> its handler."""
    _resolve_optional()
    return dict(_HANDLERS)
