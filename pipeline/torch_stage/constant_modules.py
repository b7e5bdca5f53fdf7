"""onnx2torch wrappers applied to a constant weight that are a torch.nn module, made into it:
a Gather from a constant table (Keras Embedding) -> ``nn.Embedding``, a MatMul by a constant
kernel with the bias Add after it (a Dense on a sequence) -> ``nn.Linear``, a PRelu with one
alpha per channel -> ``nn.PReLU``. The weight becomes the module's trainable parameter. Same
numbers (the check runs on the written module)."""

from __future__ import annotations

import torch
from torch import fx, nn

from pipeline.torch_stage.peephole import _attr, _is_op


def _constant(gm: fx.GraphModule, arg) -> torch.Tensor | None:
    """The tensor behind a constant (get_attr) argument, else None."""
    if isinstance(arg, fx.Node) and arg.op == "get_attr":
        return _attr(gm, arg.target)
    return None


def _become(gm: fx.GraphModule, node: fx.Node, module: nn.Module, data: fx.Node) -> None:
    """``node`` now calls ``module`` on ``data`` alone; constants no one reads any more go."""
    old = node.args
    gm.delete_submodule(node.target)
    gm.add_submodule(node.target, module)
    node.args = (data,)
    for arg in old:
        if isinstance(arg, fx.Node) and arg.op == "get_attr" and not arg.users:
            gm.graph.erase_node(arg)


def _finish(gm: fx.GraphModule, count: int) -> int:
    if count:
        gm.graph.eliminate_dead_code()
        gm.graph.lint()
        gm.recompile()
    return count


def prelus(gm: fx.GraphModule) -> int:
    """OnnxPReLU(x, alpha) with one constant alpha per channel (dim 1) -> nn.PReLU(C)."""
    replaced = 0
    for node in list(gm.graph.nodes):
        if not _is_op(gm, node, "OnnxPReLU") or len(node.args) != 2:
            continue
        alpha = _constant(gm, node.args[1])
        if alpha is None:
            continue
        channels = alpha.numel()
        after_dense = alpha.dim() == 1  # [C] against [N, C]
        after_conv = alpha.dim() >= 3 and tuple(alpha.shape[-3:]) == (channels, 1, 1)
        if channels < 2 or not (after_dense or after_conv):  # [C, 1, 1] against [N, C, H, W]
            continue
        module = nn.PReLU(channels)
        with torch.no_grad():
            module.weight.copy_(alpha.reshape(-1))
        _become(gm, node, module, node.args[0])
        replaced += 1
    return _finish(gm, replaced)


def embeddings(gm: fx.GraphModule) -> int:
    """OnnxGather(table, ids) on axis 0 of a constant 2-D float table -> nn.Embedding(ids)."""
    replaced = 0
    for node in list(gm.graph.nodes):
        if not _is_op(gm, node, "OnnxGather") or gm.get_submodule(node.target)._axis != 0:
            continue
        weight = _constant(gm, node.args[0])
        if weight is None or weight.dim() != 2 or not weight.is_floating_point():
            continue
        embedding = nn.Embedding.from_pretrained(weight.clone(), freeze=False)
        _become(gm, node, embedding, node.args[1])
        replaced += 1
    return _finish(gm, replaced)


def linears(gm: fx.GraphModule) -> int:
    """OnnxMatMul(x, W[K, N] constant) [-> Add(b[N] constant)] -> nn.Linear(K, N)(x)."""
    replaced = 0
    for node in list(gm.graph.nodes):
        if not _is_op(gm, node, "OnnxMatMul") or len(node.args) != 2:
            continue
        weight = _constant(gm, node.args[1])
        if weight is None or weight.dim() != 2 or not weight.is_floating_point():
            continue
        users = list(node.users)
        bias, add = None, None
        if len(users) == 1 and _is_op(gm, users[0], "OnnxBinaryMathOperation"):
            module = gm.get_submodule(users[0].target)
            other = next((a for a in users[0].args if a is not node), None)
            value = _constant(gm, other)
            if module.math_op_function is torch.add and value is not None:
                if value.shape == (weight.shape[1],):
                    bias, add = value, users[0]
        linear = nn.Linear(weight.shape[0], weight.shape[1], bias=bias is not None)
        with torch.no_grad():
            linear.weight.copy_(weight.T)
            if bias is not None:
                linear.bias.copy_(bias)
        _become(gm, node, linear, node.args[0])
        if add is not None:
            add.replace_all_uses_with(node)
            gm.graph.erase_node(add)
        replaced += 1
    return _finish(gm, replaced)
