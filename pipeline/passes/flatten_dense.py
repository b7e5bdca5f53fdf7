"""flatten_dense: fold the NCHW -> NHWC Transpose before a Flatten into the next Dense kernel.

Pattern: ``Transpose(x, perm=[0,2,3,1]) -> Flatten(axis=1) [-> Dropout] -> MatMul(., W)`` (or
Gemm; any Dropouts between are one element at a time, so the rows they meet stay the same), with
``x`` of static shape [N, C, H, W] and ``W`` an initializer of H*W*C rows; or the Flatten's
output joined with other vectors by a ``Concat(axis=1)`` before the Dense (an image branch
and a feature vector), ``W`` then having the Concat's width of rows.

Output form: ``Flatten(x) -> MatMul(., W')`` with ``W' = nhwc_rows_to_nchw(W, (H, W, C))``:
the rows re-ordered from Keras' (H, W, C) flatten order to PyTorch's (C, H, W) (see
``layout_math``). This is the classic silent bug of hand conversion, done by formula. Behind
a Concat only the block of rows the flattened values meet is re-ordered (rows ``offset`` to
``offset + H*W*C``, ``offset`` the widths of the Concat's inputs before it).

The same for a sequence (``[0,2,1]``, [N, C, W]: a Conv1D before the Flatten) and a volume
(``[0,2,3,4,1]``, [N, C, D, H, W]), the rows re-ordered from (W, C) and (D, H, W, C). The
flattened values may reach the Dense through ops that keep each row of them whole as the
last axis (a TimeDistributed(Flatten)'s reshape back to [N, T, F], an UpSampling1D over
time: ``flatten_readers``), and the layer reading them may be a recurrent one (stage 1's
LSTM/GRU/SimpleRNN function): the columns of its input weights ``W`` are re-ordered.

Left alone (reason recorded): the NHWC tensor has another consumer; a Flatten consumer that
is not a Dense with an initializer kernel; a kernel shared with a node not folded the same way
(a shared Dense called on images of one [C, H, W] is folded at each call); unknown C, H, W.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from pipeline.passes._base import GraphPass, Skips, where
from pipeline.passes._ir import add_initializer, const, perm, static_dims
from pipeline.passes.flatten_readers import fold_recurrent, is_recurrent, readers, recurrent_problem
from pipeline.passes.layout_math import channels_last, nhwc_rows_to_nchw


class FlattenDense(GraphPass):
    NAME = "flatten_dense"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        modified = False
        for node in list(model.graph):
            if (p := perm(node)) is not None and len(p) >= 3 and p == channels_last(len(p)):
                modified |= self._fold(model.graph, node, skips)
        return modified

    def _fold(self, graph: ir.Graph, transpose: ir.Node, skips: Skips) -> bool:
        nhwc = transpose.outputs[0]
        for dead in [u for u in nhwc.consumers() if not _read(u)]:  # a rewrite's leftover
            graph.remove(dead, safe=True)
        users = nhwc.consumers()
        flattens = [u for u in users if u.op_type == "Flatten"]
        if not flattens:
            return False
        if nhwc.is_graph_output():  # found by the fuzzer (seed 117): no other user to name
            skips.add(transpose, "its NHWC output is also a model output")
            return False
        if len(flattens) != len(users):
            other = next(u for u in users if u.op_type != "Flatten")
            skips.add(transpose, f"its NHWC output also feeds {where(other)}")
            return False
        dims = static_dims(transpose.inputs[0])
        if dims is None or len(dims) != len(perm(transpose)) or None in dims[1:]:
            skips.add(transpose, "needs a static [N, C, H, W] input shape")
            return False
        hwc = (*dims[2:], dims[1])  # the channels-last shape Keras flattens
        size = int(np.prod(hwc))
        plan = []
        for flatten in flattens:
            if flatten.attributes.get_int("axis", 1) != 1:
                skips.add(flatten, "only Flatten(axis=1) is folded")
                return False
            found = self._denses(flatten.outputs[0], size)
            if isinstance(found, tuple):
                skips.add(*found)
                return False
            plan += found
        for dense, offset in plan:
            if is_recurrent(dense):
                fold_recurrent(graph, dense, hwc)
                continue
            transposed = dense.op_type == "Gemm" and dense.attributes.get_int("transB", 0)
            kernel = const(dense.inputs[1])
            kernel = (kernel.T if transposed else kernel).copy()
            rows = slice(offset, offset + size)
            kernel[rows] = nhwc_rows_to_nchw(kernel[rows], hwc)
            new = kernel.T if transposed else kernel
            dense.replace_input_with(1, add_initializer(graph, dense.inputs[1].name, new))
        for flatten in flattens:
            flatten.replace_input_with(0, transpose.inputs[0])
        graph.remove(transpose, safe=True)
        return True

    def _denses(self, flat: ir.Value, size: int) -> list[tuple[ir.Node, int]] | tuple:
        """(Dense, the first kernel row the flattened values meet) for every Dense they
        reach, directly or as one block of a Concat on axis 1 (an image branch joined with a
        feature vector), through Dropouts on the way; or (node, why not)."""
        found_readers = readers(flat, size)
        if isinstance(found_readers, tuple):
            return found_readers
        plan = []
        for user, read in found_readers:
            if user.op_type != "Concat":
                reason = (
                    recurrent_problem(read, user, size)
                    if is_recurrent(user)
                    else self._dense_problem(read, user, size)
                )
                if reason:
                    return user, reason
                plan.append((user, 0))
                continue
            widths = [static_dims(v) for v in user.inputs]
            if user.attributes.get_int("axis", 1) not in (1, -1):
                return user, "the flattened values are joined on an axis other than 1"
            if any(d is None or len(d) != 2 or d[1] is None for d in widths):
                return user, "a Concat of inputs without a static [N, k] shape"
            if list(user.inputs).count(read) != 1:
                return user, "the flattened values enter the Concat more than once"
            offset = sum(d[1] for d in widths[: list(user.inputs).index(read)])
            joined = readers(user.outputs[0], sum(d[1] for d in widths))
            if isinstance(joined, tuple):
                return joined
            for dense, value in joined:
                reason = self._dense_problem(value, dense, sum(d[1] for d in widths))
                if reason:
                    return dense, reason
                plan.append((dense, offset))
        return plan

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
        if len(kernel.uses()) > 1 and not FlattenDense._twins(kernel, dense, flat):
            return "its weight is shared with a node this pass does not fold the same way"
        return None

    @staticmethod
    def _twins(kernel: ir.Value, dense: ir.Node, flat: ir.Value) -> bool:
        """Every node using ``kernel`` (a shared Keras Dense, called on several images) is a
        Dense on the flattened NHWC values of an image of the same [C, H, W], as ``dense``
        is: each is folded in turn, to equal kernels (stage 3 shares the module again)."""

        def image(user: ir.Node) -> tuple | None:
            flatten = user.inputs[0].producer() if user.inputs[0] is not None else None
            if flatten is None or flatten.op_type != "Flatten" or user.op_type != dense.op_type:
                return None
            transpose = flatten.inputs[0].producer()
            p = perm(transpose)
            if p is None or len(p) < 3 or p != channels_last(len(p)):
                return None
            dims = static_dims(transpose.inputs[0])
            return None if dims is None else tuple(dims[1:])

        mine = image(dense) if flat.producer() is not None else None
        return mine is not None and all(image(u) == mine for u, _ in kernel.uses())


def _read(node: ir.Node) -> bool:
    """Is any output of ``node`` read (or a model output)?"""
    return any(o.uses() or o.is_graph_output() for o in node.outputs)
