"""cancel_transposes: drop identity Transposes and merge back-to-back ones.

Pattern: ``Transpose(p)`` with p the identity, or ``Transpose(q)`` fed only by
``Transpose(p)``. Output form: nothing (identity, or p then q composing to the identity),
or one ``Transpose(compose(p, q))``. Nothing to skip: every match is rewritten.
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import only_consumer, perm
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
            if perm(source) is not None and only_consumer(source.outputs[0]) is node:
                combined = compose(perm(source), combined)
                node.replace_input_with(0, source.inputs[0])
                node.attributes["perm"] = ir.AttrInt64s("perm", list(combined))
                graph.remove(source, safe=True)
                modified = True
            if combined and is_identity(combined) and not node.outputs[0].is_graph_output():
                node.outputs[0].replace_all_uses_with(node.inputs[0])
                graph.remove(node, safe=True)
                modified = True
        return modified
