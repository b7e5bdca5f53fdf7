"""How onnx2torch's own wrapper classes are written as the plain torch operation they compute
(``x + y``, ``torch.cat``, indexing, ``nn.ZeroPad2d``, ``x.mean(dim=1)``, ...). A form with no
plain writing returns None, and the emitter reports the node."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from pipeline.torch_stage.written import Consts, Written, literal

_BINARY = {torch.add: "+", torch.sub: "-", torch.mul: "*"}


def _binary(module: nn.Module, consts: Consts) -> Written | None:
    if module.broadcast is not None:  # opset < 7 broadcasting rules
        return None
    function = module.math_op_function
    symbol = _BINARY.get(function) or ("/" if function.__name__ == "_onnx_div" else None)
    return Written("expr", f"{{0}} {symbol} {{1}}") if symbol else None


def _global_average_pool(module: nn.Module, consts: Consts) -> Written | None:
    dims = getattr(module, "_x_dims", [2, 3])
    return Written("module", "nn.AdaptiveAvgPool2d(1)") if list(dims) == [2, 3] else None


def _function(module: nn.Module, consts: Consts) -> Written | None:
    name = getattr(module.function, "__name__", "")
    return Written("expr", f"torch.{name}({{0}})") if hasattr(torch, name) else None


def _hard_sigmoid(module: nn.Module, consts: Consts) -> Written:
    alpha, beta = float(module.alpha), float(module.beta)
    if np.isclose(alpha, 1 / 6) and beta == 0.5:
        return Written("expr", "nn.functional.hardsigmoid({0})")
    return Written("expr", f"torch.clamp({{0}} * {literal(alpha)} + {literal(beta)}, 0, 1)")


def _pad_module(pads: Sequence[int], mode: str, value: float) -> str | None:
    """nn.ZeroPad{1,2}d / nn.ConstantPad{1,2}d for torch-order pads of the last one or two
    dims (torch order: last dim first, (begin, end) each)."""
    pads = [int(p) for p in pads]
    if len(pads) not in (2, 4, 6, 8) or any(pads[4:]) or mode != "constant":
        return None  # pads batch or channels
    pads = tuple(pads[:2]) if len(pads) == 2 or not any(pads[2:4]) else tuple(pads[:4])
    dims = len(pads) // 2
    if value == 0:
        return f"nn.ZeroPad{dims}d({literal(pads)})"
    return f"nn.ConstantPad{dims}d({literal(pads)}, {literal(value)})"


def _pad_static(module: nn.Module, consts: Consts) -> Written | None:
    text = _pad_module(module.pads, module.mode, float(module.constant_value))
    return Written("module", text) if text else None


def _pad_dynamic(module: nn.Module, consts: Consts) -> Written | None:
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
    text = _pad_module(torch_pads, "constant", value)
    return Written("module", text, arity=1) if text else None


def _slice(module: nn.Module, consts: Consts) -> Written | None:
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
    return Written("expr", f"{{0}}[{', '.join(index)}]", arity=1)


def _reshape(module: nn.Module, consts: Consts) -> Written | None:
    """Reshape to a constant shape whose first dim is the batch (-1 or 0 in ONNX)."""
    if len(consts) < 2 or consts[1] is None:
        return None
    shape = [int(d) for d in consts[1].reshape(-1)]
    if not shape or shape[0] not in (-1, 0) or -1 in shape[1:] or 0 in shape[1:]:
        return None
    return Written("expr", f"{{0}}.reshape({', '.join(['-1', *map(str, shape[1:])])})", arity=1)


def _resize(module: nn.Module, consts: Consts) -> Written | None:
    """Nearest upsampling by constant integer factors (Keras UpSampling2D): for integer
    factors every ONNX coordinate mode tf2onnx writes picks the same pixels as
    ``nn.Upsample``'s."""
    if module.onnx_mode != "nearest" or len(consts) < 3 or consts[2] is None:
        return None
    scales = [float(v) for v in consts[2].reshape(-1)]
    if len(scales) != 4 or scales[:2] != [1.0, 1.0] or any(not v.is_integer() for v in scales):
        return None
    factor = literal((int(scales[2]), int(scales[3])))
    return Written("module", f"nn.Upsample(scale_factor={factor}, mode='nearest')", arity=1)


_REDUCTIONS = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "amax", "ReduceMin": "amin"}


def _reduce(module: nn.Module, consts: Consts) -> Written | None:
    """``x.mean(dim=1)`` (GlobalAveragePooling1D), ``x.amax(dim=1)``, ..."""
    method = _REDUCTIONS.get(module.operation_type)
    if method is None or not module.axes:
        return None
    dims = module.axes[0] if len(module.axes) == 1 else tuple(module.axes)
    keep = ", keepdim=True" if module.keepdims else ""
    return Written("expr", f"{{0}}.{method}(dim={dims}{keep})")


def _transpose(module: nn.Module, consts: Consts) -> Written | None:
    """``x.transpose(1, 2)`` for a swap of two axes, else ``x.permute(...)``."""
    if module.perm is None:
        return None
    perm = list(module.perm)
    moved = [axis for axis, p in enumerate(perm) if axis != p]
    if len(moved) == 2:
        return Written("expr", f"{{0}}.transpose({moved[0]}, {moved[1]})")
    return Written("expr", f"{{0}}.permute({', '.join(map(str, perm))})")


def _constant_of_shape(module: nn.Module, consts: Consts) -> Written:
    value = module.value.reshape(())
    dtype = str(value.dtype).replace("torch.", "torch.")
    return Written("expr", f"torch.full({{0}}, {literal(value.item())}, dtype={dtype})")


def _cumsum(module: nn.Module, consts: Consts) -> Written | None:
    if module.exclusive or module.reverse or len(consts) < 2 or consts[1] is None:
        return None
    return Written("expr", f"{{0}}.cumsum({int(consts[1].reshape(()))})", arity=1)


def _shape(module: nn.Module, consts: Consts) -> Written | None:
    return Written("expr", "{0}.shape") if module._start == 0 and module._end is None else None


# onnx2torch wrapper class name -> its plain-torch writing (None when a form is not handled)
NATIVES: dict[str, Callable[[nn.Module, Consts], Written | None]] = {
    "OnnxBinaryMathOperation": _binary,
    "OnnxPow": lambda m, c: Written("expr", "{0} ** {1}") if m.broadcast is None else None,
    "OnnxNeg": lambda m, c: Written("expr", "-{0}"),
    "OnnxErf": lambda m, c: Written("expr", "torch.erf({0})"),
    "OnnxFunction": _function,
    "OnnxHardSigmoid": _hard_sigmoid,
    "OnnxGlobalAveragePoolWithKnownInputShape": _global_average_pool,
    "OnnxGlobalAveragePool": lambda m, c: Written("module", "nn.AdaptiveAvgPool2d(1)"),
    "OnnxPadStatic": _pad_static,
    "OnnxPadDynamic": _pad_dynamic,
    "OnnxSlice": _slice,
    "OnnxReshape": _reshape,
    "OnnxResize": _resize,
    "OnnxReduceStaticAxes": _reduce,
    "OnnxShape": _shape,
    "OnnxConstantOfShape": _constant_of_shape,
    "OnnxCumSum": _cumsum,
    "OnnxPReLU": lambda m, c: Written("expr", "torch.where({0} >= 0, {0}, {1} * {0})"),
    "OnnxTranspose": _transpose,
    "OnnxConcat": lambda m, c: Written("expr", f"torch.cat([{{*}}], dim={m.axis})"),
}
