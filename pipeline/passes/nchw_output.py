"""nchw_output: an output that is the channels-first -> channels-last Transpose of a value
becomes that value.

Pattern: graph output ``y = Transpose(v, perm=[0,2,3,1])`` (a fully convolutional Keras
model returns NHWC; also NCW -> NWC ``[0,2,1]`` after a Conv1D and NCDHW -> NDHWC
``[0,2,3,4,1]`` after a Conv3D). Output form: ``v`` is the output, under the name ``y``, and
the interface change is declared in ``metadata_props`` as ``pipeline.output_perm.y = 0,2,3,1``:
``np.transpose(output, (0, 2, 3, 1))`` is what Keras returned. Left alone: any other output,
and a Transpose that is the Keras model's own ``Permute`` (the user asked for that layout).
An output declared channels-first already (``nchw_output_again``, after ``sink_transposes``
made the value before it channels-last again: a LayerNorm over a sequence's steps) loses its
declaration when the second Transpose undoes the first; any other composition stays.
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
            key = metadata.output_perm_key(output.name)
            declared = metadata.output_perms(model.metadata_props).get(output.name)
            if declared is not None:  # already channels-first once (nchw_output_again)
                order = tuple(order[axis] for axis in declared)
                if order != tuple(range(len(order))):
                    continue  # another layout than Keras' or channels-first: leave it
            name = output.name
            graph.outputs[index] = source
            graph.remove(node, safe=True)
            source.name = name
            if declared is None:
                model.metadata_props[key] = metadata.format_perm(order)
            else:  # the two layout changes cancel: the output is Keras' layout again
                del model.metadata_props[key]
            modified = True
        return modified
