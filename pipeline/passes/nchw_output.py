"""nchw_output: an output that is the channels-first -> channels-last Transpose of a value
becomes that value.

Pattern: graph output ``y = Transpose(v, perm=[0,2,3,1])`` (a fully convolutional Keras
model returns NHWC; also NCW -> NWC ``[0,2,1]`` after a Conv1D and NCDHW -> NDHWC
``[0,2,3,4,1]`` after a Conv3D). Output form: ``v`` is the output, under the name ``y``, and
the interface change is declared in ``metadata_props`` as ``pipeline.output_perm.y = 0,2,3,1``:
``np.transpose(output, (0, 2, 3, 1))`` is what Keras returned. Left alone: any other output,
and a Transpose that is the Keras model's own ``Permute`` (the user asked for that layout).
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
            order = perm(node)
            if order is None or order != (0, *range(2, len(order)), 1) or len(order) < 3:
                continue
            layer = metadata.layer_of(node.doc_string or "")
            if layer is not None and layer[1] == "Permute":
                continue
            source = node.inputs[0]
            if source.is_graph_input() or source.is_graph_output() or output.consumers():
                continue
            name = output.name
            graph.outputs[index] = source
            graph.remove(node, safe=True)
            source.name = name
            model.metadata_props[metadata.output_perm_key(name)] = metadata.format_perm(order)
            modified = True
        return modified
