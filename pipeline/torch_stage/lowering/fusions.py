"""Patterns of several onnx2torch nodes that are one torch function: Keras swish as tf2onnx
writes it (``x * sigmoid(x)``) -> ``nn.functional.silu(x)``; exact GELU as stage 1 writes it
(``(0.5 * x) * (1 + erf(x * 0.70710677))``) -> ``nn.functional.gelu(x)``. Same numbers (the
check runs on the written module). The fused node keeps the name, and so the Keras layer, of
the last node of the pattern."""

from __future__ import annotations

import numpy as np
import torch
from onnx2torch.node_converters.activations import OnnxErf
from onnx2torch.node_converters.binary_math_operations import OnnxBinaryMathOperation
from torch import fx, nn

from pipeline.torch_stage.lowering.graph import finish, is_a, module_of, replace, scalar
from pipeline.torch_stage.templates import Expression


def _binary(gm: fx.GraphModule, node, function) -> tuple[fx.Node, float] | None:
    """(the tensor operand, the scalar) of ``tensor <op> scalar`` in either order."""
    module = module_of(gm, node)
    if not isinstance(module, OnnxBinaryMathOperation) or module.broadcast is not None:
        return None
    if module.math_op_function is not function or len(node.args) != 2:
        return None
    a, b = node.args
    if (value := scalar(gm, b)) is not None and isinstance(a, fx.Node):
        return a, value
    if (value := scalar(gm, a)) is not None and isinstance(b, fx.Node):
        return b, value
    return None


def _is_mul(gm: fx.GraphModule, node: fx.Node) -> bool:
    module = module_of(gm, node)
    return (
        isinstance(module, OnnxBinaryMathOperation)
        and module.math_op_function is torch.mul
        and module.broadcast is None
    )


def swish(gm: fx.GraphModule) -> int:
    """Sigmoid(x) used only by Mul(x, sigmoid) -> silu(x)."""
    fused = 0
    for node in list(gm.graph.nodes):
        if not isinstance(module_of(gm, node), nn.Sigmoid):
            continue
        users, x = list(node.users), node.args[0]
        if len(users) != 1 or not _is_mul(gm, users[0]) or set(users[0].args) != {x, node}:
            continue
        replace(gm, users[0], Expression("nn.functional.silu({0})"), (x,))
        gm.graph.erase_node(node)
        fused += 1
    return finish(gm, fused)


def gelu(gm: fx.GraphModule) -> int:
    """``(0.5 * x) * (1 + erf(x * 2**-0.5))`` -> ``nn.functional.gelu(x)``."""
    fused = 0
    for erf in list(gm.graph.nodes):
        if not is_a(gm, erf, OnnxErf) or len(erf.users) != 1:
            continue
        plus = next(iter(erf.users))
        scaled, one = _binary(gm, erf.args[0], torch.mul), _binary(gm, plus, torch.add)
        if scaled is None or one is None or not np.isclose(scaled[1], 2**-0.5) or one[1] != 1:
            continue
        x = scaled[0]
        if len(plus.users) != 1 or not _is_mul(gm, product := next(iter(plus.users))):
            continue
        half = next((a for a in product.args if a is not plus), None)
        halved = _binary(gm, half, torch.mul)
        if halved is None or halved[0] is not x or halved[1] != 0.5 or len(half.users) != 1:
            continue
        replace(gm, product, Expression("nn.functional.gelu({0})"), (x,))
        for dead in (half, plus, erf, erf.args[0]):
            gm.graph.erase_node(dead)
        fused += 1
    return finish(gm, fused)
