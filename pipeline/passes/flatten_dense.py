"""flatten_dense: fold the NCHW -> NHWC Transpose before a Flatten into the next Dense kernel.

Pattern: ``Transpose(x, perm=[0,2,3,1]) -> Flatten(axis=1) -> MatMul(., W)`` (or Gemm), with
``x`` of static shape [N, C, H, W] and ``W`` an initializer of H*W*C rows.

Output form: ``Flatten(x) -> MatMul(., W')`` with ``W' = nhwc_rows_to_nchw(W, (H, W, C))``:
the rows re-ordered from Keras' (H, W, C) flatten order to PyTorch's (C, H, W) (see
``layout_math``). This is the classic silent bug of hand conversion, done by formula.

Left alone (reason recorded): the NHWC tensor has another consumer; a Flatten consumer that
is not a Dense with an initializer kernel; a kernel shared with another node; unknown C, H, W.
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline import metadata
from pipeline.passes._base import GraphPass, Skips, where
from pipeline.passes._ir import add_initializer, const, perm, static_dims
from pipeline.passes.layout_math import nhwc_rows_to_nchw


class FlattenDense(GraphPass):
    NAME = "flatten_dense"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        modified = False
        for node in list(model.graph):
            if perm(node) == metadata.NCHW_TO_NHWC:
                modified |= self._fold(model.graph, node, skips)
        return modified

    def _fold(self, graph: ir.Graph, transpose: ir.Node, skips: Skips) -> bool:
        nhwc = transpose.outputs[0]
        users = nhwc.consumers()
        flattens = [u for u in users if u.op_type == "Flatten"]
        if not flattens:
            return False
        if len(flattens) != len(users) or nhwc.is_graph_output():
            other = next(u for u in users if u.op_type != "Flatten")
            skips.add(transpose, f"its NHWC output also feeds {where(other)}")
            return False
        dims = static_dims(transpose.inputs[0])
        if dims is None or len(dims) != 4 or None in dims[1:]:
            skips.add(transpose, "needs a static [N, C, H, W] input shape")
            return False
        _, c, h, w = dims
        plan = []
        for flatten in flattens:
            if flatten.attributes.get_int("axis", 1) != 1:
                skips.add(flatten, "only Flatten(axis=1) is folded")
                return False
            for dense in flatten.outputs[0].consumers():
                reason = self._dense_problem(flatten.outputs[0], dense, h * w * c)
                if reason:
                    skips.add(dense, reason)
                    return False
                plan.append(dense)
        for dense in plan:
            transposed = dense.op_type == "Gemm" and dense.attributes.get_int("transB", 0)
            kernel = const(dense.inputs[1])
            kernel = kernel.T if transposed else kernel
            new = nhwc_rows_to_nchw(kernel, (h, w, c))
            new = new.T if transposed else new
            dense.replace_input_with(1, add_initializer(graph, dense.inputs[1].name, new))
        for flatten in flattens:
            flatten.replace_input_with(0, transpose.inputs[0])
        graph.remove(transpose, safe=True)
        return True

    @staticmethod
    def _dense_problem(flat: ir.Value, dense: ir.Node, rows: int) -> str | None:
        if dense.op_type not in ("MatMul", "Gemm") or dense.inputs[0] is not flat:
            return "the Flatten output feeds a node that is not a Dense kernel product"
        if dense.op_type == "Gemm" and dense.attributes.get_int("transA", 0):
            return "Gemm with transA=1 is not folded"
        kernel = dense.inputs[1]
        array = const(kernel)
        if array is None:
            return (
                "expected a rank-2 initializer weight, found a computed value; "
                "export with a fixed Flatten size"
            )
        row_axis = 1 if dense.op_type == "Gemm" and dense.attributes.get_int("transB", 0) else 0
        if array.ndim != 2 or array.shape[row_axis] != rows:
            return f"weight of shape {list(array.shape)} does not have H*W*C = {rows} rows"
        if len(kernel.uses()) > 1:
            return "its weight is shared with another node"
        return None
