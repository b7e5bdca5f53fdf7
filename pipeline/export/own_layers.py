"""Layers stage 1 writes itself, where tf2onnx's output is unusable downstream.

tf2onnx turns a Keras 3 GRU into a ``Loop``, MultiHeadAttention into einsum reshapes over
computed shapes, LayerNormalization into moments arithmetic: each correct, none recognisable
as the one PyTorch module a person would write. The exporter knows the Keras layer, its
config and its weights, so for these layers it writes the ONNX itself:

1. while tf2onnx traces, the layer's ``call`` computes a placeholder op (a ``numpy_function``
   named ``k2t_layer_<n>``, never run) of the layer's output shape; tf2onnx leaves it in the
   graph untouched (its "unsupported op" log lines for it are filtered out);
2. ``substitute`` then turns each placeholder node into the layer's ONNX: a standard op
   (``LayerNormalization``) or a call of a model-local ONNX function (domain ``keras2torch``)
   whose body is standard ops; onnxruntime runs either, stage 3 maps each to one module.

The handlers, one module per layer family, are in ``pipeline.export.layers`` (its ``registry``
says what a handler provides). The reference outputs come from unpatched Keras, so the
stage-1 check compares this ONNX with Keras itself.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import onnx
import tensorflow as tf
from onnx import helper

from pipeline.errors import PipelineError
from pipeline.export import layers
from pipeline.forms import DOMAIN, VERSION

PLACEHOLDER = "k2t_layer_"
_PLACEHOLDER = re.compile(rf"{PLACEHOLDER}(\d+)(?:_\d+)?$")


@dataclass
class Traced:
    layer: object
    handler: type  # the handler whose trace made the placeholder writes it
    info: dict = field(default_factory=dict)


class _QuietPlaceholders(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return PLACEHOLDER not in message and "'PyFunc'" not in message


def _placeholder(inputs: list, shape: tuple | list[tuple], index: int):
    """One placeholder op of the output ``shape``, or of each shape of a list (a layer with
    several outputs: an LSTM's ``[output, h, c]``), which it returns as a list."""
    shapes = shape if isinstance(shape, list) else [shape]
    ys = tf.numpy_function(
        lambda *xs: [np.zeros((xs[0].shape[0], *s[1:]), np.float32) for s in shapes],
        inputs,
        [tf.float32] * len(shapes),
        stateful=True,
        name=f"{PLACEHOLDER}{index}",
    )
    ys = [tf.ensure_shape(y, s) for y, s in zip(ys, shapes, strict=True)]
    return ys if isinstance(shape, list) else ys[0]


@contextmanager
def placeholders(traced: list[Traced]) -> Iterator[None]:
    """While tf2onnx traces: handled layers compute placeholders (``traced[n]`` is the call
    behind ``k2t_layer_<n>``)."""
    handled = layers.classes()
    originals = {cls: cls.call for cls in handled}

    refusals: list[PipelineError] = []  # as raised: TensorFlow re-raises them reworded

    def patched(handler, original):
        def call(self, *args, **kwargs):
            try:
                found = handler.trace(self, *args, **kwargs)
            except PipelineError as exc:
                refusals.append(exc)
                raise
            if found is None:
                return original(self, *args, **kwargs)
            inputs, shape, info = found
            traced.append(Traced(self, handler, info))
            return _placeholder(inputs, shape, len(traced) - 1)

        return call

    for cls, handler in handled.items():
        cls.call = patched(handler, originals[cls])
    try:
        yield
    except Exception:
        if refusals:  # the refusal as raised, not TensorFlow's "in user code: File ..." copy
            raise refusals[0] from None
        raise
    finally:
        for cls, original in originals.items():
            cls.call = original


@contextmanager
def quiet_placeholders() -> Iterator[None]:
    """While tf2onnx converts: its notes on the placeholders it cannot convert kept out of
    the log (``substitute`` replaces them)."""
    quiet = _QuietPlaceholders()
    names = ("tf2onnx.tfonnx", "tf2onnx.tf_utils", "tf2onnx.shape_inference")
    loggers = [logging.getLogger(name) for name in names]
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)


def weight_prefixes(traced: list[Traced]) -> dict[int, str]:
    """The name each traced layer's weights start with, by ``id`` of the layer: its Keras
    name, unless another layer has it too (keras-hub's encoder blocks each hold a
    ``self_attention_layer``): then its path (``transformer_layer_1/self_attention_layer``).
    A layer called twice is one layer, with one set of weights."""
    layers_by_name: dict[str, set[int]] = {}
    for call in traced:
        layers_by_name.setdefault(call.layer.name, set()).add(id(call.layer))
    prefixes = {}
    for call in traced:
        shared_name = len(layers_by_name[call.layer.name]) > 1
        prefixes[id(call.layer)] = (
            (call.layer.path or call.layer.name) if shared_name else call.layer.name
        )
    return prefixes


def substitute(proto: onnx.ModelProto, traced: list[Traced]) -> None:
    """Turn every placeholder node into its layer's ONNX (in place)."""
    functions: dict[str, onnx.FunctionProto] = {}
    prefixes = weight_prefixes(traced)
    for node in proto.graph.node:
        match = _PLACEHOLDER.search(node.name)
        if not match or not node.op_type.startswith(("PyFunc", "EagerPyFunc")):
            continue
        call = traced[int(match[1])]
        info = {**call.info, "weights": prefixes[id(call.layer)]}
        function = call.handler.write(proto, node, call.layer, info)
        if function is not None:
            functions[function.name] = function
    proto.functions.extend(functions.values())
    if functions:
        proto.opset_import.append(helper.make_opsetid(DOMAIN, VERSION))
