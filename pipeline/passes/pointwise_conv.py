"""pointwise_conv: a Dense on the channels of channels-first data, which ``sink_transposes``
leaves between two layout Transposes, becomes a 1x1 convolution.

Pattern: ``Transpose(p) -> MatMul(x, W[Cin, Cout] constant) -> Transpose(p^-1)
[-> Add(b[1, Cout, 1, ...] constant)]`` where ``p`` moves axis 1 last: Keras' Dense on an
image or a sequence whose neighbours compute channels-first (ConvNeXt's pointwise layers).

Output form: ``Conv(x, W.T[:, :, 1, ...], b)`` with a kernel of 1 (``nn.Conv2d(Cin, Cout, 1)``
or ``nn.Conv1d``): ``y[n, o, ...] = sum_i W[i, o] x[n, i, ...] + b[o]``, the MatMul's formula
on every position. The bias Add, if any, goes into the Conv.

Left alone: any other MatMul (``tensordot`` and ``matmul_add_to_gemm`` handle Dense layers
on channels-last data and on vectors).
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline.passes._ir import (
    add_initializer,
    bias_add,
    const,
    other_operand,
    perm,
    replace_nodes,
)
from pipeline.passes.channel_sandwich import Sandwich, SandwichPass


class PointwiseConv(SandwichPass):
    NAME = "pointwise_conv"
    OP_TYPE = "MatMul"

    def accepts(self, node: ir.Node, sandwich: Sandwich) -> bool:
        kernel = const(node.inputs[1])
        return kernel is not None and kernel.ndim == 2

    def replace(self, model: ir.Model, node: ir.Node, sandwich: Sandwich) -> None:
        graph, (before, after) = model.graph, sandwich
        kernel = const(node.inputs[1])
        spatial = len(perm(before)) - 2
        weight = kernel.T.reshape(kernel.shape[1], kernel.shape[0], *(1,) * spatial)
        weight_value = add_initializer(graph, f"{node.name}_conv", weight, like=node.inputs[1])
        inputs, nodes = [before.inputs[0], weight_value], [before, node, after]
        if (found := bias_add(after.outputs[0], kernel.shape[1], spatial)) is not None:
            add, bias = found
            other = other_operand(add, after.outputs[0])
            inputs.append(add_initializer(graph, f"{node.name}_bias", bias, other))
            nodes.append(add)
        replace_nodes(graph, nodes, "Conv", inputs, {})
