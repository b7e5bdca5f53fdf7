"""matmul_add_to_gemm: a Dense layer's ``MatMul(x, W) [+ Add(b)]`` becomes one Gemm.

Pattern: ``MatMul(x, W)`` with ``x`` of rank 2 and ``W`` a rank-2 initializer [in, out],
optionally followed (as its only consumer) by ``Add`` with an initializer bias of shape
[out] or [1, out].

Output form: ``Gemm(x, W.T, b, transB=1)``: the weight stored [out, in] as ``nn.Linear``
keeps it, the bias 1-D, so onnx2torch makes an ``nn.Linear`` whose weight and bias are
trainable parameters (a MatMul with a constant would become a buffer).

Left alone (reason recorded): ``x`` not of rank 2 (Dense on a sequence), a computed weight.
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline.passes._base import GraphPass, Skips, nodes_of
from pipeline.passes._ir import add_initializer, bias_add, const, replace_nodes


class MatMulAddToGemm(GraphPass):
    NAME = "matmul_add_to_gemm"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        modified = False
        for node in nodes_of(model.graph, "MatMul"):
            modified |= self._fuse(model.graph, node, skips)
        return modified

    def _fuse(self, graph: ir.Graph, matmul: ir.Node, skips: Skips) -> bool:
        x, w = matmul.inputs
        weight = const(w)
        if weight is None or weight.ndim != 2:
            skips.add(matmul, "the weight is not a rank-2 initializer; left as MatMul")
            return False
        if x.shape is None or len(x.shape) != 2:
            skips.add(
                matmul,
                f"input of rank {len(x.shape) if x.shape else '?'}; Gemm needs "
                "rank 2, left as MatMul",
            )
            return False
        inputs, nodes = [x, add_initializer(graph, f"{w.name}_t", weight.T)], [matmul]
        if (found := bias_add(matmul.outputs[0], weight.shape[1])) is not None:
            inputs.append(add_initializer(graph, f"{found[0].name}_bias", found[1]))
            nodes.append(found[0])
        replace_nodes(graph, nodes, "Gemm", inputs, {"transB": 1})
        return True
