"""How each torch module onnx2torch produces is written as PyTorch source.

A module is written either as an attribute built by a ``torch.nn`` constructor with only its
non-default arguments (``nn.Conv2d(1, 6, kernel_size=5, padding=2)``), or, when it has no
parameters and a plain expression says it better, as that expression in ``forward``
(``torch.relu(x)``, ``x + y``). onnx2torch's own wrapper classes that compute a plain torch
operation are written as that operation (``NATIVES``); any other wrapper has no writer, and
the emitter reports it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pipeline.torch_stage import attention, recurrent


@dataclass(frozen=True)
class Written:
    """``kind`` "module": ``text`` is a constructor; "expr": a format string over the args
    (``{0}``, ``{1}``, or ``{*}`` for all of them, comma-separated).
    ``arity``: how many leading inputs the writing takes (the rest, constants such as a
    Slice's bounds, are folded into ``text``); None for all."""

    kind: str
    text: str
    arity: int | None = None
    lines: tuple[str, ...] = ()  # "module": forward statements over {self}, {0}, {out}


_CONV_ARGS = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "bias",
    "padding_mode",
)

# torch.nn class -> its constructor arguments read back from an instance, in order; the
# first ``positional`` are written positionally (as the PyTorch docs do).
CONSTRUCTORS: dict[type[nn.Module], tuple[tuple[str, ...], int]] = {
    nn.Conv1d: (_CONV_ARGS, 2),
    nn.Conv2d: (_CONV_ARGS, 2),
    nn.ConvTranspose2d: (
        (
            "in_channels",
            "out_channels",
            "kernel_size",
            "stride",
            "padding",
            "output_padding",
            "groups",
            "bias",
            "dilation",
            "padding_mode",
        ),
        2,
    ),
    nn.Linear: (("in_features", "out_features", "bias"), 2),
    nn.MaxPool1d: (("kernel_size", "stride", "padding", "dilation", "ceil_mode"), 1),
    nn.MaxPool2d: (("kernel_size", "stride", "padding", "dilation", "ceil_mode"), 1),
    nn.AvgPool1d: (("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"), 1),
    nn.AvgPool2d: (("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"), 1),
    nn.BatchNorm2d: (("num_features", "eps", "momentum", "affine", "track_running_stats"), 1),
    nn.Flatten: (("start_dim", "end_dim"), 0),
    nn.Dropout: (("p",), 0),
    nn.Identity: ((), 0),
    nn.Embedding: (("num_embeddings", "embedding_dim", "padding_idx", "max_norm"), 2),
    nn.PReLU: (("num_parameters",), 1),
    nn.LayerNorm: (("normalized_shape", "eps", "elementwise_affine", "bias"), 1),
    nn.AdaptiveAvgPool2d: (("output_size",), 1),
    nn.AdaptiveMaxPool2d: (("output_size",), 1),
}

# Parameterless torch.nn modules, written as torch expressions (a careful human's torch.relu).
EXPRESSIONS: dict[type[nn.Module], Callable[[nn.Module], str]] = {
    nn.ReLU: lambda m: "torch.relu({0})",
    nn.ReLU6: lambda m: "nn.functional.relu6({0})",
    nn.Sigmoid: lambda m: "torch.sigmoid({0})",
    nn.Tanh: lambda m: "torch.tanh({0})",
    nn.Softmax: lambda m: f"torch.softmax({{0}}, dim={m.dim})",
    nn.LeakyReLU: lambda m: f"nn.functional.leaky_relu({{0}}, {literal(m.negative_slope)})",
    nn.ELU: lambda m: (
        "nn.functional.elu({0})"
        if m.alpha == 1.0
        else f"nn.functional.elu({{0}}, alpha={literal(m.alpha)})"
    ),
    nn.SELU: lambda m: "torch.selu({0})",
    nn.Softplus: lambda m: "nn.functional.softplus({0})",
    nn.Hardswish: lambda m: "nn.functional.hardswish({0})",
    nn.Hardsigmoid: lambda m: "nn.functional.hardsigmoid({0})",
}

_BINARY = {torch.add: "+", torch.sub: "-", torch.mul: "*"}

Consts = Sequence["torch.Tensor | None"]  # per input: its value if constant, else None


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


def literal(value) -> str:
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return literal(value[0])  # kernel_size=(5, 5) -> 5
    if isinstance(value, float) and not np.isfinite(value):
        return f"float('{value}')"
    if isinstance(value, float):
        # the shortest text that is the same float32: eps=0.001, not 0.0010000000474974513
        return np.format_float_positional(np.float32(value), trim="-")
    return repr(value)


def constructor(module: nn.Module) -> str | None:
    """``nn.Conv2d(1, 6, kernel_size=5, padding=2)``; None if there is no native form."""
    if type(module) is nn.Sequential:
        parts = [write(m, ()) for m in module]
        if any(p is None or p.kind != "module" for p in parts):
            return None
        return "nn.Sequential(" + ", ".join(p.text for p in parts) + ")"
    if type(module) not in CONSTRUCTORS:
        return None
    names, positional = CONSTRUCTORS[type(module)]
    params = inspect.signature(type(module).__init__).parameters
    args = []
    for index, name in enumerate(names):
        value = module.bias is not None if name == "bias" else getattr(module, name)
        default = params[name].default if name in params else inspect.Parameter.empty
        if index < positional:
            args.append(literal(value))
        elif name == "stride" and default is None and literal(value) == literal(module.kernel_size):
            continue  # pooling's default stride is the kernel size
        elif name == "count_include_pad" and literal(module.padding) == "0":
            continue  # without padding it changes nothing
        elif default is inspect.Parameter.empty or literal(value) != literal(default):
            args.append(f"{name}={literal(value)}")
    return f"nn.{type(module).__name__}({', '.join(args)})"


def write(module: nn.Module, consts: Consts) -> Written | None:
    """How to write ``module`` given which of its inputs are constants; None if this
    pipeline has no native form for it."""
    if type(module) in EXPRESSIONS:
        return Written("expr", EXPRESSIONS[type(module)](module))
    if isinstance(module, recurrent.KerasOutput):
        text, lines = recurrent.write(module)
        return Written("module", text, lines=lines)
    if isinstance(module, attention.KerasMultiHeadAttention):
        text, lines = attention.write(module)
        return Written("module", text, lines=lines)
    text = constructor(module)
    if text is not None:
        return Written("module", text)
    native = NATIVES.get(type(module).__name__)
    return native(module, consts) if native else None
