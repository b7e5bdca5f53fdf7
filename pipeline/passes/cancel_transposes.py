"""cancel_transposes: drop identity Transposes and merge back-to-back ones.

Pattern: ``Transpose(p)`` with p the identity, or ``Transpose(q)`` fed only by
``Transpose(p)``. Output form: nothing (identity, or p then q composing to the identity),
or one ``Transpose(compose(p, q))``. Nothing to skip: every match is rewritten.
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline.passes._base import GraphPass, only_consumer
from pipeline.passes.layout_math import compose, is_identity


class CancelTransposes(GraphPass):
    NAME = "cancel_transposes"

    def rewrite(self, model: ir.Model) -> bool:
        graph, modified = model.graph, False
        for node in list(graph):
            if node.op_type != "Transpose" or node.graph is None:
                continue
            perm = tuple(node.attributes.get_ints("perm", ()))
            source = node.inputs[0].producer()
            if (
                source is not None
                and source.op_type == "Transpose"
                and only_consumer(source.outputs[0]) is node
            ):
                perm = compose(tuple(source.attributes.get_ints("perm", ())), perm)
                node.replace_input_with(0, source.inputs[0])
                node.attributes["perm"] = ir.AttrInt64s("perm", list(perm))
                graph.remove(source, safe=True)
                modified = True
            if perm and is_identity(perm) and not node.outputs[0].is_graph_output():
                node.outputs[0].replace_all_uses_with(node.inputs[0])
                graph.remove(node, safe=True)
                modified = True
        return modified
