"""onnx2torch's tensor-shaping wrappers as plain torch: indexing ``x[:, :, 1:, :-1]``,
``x.reshape(-1, 784)``, ``x.transpose(1, 2)``, ``torch.cat``, ``x.mean(dim=1)``,
``x.squeeze(1)``, ``x.shape``, ``torch.full``, ``x.cumsum(1)``, ``x.clone()``. A form with no
plain writing is left alone (None); padding, resizing and global pooling are in ``spatial``."""

from __future__ import annotations

from collections.abc import Callable

from onnx2torch.node_converters.concat import OnnxConcat
from onnx2torch.node_converters.constant_of_shape import OnnxConstantOfShape
from onnx2torch.node_converters.cumsum import OnnxCumSum
from onnx2torch.node_converters.identity import OnnxCopyIdentity
from onnx2torch.node_converters.reduce import OnnxReduceStaticAxes, OnnxReduceSumStaticAxes
from onnx2torch.node_converters.reshape import OnnxReshape
from onnx2torch.node_converters.shape import OnnxShape
from onnx2torch.node_converters.slice import OnnxSlice
from onnx2torch.node_converters.split import OnnxSplit13
from onnx2torch.node_converters.squeeze import OnnxSqueezeDynamicAxes
from onnx2torch.node_converters.tile import OnnxTile
from onnx2torch.node_converters.transpose import OnnxTranspose
from onnx2torch.node_converters.unsqueeze import OnnxUnsqueezeStaticAxes
from torch import nn

from pipeline.torch_stage.lowering.elementwise import Consts, Lowered
from pipeline.torch_stage.templates import Expression, literal


def _slice(module: OnnxSlice, consts: Consts) -> Lowered | None:
    """Slice with constant starts/ends/axes/steps: plain indexing, ``x[:, :, 1:, :-1]``."""
    if any(c is None for c in consts[1:]) or len(consts) < 3:
        return None
    starts, ends = (c.reshape(-1).tolist() for c in consts[1:3])
    axes = consts[3].reshape(-1).tolist() if len(consts) > 3 else list(range(len(starts)))
    steps = consts[4].reshape(-1).tolist() if len(consts) > 4 else [1] * len(starts)
    if any(a < 0 for a in axes) or any(s != 1 for s in steps):
        return None
    open_end = 2**31 - 1  # tf2onnx writes INT32_MAX (or INT64_MAX) for "to the end"
    index = [":"] * (max(axes) + 1)
    for axis, start, end in zip(axes, starts, ends, strict=True):
        index[axis] = f"{start or ''}:{'' if end >= open_end else end}"
    while len(index) > 1 and index[-1] == ":":
        index.pop()
    return Expression(f"{{0}}[{', '.join(index)}]"), 1


def _reshape(module: OnnxReshape, consts: Consts) -> Lowered | None:
    """Reshape to a constant shape: ``x.reshape(-1, 20, 4)`` when only the first dim is
    open (-1 or 0 in ONNX), else each ONNX 0 ("copy this dim") as ``x.shape[i]``."""
    if len(consts) < 2 or consts[1] is None:
        return None
    shape = [int(d) for d in consts[1].reshape(-1)]
    if not shape:
        return None
    if shape[0] in (-1, 0) and -1 not in shape[1:] and 0 not in shape[1:]:
        return Expression(f"{{0}}.reshape({', '.join(['-1', *map(str, shape[1:])])})"), 1
    dims = [f"{{0}}.shape[{axis}]" if d == 0 else str(d) for axis, d in enumerate(shape)]
    return Expression(f"{{0}}.reshape({', '.join(dims)})"), 1


_REDUCTIONS = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "amax", "ReduceMin": "amin"}


def _reduce(module: OnnxReduceStaticAxes, consts: Consts) -> Lowered | None:
    """``x.mean(dim=1)`` (GlobalAveragePooling1D), ``x.amax(dim=1)``, ..."""
    method = _REDUCTIONS.get(module.operation_type)
    if method is None or not module.axes:
        return None
    dims = module.axes[0] if len(module.axes) == 1 else tuple(module.axes)
    keep = ", keepdim=True" if module.keepdims else ""
    return Expression(f"{{0}}.{method}(dim={dims}{keep})"), None


