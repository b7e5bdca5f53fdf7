"""reshape_chains: a Reshape of a Reshape is one Reshape, and a Reshape to the shape its
input already has is none.

tf2onnx writes a ``TimeDistributed`` layer as Reshape (the frames into the batch), the layer,
Reshape (back to [batch, time, ...]); two such layers in a row leave a Reshape to
[batch, T, H, W, C] read only by a Reshape to [batch * T, H, W, C], which also keeps the two
layers' layout Transposes apart, so that ``cancel_transposes`` cannot merge them.

Pattern: ``Reshape(y, b)`` with ``y = Reshape(x, a)`` and ``b`` a constant without a 0 (a 0
copies a dim of ``y``, which ``x`` may not have): it reads ``x`` instead (the first Reshape
goes with ``remove_unused`` if nothing else reads it). ``Reshape(x, b)`` where ``b`` is
``x``'s own static shape, with at most one -1 and that at a dim of ``x`` not known (the
batch): the identity, dropped. Left alone (reason recorded): such an identity that is a
graph output (its name is the model's interface).
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from pipeline.passes._base import GraphPass, Skips, nodes_of
from pipeline.passes._ir import const, static_dims


class ReshapeChains(GraphPass):
    NAME = "reshape_chains"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        modified = False
        for node in nodes_of(model.graph, "Reshape"):
            target = const(node.inputs[1])
            if target is None:
                continue
            modified |= _shortened(node, target)
            if _is_identity(node.inputs[0], target):
                if node.outputs[0].is_graph_output():
                    skips.add(node, "a reshape to its input's own shape is a graph output")
                    continue
                node.outputs[0].replace_all_uses_with(node.inputs[0])
                modified = True
        return modified


def _shortened(node: ir.Node, target: np.ndarray) -> bool:
    """Read past the Reshape before, if ``node``'s target copies none of its dims."""
    before = node.inputs[0].producer()
    if before is None or before.op_type != "Reshape" or np.any(target == 0):
        return False
    node.replace_input_with(0, before.inputs[0])
    return True


def _is_identity(value: ir.Value, target: np.ndarray) -> bool:
    dims = static_dims(value)
    target = [int(t) for t in target.reshape(-1)]
    if dims is None or len(dims) != len(target) or target.count(-1) > 1:
        return False
    # the one -1 stands for what the others leave: the dim there, known or not
    return all(t in (d, -1) for t, d in zip(target, dims, strict=True))
