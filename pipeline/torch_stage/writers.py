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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class Written:
    kind: str  # "module": ``text`` is a constructor; "expr": a format string over the args
    text: str


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
    nn.Linear: (("in_features", "out_features", "bias"), 2),
    nn.MaxPool2d: (("kernel_size", "stride", "padding", "dilation", "ceil_mode"), 1),
    nn.AvgPool2d: (("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"), 1),
    nn.BatchNorm2d: (("num_features", "eps", "momentum", "affine", "track_running_stats"), 1),
    nn.Flatten: (("start_dim", "end_dim"), 0),
    nn.Dropout: (("p",), 0),
    nn.Identity: ((), 0),
    nn.AdaptiveAvgPool2d: (("output_size",), 1),
}

# Parameterless torch.nn modules, written as torch expressions (a careful human's torch.relu).
EXPRESSIONS: dict[type[nn.Module], Callable[[nn.Module], str]] = {
    nn.ReLU: lambda m: "torch.relu({0})",
    nn.ReLU6: lambda m: "nn.functional.relu6({0})",
    nn.Sigmoid: lambda m: "torch.sigmoid({0})",
    nn.Tanh: lambda m: "torch.tanh({0})",
    nn.Softmax: lambda m: f"torch.softmax({{0}}, dim={m.dim})",
}

_BINARY = {torch.add: "+", torch.sub: "-", torch.mul: "*"}


def _binary(module: nn.Module) -> Written | None:
    if module.broadcast is not None:  # opset < 7 broadcasting rules
        return None
    function = module.math_op_function
    symbol = _BINARY.get(function) or ("/" if function.__name__ == "_onnx_div" else None)
    return Written("expr", f"{{0}} {symbol} {{1}}") if symbol else None


def _global_average_pool(module: nn.Module) -> Written | None:
    dims = getattr(module, "_x_dims", [2, 3])
    return Written("module", "nn.AdaptiveAvgPool2d(1)") if list(dims) == [2, 3] else None


# onnx2torch wrapper class name -> its plain-torch writing (None when a form is not handled)
NATIVES: dict[str, Callable[[nn.Module], Written | None]] = {
    "OnnxBinaryMathOperation": _binary,
    "OnnxGlobalAveragePoolWithKnownInputShape": _global_average_pool,
    "OnnxGlobalAveragePool": lambda m: Written("module", "nn.AdaptiveAvgPool2d(1)"),
}


def _literal(value) -> str:
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return _literal(value[0])  # kernel_size=(5, 5) -> 5
    if isinstance(value, float):
        # the shortest text that is the same float32: eps=0.001, not 0.0010000000474974513
        return np.format_float_positional(np.float32(value), trim="-")
    return repr(value)


def constructor(module: nn.Module) -> str:
    """``nn.Conv2d(1, 6, kernel_size=5, padding=2)`` for a module in CONSTRUCTORS."""
    if type(module) is nn.Sequential:
        return "nn.Sequential(" + ", ".join(constructor(m) for m in module) + ")"
    names, positional = CONSTRUCTORS[type(module)]
    params = inspect.signature(type(module).__init__).parameters
    args = []
    for index, name in enumerate(names):
        value = module.bias is not None if name == "bias" else getattr(module, name)
        default = params[name].default if name in params else inspect.Parameter.empty
        if index < positional:
            args.append(_literal(value))
        elif (
            name == "stride" and default is None and _literal(value) == _literal(module.kernel_size)
        ):
            continue  # pooling's default stride is the kernel size
        elif default is inspect.Parameter.empty or _literal(value) != _literal(default):
            args.append(f"{name}={_literal(value)}")
    return f"nn.{type(module).__name__}({', '.join(args)})"


def _constructible(module: nn.Module) -> bool:
    if type(module) is nn.Sequential:
        return all(_constructible(m) for m in module)
    return type(module) in CONSTRUCTORS


def write(module: nn.Module) -> Written | None:
    """How to write ``module``; None if this pipeline has no native form for it."""
    if type(module) in EXPRESSIONS:
        return Written("expr", EXPRESSIONS[type(module)](module))
    if _constructible(module):
        return Written("module", constructor(module))
    native = NATIVES.get(type(module).__name__)
    return native(module) if native else None
