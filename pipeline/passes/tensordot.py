"""tensordot: a Dense on a sequence (rank >= 3, ``TimeDistributed(Dense)``) becomes one MatMul.

Pattern: TensorFlow's ``Tensordot`` as tf2onnx writes it::

    Reshape(x[..., K], [prod(leading), K]) -> MatMul(W[K, N]) -> Reshape([*leading, N])

with the second target shape computed from ``Shape(x)`` (evaluated symbolically, see
``symbolic``); the merged rows may feed several such MatMuls (two Dense on one input). The
first Reshape needs no proof: x ends in K and the MatMul needs rows of K, so the merge keeps
each row of x whole and in order, and the split puts them back.
Output form: ``MatMul(x, W)``: ONNX MatMul (like ``torch.matmul`` and ``nn.Linear``) acts on
the last axis of every leading index alike, so merging and splitting the leading axes around it
changes nothing. Left alone (reason recorded): target shapes that cannot be proven to be those.
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import const, only_consumer, take_over
from pipeline.passes.symbolic import dims, evaluate_graph


class Tensordot(GraphPass):
    NAME = "tensordot"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        graph = model.graph
        known = evaluate_graph(graph)
        modified = False
        for matmul in list(graph):
            if matmul.op_type != "MatMul" or (weight := const(matmul.inputs[1])) is None:
                continue
            merge = matmul.inputs[0].producer()
            split = only_consumer(matmul.outputs[0])
            if merge is None or merge.op_type != "Reshape" or split is None:
                continue
            if split.op_type != "Reshape" or not all(
                c.op_type == "MatMul" for c in merge.outputs[0].consumers()
            ):
                continue  # the merged rows may feed several Dense (SegFormer's key and value)
            data = dims(merge.inputs[0])
            if data is None or len(data) < 3 or weight.ndim != 2:
                continue
            target = known.get(split.inputs[1])
            expected = (*data[:-1], int(weight.shape[1]))
            if data[-1] != weight.shape[0] or target is None or target.items != expected:
                skips.add(matmul, "a Reshape/MatMul/Reshape whose shapes are not a Tensordot's")
                continue
            matmul.replace_input_with(0, merge.inputs[0])
            take_over(split.outputs[0], matmul.outputs[0])
            graph.remove(split, safe=True)
            if not merge.outputs[0].uses():
                graph.remove(merge, safe=True)
            modified = True
        return modified
