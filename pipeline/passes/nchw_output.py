"""nchw_output: an output that is the NCHW -> NHWC Transpose of a value becomes that value.

Pattern: graph output ``y = Transpose(v, perm=[0,2,3,1])`` (a fully convolutional Keras
model returns NHWC). Output form: ``v`` is the output, under the name ``y``, and the
interface change is declared in ``metadata_props`` as ``pipeline.output_perm.y = 0,2,3,1``:
``np.transpose(output, (0, 2, 3, 1))`` is what Keras returned. Left alone: any other output.
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline import metadata
from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import perm


class NchwOutput(GraphPass):
    NAME = "nchw_output"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        graph, modified = model.graph, False
        for index, output in enumerate(list(graph.outputs)):
            node = output.producer()
            if perm(node) != metadata.NCHW_TO_NHWC:
                continue
            source = node.inputs[0]
            if source.is_graph_input() or source.is_graph_output() or output.consumers():
                continue
            name = output.name
            graph.outputs[index] = source
            graph.remove(node, safe=True)
            source.name = name
            model.metadata_props[metadata.output_perm_key(name)] = metadata.format_perm(
                metadata.NCHW_TO_NHWC
            )
            modified = True
        return modified
