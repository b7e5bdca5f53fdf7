"""cancel_transposes: drop identity Transposes and merge back-to-back ones.

Pattern: ``Transpose(p)`` with p the identity, or ``Transpose(q)`` fed by ``Transpose(p)``.
Output form: nothing (identity, or p then q composing to the identity), or one
``Transpose(compose(p, q))`` reading what ``Transpose(p)`` read; ``Transpose(p)`` stays only
for its other consumers (a layout change read by a Flatten and by a channels-first branch
back). Nothing to skip: every match is rewritten.
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import perm
from pipeline.passes.layout_math import compose, is_identity


class CancelTransposes(GraphPass):
    NAME = "cancel_transposes"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        graph, modified = model.graph, False
        for node in list(graph):
            if node.op_type != "Transpose" or node.graph is None:
                continue
            combined = perm(node)
            source = node.inputs[0].producer()
            if perm(source) is not None:
                combined = compose(perm(source), combined)
                node.replace_input_with(0, source.inputs[0])
                node.attributes["perm"] = ir.AttrInt64s("perm", list(combined))
                if not source.outputs[0].uses() and not source.outputs[0].is_graph_output():
                    graph.remove(source, safe=True)
                modified = True
            if combined and is_identity(combined) and not node.outputs[0].is_graph_output():
                node.outputs[0].replace_all_uses_with(node.inputs[0])
                graph.remove(node, safe=True)
                modified = True
        return modified
