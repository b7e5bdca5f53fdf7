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
"""

from __future__ import annotations

_HANDLERS: dict[type, type] = {}


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
    return _HANDLERS.get(type(layer))


def handlers() -> tuple[type, ...]:
    """Every registered handler, in registration order, once."""
    return tuple(dict.fromkeys(_HANDLERS.values()))
