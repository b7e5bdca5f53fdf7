"""onnx2torch's element-wise wrappers as the plain torch expression they compute: ``x + y``,
``-x``, ``x ** y``, ``x @ y``, ``1 / x``, ``torch.erf(x)``, ``torch.tanh(x)``, ``torch.sqrt(x)``,
``torch.maximum(x, y)``, ``x > 0``, ``~x``, ``x.to(torch.float32)``, ``torch.where(c, x, y)``,
hard sigmoid, per-element PReLU; and Dropout as ``nn.Dropout(p)`` (Keras' rate, from its
constant ratio)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from onnx2torch.node_converters.activations import OnnxErf, OnnxHardSigmoid, OnnxPReLU
from onnx2torch.node_converters.binary_math_operations import OnnxBinaryMathOperation
from onnx2torch.node_converters.cast import OnnxCast
from onnx2torch.node_converters.comparisons import OnnxCompare
from onnx2torch.node_converters.dropout import OnnxDropoutDynamic
from onnx2torch.node_converters.functions import OnnxFunction
from onnx2torch.node_converters.logical import OnnxLogical, OnnxNot
from onnx2torch.node_converters.matmul import OnnxMatMul
from onnx2torch.node_converters.min_max import OnnxMinMax
from onnx2torch.node_converters.neg import OnnxNeg
from onnx2torch.node_converters.pow import OnnxPow, OnnxSqrt
from onnx2torch.node_converters.reciprocal import OnnxReciprocal
from onnx2torch.node_converters.where import OnnxWhere
from torch import nn

from pipeline.torch_stage.converters.dropout import rate
from pipeline.torch_stage.templates import Expression, literal

Consts = list  # per input: its value if constant, else None
Lowered = tuple[nn.Module, int | None]  # the module, and how many leading inputs it takes

_BINARY = {torch.add: "+", torch.sub: "-", torch.mul: "*"}


def _binary(module: OnnxBinaryMathOperation, consts: Consts) -> Lowered | None:
    if module.broadcast is not None:  # opset < 7 broadcasting rules
        return None
    function = module.math_op_function
    symbol = _BINARY.get(function) or ("/" if function.__name__ == "_onnx_div" else None)
    return (Expression(f"{{0}} {symbol} {{1}}", operator=True), None) if symbol else None


def _pow(module: OnnxPow, consts: Consts) -> Lowered | None:
    return (Expression("{0} ** {1}"), None) if module.broadcast is None else None


def _function(module: OnnxFunction, consts: Consts) -> Lowered | None:
    name = getattr(module.function, "__name__", "")
    return (Expression(f"torch.{name}({{0}})"), None) if hasattr(torch, name) else None


def _hard_sigmoid(module: OnnxHardSigmoid, consts: Consts) -> Lowered:
    alpha, beta = float(module.alpha), float(module.beta)
    if np.isclose(alpha, 1 / 6) and beta == 0.5:
        return Expression("nn.functional.hardsigmoid({0})"), None
    return Expression(f"torch.clamp({{0}} * {literal(alpha)} + {literal(beta)}, 0, 1)"), None


def _min_max(module: OnnxMinMax, consts: Consts) -> Lowered | None:
    """Keras Maximum/Minimum of two tensors: ``torch.maximum(x, y)``; against a constant
    scalar (UnitNormalization's epsilon): ``x.clamp(min=1e-12)``. More inputs: left alone."""
    function = {torch.amax: "maximum", torch.amin: "minimum"}.get(module._operator)
    if function is None or len(consts) != 2 or consts[0] is not None:
        return None
    if consts[1] is not None and consts[1].numel() == 1:
        bound = "min" if function == "maximum" else "max"
        return Expression(f"{{0}}.clamp({bound}={literal(float(consts[1].reshape(())))})"), 1
    return Expression(f"torch.{function}({{0}}, {{1}})"), None


_COMPARISONS = {
    torch.eq: "==",
    torch.less: "<",
    torch.less_equal: "<=",
    torch.greater: ">",
    torch.greater_equal: ">=",
}


def _compare(module: OnnxCompare, consts: Consts) -> Lowered | None:
    """``x > 0`` (Keras' ReLU with a threshold, ELU with an alpha, as TensorFlow writes them)."""
    symbol = _COMPARISONS.get(module.compare_function)
    return (Expression(f"{{0}} {symbol} {{1}}", operator=True), None) if symbol else None


_LOGICAL = {torch.logical_and: "&", torch.logical_or: "|", torch.logical_xor: "^"}


def _logical(module: OnnxLogical, consts: Consts) -> Lowered | None:
    """``mask & causal`` (masks combined: Keras' attention mask, pooling's)."""
    if module.broadcast is not None:  # opset 1's broadcast-by-axis form
        return None
    return Expression(f"{{0}} {_LOGICAL[module.logic_op_function]} {{1}}"), None


LOWERINGS: dict[type, Callable[[nn.Module, Consts], Lowered | None]] = {
    OnnxBinaryMathOperation: _binary,
    OnnxPow: _pow,
    OnnxNeg: lambda m, c: (Expression("-{0}"), None),
    OnnxErf: lambda m, c: (Expression("torch.erf({0})"), None),
    OnnxFunction: _function,
    OnnxHardSigmoid: _hard_sigmoid,
    OnnxMinMax: _min_max,
    OnnxCompare: _compare,
    OnnxNot: lambda m, c: (Expression("~{0}"), None),
    OnnxLogical: _logical,
    OnnxCast: lambda m, c: (Expression(f"{{0}}.to({m.torch_dtype})"), None),
    OnnxWhere: lambda m, c: (Expression("torch.where({0}, {1}, {2})"), None),
    OnnxSqrt: lambda m, c: (Expression("torch.sqrt({0})"), None),
    OnnxReciprocal: lambda m, c: (Expression("1 / {0}", operator=True), None),
    OnnxMatMul: lambda m, c: (Expression("{0} @ {1}", operator=True), None),
    # a per-element alpha (one per channel is nn.PReLU: constant_modules)
    OnnxPReLU: lambda m, c: (Expression("torch.where({0} >= 0, {0}, {1} * {0})"), None),
    OnnxDropoutDynamic: lambda m, c: None if c[1] is None else (nn.Dropout(p=rate(c[1])), 1),
}
