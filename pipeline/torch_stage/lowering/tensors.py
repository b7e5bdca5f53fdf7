"""onnx2torch's tensor-shaping wrappers as plain torch: indexing ``x[:, :, 1:, :-1]``,
``x.reshape(-1, 784)``, ``x.transpose(1, 2)``, ``torch.cat``, ``nn.ZeroPad2d``,
``nn.Upsample``, ``x.mean(dim=1)``, ``x.shape``, ``torch.full``, ``x.cumsum(1)``,
``nn.AdaptiveAvgPool2d(1)``. A form with no plain writing is left alone (None)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from onnx2torch.node_converters.concat import OnnxConcat
from onnx2torch.node_converters.constant_of_shape import OnnxConstantOfShape
from onnx2torch.node_converters.cumsum import OnnxCumSum
from onnx2torch.node_converters.global_average_pool import (
    OnnxGlobalAveragePool,
    OnnxGlobalAveragePoolWithKnownInputShape,
)
from onnx2torch.node_converters.pad import OnnxPadDynamic, OnnxPadStatic
from onnx2torch.node_converters.reduce import OnnxReduceStaticAxes, OnnxReduceSumStaticAxes
from onnx2torch.node_converters.reshape import OnnxReshape
from onnx2torch.node_converters.resize import OnnxResize
from onnx2torch.node_converters.shape import OnnxShape
from onnx2torch.node_converters.slice import OnnxSlice
from onnx2torch.node_converters.squeeze import OnnxSqueezeDynamicAxes
from onnx2torch.node_converters.transpose import OnnxTranspose
from onnx2torch.node_converters.unsqueeze import OnnxUnsqueezeStaticAxes
from torch import nn

from pipeline.torch_stage.lowering.elementwise import Consts, Lowered
from pipeline.torch_stage.templates import Expression, literal

_ZERO_PADS = {1: nn.ZeroPad1d, 2: nn.ZeroPad2d}
_CONSTANT_PADS = {1: nn.ConstantPad1d, 2: nn.ConstantPad2d}


def _pad_module(pads: Sequence[int], mode: str, value: float) -> nn.Module | None:
    """nn.ZeroPad{1,2}d / nn.ConstantPad{1,2}d for torch-order pads of the last one or two
    dims (torch order: last dim first, (begin, end) each)."""
    pads = [int(p) for p in pads]
    if len(pads) not in (2, 4, 6, 8) or any(pads[4:]) or mode != "constant":
        return None  # pads batch or channels
    pads = tuple(pads[:2]) if len(pads) == 2 or not any(pads[2:4]) else tuple(pads[:4])
    dims = len(pads) // 2
    return _ZERO_PADS[dims](pads) if value == 0 else _CONSTANT_PADS[dims](pads, value)


def _pad_static(module: OnnxPadStatic, consts: Consts) -> Lowered | None:
    padding = _pad_module(module.pads, module.mode, float(module.constant_value))
    return (padding, None) if padding is not None else None


def _pad_dynamic(module: OnnxPadDynamic, consts: Consts) -> Lowered | None:
    """Pad whose pads are a constant input: ONNX [x1_begin, x2_begin, ..., x1_end, ...]."""
    if len(consts) < 2 or consts[1] is None or module.mode != "constant":
        return None
    onnx_pads = [int(p) for p in consts[1].reshape(-1)]
    rank = len(onnx_pads) // 2
    begins, ends = onnx_pads[:rank], onnx_pads[rank:]
    if rank not in (3, 4) or any(begins[:2]) or any(ends[:2]):
        return None
    value = float(consts[2].reshape(())) if len(consts) > 2 and consts[2] is not None else 0.0
    torch_pads = [p for axis in reversed(range(2, rank)) for p in (begins[axis], ends[axis])]
    padding = _pad_module(torch_pads, "constant", value)
    return (padding, 1) if padding is not None else None


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
    """Reshape to a constant shape whose first dim is the batch (-1 or 0 in ONNX)."""
    if len(consts) < 2 or consts[1] is None:
        return None
    shape = [int(d) for d in consts[1].reshape(-1)]
    if not shape or shape[0] not in (-1, 0) or -1 in shape[1:] or 0 in shape[1:]:
        return None
    return Expression(f"{{0}}.reshape({', '.join(['-1', *map(str, shape[1:])])})"), 1


def _resize(module: OnnxResize, consts: Consts) -> Lowered | None:
    """Nearest upsampling by constant integer factors (Keras UpSampling2D): for integer
    factors every ONNX coordinate mode tf2onnx writes picks the same pixels as
    ``nn.Upsample``'s."""
    if module.onnx_mode != "nearest" or len(consts) < 3 or consts[2] is None:
        return None
    scales = [float(v) for v in consts[2].reshape(-1)]
    if len(scales) != 4 or scales[:2] != [1.0, 1.0] or any(not v.is_integer() for v in scales):
        return None
    return nn.Upsample(scale_factor=(int(scales[2]), int(scales[3])), mode="nearest"), 1


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


_ADAPTIVE_AVERAGE = {
    (2,): nn.AdaptiveAvgPool1d,
    (2, 3): nn.AdaptiveAvgPool2d,
    (2, 3, 4): nn.AdaptiveAvgPool3d,
}


def _global_average_pool(module: nn.Module, consts: Consts) -> Lowered | None:
    """Over the spatial dims of NCW or NCHW data (Keras GlobalAveragePooling1D after a
    Conv1D, GlobalAveragePooling2D): ``nn.AdaptiveAvgPool1d(1)`` / ``nn.AdaptiveAvgPool2d(1)``."""
    pool = _ADAPTIVE_AVERAGE.get(tuple(getattr(module, "_x_dims", (2, 3))))
    return (pool(1), None) if pool is not None else None


def _shape(module: OnnxShape, consts: Consts) -> Lowered | None:
    whole = module._start == 0 and module._end is None
    return (Expression("{0}.shape"), None) if whole else None


LOWERINGS: dict[type, Callable[[nn.Module, Consts], Lowered | None]] = {
    OnnxGlobalAveragePoolWithKnownInputShape: _global_average_pool,
    OnnxGlobalAveragePool: _global_average_pool,
    OnnxPadStatic: _pad_static,
    OnnxPadDynamic: _pad_dynamic,
    OnnxSlice: _slice,
    OnnxReshape: _reshape,
    OnnxResize: _resize,
    OnnxReduceStaticAxes: _reduce,
    OnnxReduceSumStaticAxes: _reduce_sum,
    OnnxUnsqueezeStaticAxes: _unsqueeze,
    OnnxSqueezeDynamicAxes: _squeeze,
    OnnxShape: _shape,
    OnnxConstantOfShape: _constant_of_shape,
    OnnxCumSum: _cumsum,
    OnnxTranspose: _transpose,
    OnnxConcat: lambda m, c: (Expression(f"torch.cat([{{*}}], dim={m.axis})"), None),
}
