"""Small rewrites of the torch.fx graph before it is written, so ``model.py`` says what a
person would: ``x * torch.sigmoid(x)`` (Keras swish, as tf2onnx writes it: Sigmoid then Mul)
becomes ``nn.functional.silu(x)``, and exact GELU's erf formula ``nn.functional.gelu(x)``.
Same numbers (the check runs on the written module). Ops on constant weights that are a
torch.nn module are in ``constant_modules``."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import fx, nn

# call_function target -> how to write it (format over the args)
FUNCTIONS = {
    nn.functional.silu: "nn.functional.silu({0})",
    nn.functional.gelu: "nn.functional.gelu({0})",
}


def _is_mul(gm: fx.GraphModule, node: fx.Node) -> bool:
    if node.op != "call_module":
        return False
    module = gm.get_submodule(node.target)
    return (
        type(module).__name__ == "OnnxBinaryMathOperation"
        and module.math_op_function is torch.mul
        and module.broadcast is None
    )


def fuse_swish(gm: fx.GraphModule, layers: Mapping[str, str]) -> int:
    """Sigmoid(x) used only by Mul(x, sigmoid) -> silu(x); returns how many were fused.
    The fused node keeps the Keras layer of the Mul in ``meta['layer']``."""
    fused = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or type(gm.get_submodule(node.target)) is not nn.Sigmoid:
            continue
        users = list(node.users)
        x = node.args[0]
        if len(users) != 1 or not _is_mul(gm, users[0]) or set(users[0].args) != {x, node}:
            continue
        mul = users[0]
        with gm.graph.inserting_after(mul):
            silu = gm.graph.call_function(nn.functional.silu, (x,))
        silu.meta["layer"] = layers.get(mul.target, "")
        mul.replace_all_uses_with(silu)
        gm.graph.erase_node(mul)
        gm.graph.erase_node(node)
        fused += 1
    if fused:
        gm.graph.lint()
        gm.recompile()
    return fused


def _scalar(gm: fx.GraphModule, node) -> float | None:
    if not isinstance(node, fx.Node) or node.op != "get_attr":
        return None
    value = _attr(gm, node.target)
    return float(value.reshape(())) if value.numel() == 1 else None


def _binary(gm: fx.GraphModule, node, function) -> tuple[fx.Node, float] | None:
    """(the tensor operand, the scalar) of ``tensor <op> scalar`` in either order."""
    if not isinstance(node, fx.Node) or not _is_op(gm, node, "OnnxBinaryMathOperation"):
        return None
    if gm.get_submodule(node.target).math_op_function is not function or len(node.args) != 2:
        return None
    a, b = node.args
    if (value := _scalar(gm, b)) is not None and isinstance(a, fx.Node):
        return a, value
    if (value := _scalar(gm, a)) is not None and isinstance(b, fx.Node):
        return b, value
    return None


def fuse_gelu(gm: fx.GraphModule, layers: Mapping[str, str]) -> int:
    """Exact GELU as stage 1 writes it, ``(0.5 * x) * (1 + erf(x * 0.70710677))``, ->
    ``nn.functional.gelu(x)``; returns how many were fused."""
    fused = 0
    for erf in list(gm.graph.nodes):
        if not _is_op(gm, erf, "OnnxErf") or len(erf.users) != 1:
            continue
        scaled = _binary(gm, erf.args[0], torch.mul)
        one = _binary(gm, next(iter(erf.users)), torch.add)
        if scaled is None or one is None or not np.isclose(scaled[1], 2**-0.5) or one[1] != 1:
            continue
        x, plus = scaled[0], next(iter(erf.users))
        if len(plus.users) != 1 or not _is_op(
            gm, product := next(iter(plus.users)), "OnnxBinaryMathOperation"
        ):
            continue
        half = next((a for a in product.args if a is not plus), None)
        halved = _binary(gm, half, torch.mul)
        if halved is None or halved[0] is not x or halved[1] != 0.5 or len(half.users) != 1:
            continue
        with gm.graph.inserting_after(product):
            gelu = gm.graph.call_function(nn.functional.gelu, (x,))
        gelu.meta["layer"] = layers.get(product.target, "")
        product.replace_all_uses_with(gelu)
        for dead in (product, half, plus, erf, erf.args[0]):
            gm.graph.erase_node(dead)
        fused += 1
    if fused:
        gm.graph.eliminate_dead_code()
        gm.graph.lint()
        gm.recompile()
    return fused


def _is_op(gm: fx.GraphModule, node: fx.Node, name: str) -> bool:
    return node.op == "call_module" and type(gm.get_submodule(node.target)).__name__ == name


def _attr(gm: fx.GraphModule, target: str) -> torch.Tensor:
    owner, _, name = target.rpartition(".")
    return getattr(gm.get_submodule(owner) if owner else gm, name)
