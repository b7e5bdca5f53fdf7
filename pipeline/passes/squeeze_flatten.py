"""squeeze_to_flatten: a Squeeze that drops the trailing 1x1 of a pooled map is a Flatten.

Pattern: ``Squeeze(x, axes)`` with ``x`` of shape [N, C, 1, ..., 1] and ``axes`` exactly the
trailing size-1 axes (tf2onnx writes Keras' GlobalAveragePooling2D as GlobalAveragePool +
Squeeze). Output form: ``Flatten(x, axis=1)``, which onnx2torch makes ``nn.Flatten`` (its
Squeeze with axes as an input is a wrapper class). Left alone: any other Squeeze.
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import const, replace_nodes, static_dims


class SqueezeToFlatten(GraphPass):
    NAME = "squeeze_to_flatten"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        graph, modified = model.graph, False
        for node in list(graph):
            if node.op_type != "Squeeze" or len(node.inputs) < 2:
                continue
            dims, axes = static_dims(node.inputs[0]), const(node.inputs[1])
            if dims is None or axes is None or len(dims) < 3:
                continue
            rank = len(dims)
            trailing = set(range(2, rank))
            if {int(a) % rank for a in axes.reshape(-1)} != trailing:
                continue
            if any(dims[a] != 1 for a in trailing):
                skips.add(node, f"squeezed axes of shape {list(dims)} are not all of size 1")
                continue
            replace_nodes(graph, [node], "Flatten", [node.inputs[0]], {"axis": 1})
            modified = True
        return modified
