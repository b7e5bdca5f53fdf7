"""Stage 2's broadcast, cut and range to another tensor's size (``pipeline.forms.shape_like``)
as plain torch: ``x.expand(tokens.shape[0], 1, 8)``, ``x[: tokens.shape[1]]``,
``torch.arange(x.shape[1], dtype=torch.float32)``, registered in onnx2torch's converter
registry."""

from __future__ import annotations

from onnx2torch.node_converters.registry import add_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OperationConverterResult
from onnx2torch.utils.dtype import onnx_dtype_to_torch_dtype

from pipeline.forms import DOMAIN, VERSION
from pipeline.forms import shape_like as form
from pipeline.torch_stage.templates import Expression


def expand_text(sizes: list[int], like_axes: list[int]) -> str:
    """``{0}.expand({1}.shape[0], 1, 8)``: a size from ``like`` where its axis is given."""
    args = [
        f"{{1}}.shape[{a}]" if a >= 0 else str(s) for s, a in zip(sizes, like_axes, strict=True)
    ]
    return "{0}.expand(" + ", ".join(args) + ")"


def slice_text(axes: list[int], starts: list[int], like_axes: list[int]) -> str:
    """``{0}[:, 2:{1}.shape[1]]``: each axis cut from its start to ``like``'s size."""
    cuts = {a: (s, e) for a, s, e in zip(axes, starts, like_axes, strict=True)}
    index = [":"] * (max(axes) + 1)
    for axis, (start, like_axis) in cuts.items():
        index[axis] = f"{start or ''}:{{1}}.shape[{like_axis}]"
    return "{0}[" + ", ".join(index) + "]"


def _mapping(node: OnnxNode) -> OnnxMapping:
    return OnnxMapping(inputs=tuple(node.input_values), outputs=node.output_values)


@add_converter(operation_type=form.EXPAND, version=VERSION, domain=DOMAIN)
def _expand(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    attrs = node.attributes
    text = expand_text(list(attrs["sizes"]), list(attrs["like_axes"]))
    return OperationConverterResult(Expression(text), _mapping(node))


@add_converter(operation_type=form.SLICE, version=VERSION, domain=DOMAIN)
def _slice(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    attrs = node.attributes
    text = slice_text(list(attrs["axes"]), list(attrs["starts"]), list(attrs["like_axes"]))
    return OperationConverterResult(Expression(text), _mapping(node))


def range_text(start: float, delta: float, like_axis: int, dtype) -> str:
    """``torch.arange({0}.shape[1], dtype=torch.float32)``: start and step where not 0 and 1."""
    number = (lambda v: repr(v)) if dtype.is_floating_point else (lambda v: str(int(v)))
    bounds = [number(start)] if start or delta != 1 else []
    bounds.append(f"{{0}}.shape[{like_axis}]")
    bounds += [number(delta)] if delta != 1 else []
    return f"torch.arange({', '.join(bounds)}, dtype={dtype}, device={{0}}.device)"


@add_converter(operation_type=form.RANGE, version=VERSION, domain=DOMAIN)
def _range(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    attrs = node.attributes
    dtype = onnx_dtype_to_torch_dtype(attrs["to"])
    text = range_text(attrs["start"], attrs["delta"], attrs["like_axis"], dtype)
    return OperationConverterResult(Expression(text), _mapping(node))
