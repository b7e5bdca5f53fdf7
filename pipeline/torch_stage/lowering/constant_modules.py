"""onnx2torch wrappers applied to a constant weight that are a torch.nn module, made into it:
a Gather from a constant table (Keras Embedding) -> ``nn.Embedding``, a MatMul by a constant
kernel with the bias Add after it (a Dense on a sequence) -> ``nn.Linear``, a PRelu with one
alpha per channel -> ``nn.PReLU``. The weight becomes the module's trainable parameter. Same
numbers (the check runs on the written module)."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from onnx2torch.node_converters.activations import OnnxPReLU
from onnx2torch.node_converters.binary_math_operations import OnnxBinaryMathOperation
from onnx2torch.node_converters.gather import OnnxGather
from onnx2torch.node_converters.matmul import OnnxMatMul
from torch import fx, nn

from pipeline.torch_stage.lowering.graph import constant, finish, is_a, module_of, replace


def _binary_by_constant(gm: fx.GraphModule, cls: type) -> Iterator[tuple[fx.Node, torch.Tensor]]:
    """Each ``cls`` wrapper called on (data, a constant), with that constant."""
    for node in list(gm.graph.nodes):
        if is_a(gm, node, cls) and len(node.args) == 2:
            value = constant(gm, node.args[1])
            if value is not None:
                yield node, value


def prelus(gm: fx.GraphModule) -> int:
    """OnnxPReLU(x, alpha) with one constant alpha per channel (dim 1) -> nn.PReLU(C)."""
    replaced = 0
    for node, alpha in _binary_by_constant(gm, OnnxPReLU):
        channels = alpha.numel()
        after_dense = alpha.dim() == 1  # [C] against [N, C]
        after_conv = alpha.dim() >= 3 and tuple(alpha.shape[-3:]) == (channels, 1, 1)
        if channels < 2 or not (after_dense or after_conv):  # [C, 1, 1] against [N, C, H, W]
            continue
        module = nn.PReLU(channels)
        with torch.no_grad():
            module.weight.copy_(alpha.reshape(-1))
        replace(gm, node, module, (node.args[0],))
        replaced += 1
    return finish(gm, replaced)


def embeddings(gm: fx.GraphModule) -> int:
    """OnnxGather(table, ids) on axis 0 of a constant 2-D float table -> nn.Embedding(ids)."""
    replaced = 0
    for node in list(gm.graph.nodes):
        if not is_a(gm, node, OnnxGather) or module_of(gm, node)._axis != 0:
            continue
        weight = constant(gm, node.args[0])
        if weight is None or weight.dim() != 2 or not weight.is_floating_point():
            continue
        embedding = nn.Embedding.from_pretrained(weight.clone(), freeze=False)
        replace(gm, node, embedding, (node.args[1],))
        replaced += 1
    return finish(gm, replaced)


def _bias_add(gm: fx.GraphModule, node: fx.Node, units: int):
    """(the Add node, its bias) when ``node``'s only user adds a constant [units], else None."""
    users = list(node.users)
    if len(users) != 1 or not is_a(gm, users[0], OnnxBinaryMathOperation):
        return None
    other = next((a for a in users[0].args if a is not node), None)
    value = constant(gm, other)
    if module_of(gm, users[0]).math_op_function is not torch.add or value is None:
        return None
    return (users[0], value) if value.shape == (units,) else None


def linears(gm: fx.GraphModule) -> int:
    """OnnxMatMul(x, W[K, N] constant) [-> Add(b[N] constant)] -> nn.Linear(K, N)(x)."""
    replaced = 0
    for node, weight in _binary_by_constant(gm, OnnxMatMul):
        if weight.dim() != 2 or not weight.is_floating_point():
            continue
        add = _bias_add(gm, node, weight.shape[1])
        linear = nn.Linear(weight.shape[0], weight.shape[1], bias=add is not None)
        with torch.no_grad():
            linear.weight.copy_(weight.T)
            if add is not None:
                linear.bias.copy_(add[1])
        replace(gm, node, linear, (node.args[0],))
        if add is not None:
            add[0].replace_all_uses_with(node)
            gm.graph.erase_node(add[0])
        replaced += 1
    return finish(gm, replaced)
