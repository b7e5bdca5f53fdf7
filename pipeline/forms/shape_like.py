"""The ONNX forms of a broadcast or a cut whose size is another tensor's, shared by stage 2
(``pipeline.passes.shape_like`` writes them for Keras' shape computations) and stage 3
(``x.expand(tokens.shape[0], 1, 8)``, ``x[: tokens.shape[1]]``).

A keras-hub ViT tiles its class token to the batch; BERT's position embedding cuts its table
to the input's length and broadcasts it to the batch. tf2onnx writes each as a ``Shape``
sub-graph feeding ``Tile``, ``Expand`` or ``Slice``, which no importer turns into plain
PyTorch. Where each computed size is one dim of one tensor (the batch, a sequence length),
stage 2 writes one call of a model-local function (domain ``keras2torch``)::

    KerasExpandLike(X, like) sizes=[...] like_axes=[...]
        Y = Expand(X, Where(like_axes >= 0, Shape(like)[max(like_axes, 0)], sizes))
    KerasSliceLike(X, like) axes=[...] starts=[...] like_axes=[...]
        Y = Slice(X, starts, Shape(like)[like_axes], axes)

    KerasRangeLike(like) start=s delta=d like_axis=a to=T
        Y = Range(Cast<T>(s), Cast<T>(Shape(like)[a]), Cast<T>(d))

``like_axes[i]`` is the axis of ``like`` whose size output axis ``i`` takes (-1: ``sizes[i]``,
a static size); a slice's ends are ``like``'s sizes at ``like_axes``. A range counts up to
one dim of ``like`` (keras-hub's causal mask compares positions ``arange(T)``), in the
element type ``to`` the graph's ``Range`` had.
"""

from __future__ import annotations

import onnx
from onnx import helper

from pipeline.forms.function import attribute_constant, attribute_ref, int_constant, make

EXPAND = "KerasExpandLike"
SLICE = "KerasSliceLike"
RANGE = "KerasRangeLike"
OP_TYPES = (EXPAND, SLICE, RANGE)
PARAM_ROLES = {EXPAND: (None, None), SLICE: (None, None), RANGE: (None,)}
_INTS = onnx.AttributeProto.INTS
_FLOAT = onnx.AttributeProto.FLOAT


def expand_function(opset: int) -> onnx.FunctionProto:
    nodes = [
        attribute_constant("sizes_value", "sizes", _INTS),
        attribute_constant("like_axes_value", "like_axes", _INTS),
        int_constant("zero", 0),
        helper.make_node("Max", ["like_axes_value", "zero"], ["picked_axes"]),
        helper.make_node("Shape", ["like"], ["like_shape"]),
        helper.make_node("Gather", ["like_shape", "picked_axes"], ["picked"]),
        helper.make_node("GreaterOrEqual", ["like_axes_value", "zero"], ["from_like"]),
        helper.make_node("Where", ["from_like", "picked", "sizes_value"], ["target"]),
        helper.make_node("Expand", ["X", "target"], ["Y"]),
    ]
    return make(EXPAND, ["X", "like"], nodes, opset, ["sizes", "like_axes"])


def slice_function(opset: int) -> onnx.FunctionProto:
    nodes = [
        attribute_constant("axes_value", "axes", _INTS),
        attribute_constant("starts_value", "starts", _INTS),
        attribute_constant("like_axes_value", "like_axes", _INTS),
        helper.make_node("Shape", ["like"], ["like_shape"]),
        helper.make_node("Gather", ["like_shape", "like_axes_value"], ["ends"]),
        helper.make_node("Slice", ["X", "starts_value", "ends", "axes_value"], ["Y"]),
    ]
    return make(SLICE, ["X", "like"], nodes, opset, ["axes", "starts", "like_axes"])


def _cast(source: str, output: str) -> onnx.NodeProto:
    node = helper.make_node("Cast", [source], [output])
    node.attribute.append(attribute_ref("to", onnx.AttributeProto.INT))
    return node


def range_function(opset: int) -> onnx.FunctionProto:
    axis = helper.make_node("Constant", [], ["like_axis_value"])
    axis.attribute.append(attribute_ref("like_axis", onnx.AttributeProto.INT, "value_int"))
    nodes = [
        attribute_constant("start_float", "start", _FLOAT),
        attribute_constant("delta_float", "delta", _FLOAT),
        axis,
        helper.make_node("Shape", ["like"], ["like_shape"]),
        helper.make_node("Gather", ["like_shape", "like_axis_value"], ["limit_int"]),
        _cast("start_float", "start_value"),
        _cast("delta_float", "delta_value"),
        _cast("limit_int", "limit_value"),
        helper.make_node("Range", ["start_value", "limit_value", "delta_value"], ["Y"]),
    ]
    return make(RANGE, ["like"], nodes, opset, ["start", "delta", "like_axis", "to"])


FUNCTIONS = {EXPAND: expand_function, SLICE: slice_function, RANGE: range_function}