def _reduce_sum(module: OnnxReduceSumStaticAxes, consts: Consts) -> Lowered | None:
    if not module._axes:
        return None
    keep = ", keepdim=True" if module._keepdims else ""
    return Expression(f"{{0}}.sum(dim={tuple(module._axes)}{keep})"), None


def _squeeze(module: OnnxSqueezeDynamicAxes, consts: Consts) -> Lowered | None:
    if len(consts) < 2 or consts[1] is None:
        return None
    axes = [int(a) for a in consts[1].reshape(-1)]
    return Expression(f"{{0}}.squeeze({axes[0] if len(axes) == 1 else tuple(axes)})"), 1


def _tile(module: OnnxTile, consts: Consts) -> Lowered | None:
    """``x.repeat(1, 3, 1)`` (Keras RepeatVector) for constant repeats."""
    if len(consts) < 2 or consts[1] is None:
        return None
    return Expression(f"{{0}}.repeat({', '.join(str(int(r)) for r in consts[1].reshape(-1))})"), 1


def _unsqueeze(module: OnnxUnsqueezeStaticAxes, consts: Consts) -> Lowered:
    text = "{0}" + "".join(f".unsqueeze({axis})" for axis in module._axes)
    return Expression(text), None


def _transpose(module: OnnxTranspose, consts: Consts) -> Lowered | None:
    """``x.transpose(1, 2)`` for a swap of two axes, else ``x.permute(...)``."""
    if module.perm is None:
        return None
    perm = list(module.perm)
    moved = [axis for axis, p in enumerate(perm) if axis != p]
    if len(moved) == 2:
        return Expression(f"{{0}}.transpose({moved[0]}, {moved[1]})"), None
    return Expression(f"{{0}}.permute({', '.join(map(str, perm))})"), None


def _constant_of_shape(module: OnnxConstantOfShape, consts: Consts) -> Lowered:
    value = module.value.reshape(())
    return Expression(f"torch.full({{0}}, {literal(value.item())}, dtype={value.dtype})"), None


def _cumsum(module: OnnxCumSum, consts: Consts) -> Lowered | None:
    if module.exclusive or module.reverse or len(consts) < 2 or consts[1] is None:
        return None
    return Expression(f"{{0}}.cumsum({int(consts[1].reshape(()))})"), 1


def _split(module: OnnxSplit13, consts: Consts) -> Lowered | None:
    """``x.chunk(2, dim=-1)`` (equal parts: Keras' ``ops.split(x, 2)``) or
    ``torch.split(x, [8, 16], dim=1)``: a tuple, whose items the next nodes take."""
    if len(consts) > 1 and consts[1] is not None:
        sizes = [int(s) for s in consts[1].reshape(-1)]
        return Expression(f"torch.split({{0}}, {sizes}, dim={module.axis})"), 1
    return Expression(f"{{0}}.chunk({module.num_splits}, dim={module.axis})"), 1


def _shape(module: OnnxShape, consts: Consts) -> Lowered | None:
    whole = module._start == 0 and module._end is None
    return (Expression("{0}.shape"), None) if whole else None


LOWERINGS: dict[type, Callable[[nn.Module, Consts], Lowered | None]] = {
    OnnxSlice: _slice,
    OnnxReshape: _reshape,
    OnnxReduceStaticAxes: _reduce,
    OnnxReduceSumStaticAxes: _reduce_sum,
    OnnxUnsqueezeStaticAxes: _unsqueeze,
    OnnxSqueezeDynamicAxes: _squeeze,
    OnnxTile: _tile,
    OnnxShape: _shape,
    OnnxSplit13: _split,
    OnnxConstantOfShape: _constant_of_shape,
    OnnxCumSum: _cumsum,
    OnnxTranspose: _transpose,
    OnnxConcat: lambda m, c: (Expression(f"torch.cat([{{*}}], dim={m.axis})"), None),
    # ONNX's Identity makes a new tensor (onnx2torch: a clone). Only a model that is the
    # identity at inference keeps one after tf2onnx (GaussianNoise alone: fuzz seed 3185):
    # its forward returns a copy of its input, as Keras returns a new tensor.
    OnnxCopyIdentity: lambda m, c: (Expression("{0}.clone()"), 1),
}
