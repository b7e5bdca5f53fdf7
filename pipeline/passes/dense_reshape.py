"""dense_reshape: a Dense whose output is reshaped into a feature map (a decoder or generator
head) computes that map channels-first directly, and the layout Transpose after it goes.

Pattern: ``MatMul(v, W[K, H*W*C]) [-> Add(b)] [-> unary element-wise ops] ->
Reshape([-1 or N, H, W, C]) -> Transpose([0, 3, 1, 2])``, ``W`` and ``b`` initializers, each
value read only by the next node: Keras' Dense -> Reshape((H, W, C)) before a Conv2D.

Output form: ``MatMul(v, W') [-> Add(b')] [-> the same ops] -> Reshape([-1, C, H, W])`` with
the kernel's columns (and the bias) re-ordered from Keras' (H, W, C) order to PyTorch's
(C, H, W): ``W' = nhwc_rows_to_nchw(W.T, (H, W, C)).T`` (``layout_math``); the inverse of
``flatten_dense``. Element-wise ops act on each value alone, so they do not see the order.

Left alone: anything else around the Reshape (the Transpose stays, and passes.json says why).
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from pipeline import metadata
from pipeline.passes._base import GraphPass, Skips, nodes_of
from pipeline.passes._ir import add_initializer, bias_add, const, only_consumer, perm
from pipeline.passes.layout_math import nhwc_rows_to_nchw
from pipeline.passes.regions import UNARY


def _columns_to_nchw(array: np.ndarray, hwc: tuple[int, int, int]) -> np.ndarray:
    """A kernel's columns (or a bias's entries) from (H, W, C) order to (C, H, W)."""
    return nhwc_rows_to_nchw(array.T, hwc).T


class DenseReshape(GraphPass):
    NAME = "dense_reshape"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        modified = False
        for node in nodes_of(model.graph, "Reshape"):
            modified |= self._fold(model.graph, node)
        return modified

    def _fold(self, graph: ir.Graph, reshape: ir.Node) -> bool:
        after = only_consumer(reshape.outputs[0])
        target = const(reshape.inputs[1])
        if perm(after) != metadata.NHWC_TO_NCHW or target is None or len(target) != 4:
            return False
        _, h, w, c = (int(d) for d in target)
        matmul, add = self._dense_before(reshape.inputs[0], h * w * c)
        if matmul is None:
            return False
        kernel = _columns_to_nchw(const(matmul.inputs[1]), (h, w, c))
        matmul.replace_input_with(1, add_initializer(graph, matmul.inputs[1].name, kernel))
        if add is not None:
            index = 1 if add.inputs[0] is matmul.outputs[0] else 0
            bias = const(add.inputs[index])
            new = _columns_to_nchw(bias.reshape(1, -1), (h, w, c)).reshape(bias.shape)
            add.replace_input_with(index, add_initializer(graph, add.inputs[index].name, new))
        shape = np.array([int(target[0]), c, h, w], np.int64)
        reshape.replace_input_with(1, add_initializer(graph, f"{reshape.name}_nchw", shape))
        reshape.outputs[0].shape = after.outputs[0].shape
        after.outputs[0].replace_all_uses_with(reshape.outputs[0], replace_graph_outputs=True)
        graph.remove(after, safe=True)
        return True

    @staticmethod
    def _dense_before(value: ir.Value, units: int) -> tuple[ir.Node | None, ir.Node | None]:
        """(the MatMul of a rank-2 input, its bias Add or None) behind ``value`` through unary
        ops, every value on the way read once, the kernel a constant [K, units]; else
        (None, None)."""
        node = value.producer() if only_consumer(value) is not None else None
        while node is not None and node.op_type in UNARY:
            before = node.inputs[0]
            node = before.producer() if only_consumer(before) is not None else None
        add = None
        if node is not None and node.op_type == "Add":
            data = [v for v in node.inputs if const(v) is None]
            add, node = node, data[0].producer() if len(data) == 1 else None
        if node is None or node.op_type != "MatMul" or only_consumer(node.outputs[0]) is None:
            return None, None
        kernel, rank = const(node.inputs[1]), node.inputs[0].shape
        if kernel is None or kernel.ndim != 2 or kernel.shape[1] != units:
            return None, None
        if rank is None or len(rank) != 2:
            return None, None
        if add is not None and bias_add(node.outputs[0], units) is None:
            return None, None
        return node, add
