"""nchw_input: an NHWC graph input that is only ever transposed to NCHW becomes NCHW.

Pattern: graph input ``x`` declared ``NHWC`` by stage 1 (``keras.input_layout.x``), every
consumer of which is a layout change to NCHW: ``Transpose(perm=[0,3,1,2])``, or the
``Reshape`` tf2onnx writes instead when C == 1 (moving a size-1 axis is a reshape).

Output form: ``x`` has shape [N, C, H, W], the layout nodes are gone, and the interface
change is declared in ``metadata_props`` as ``pipeline.input_perm.x = 0,3,1,2`` so every
check feeds ``np.transpose(keras_input, (0, 3, 1, 2))``.

Left alone (reason recorded): an input with a consumer that needs NHWC.
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline import layout, provenance
from pipeline.passes._base import GraphPass, const


def _to_nchw_node(node: ir.Node, nhwc: tuple) -> bool:
    """Is ``node`` a pure NHWC -> NCHW layout change of its first input?"""
    if node.op_type == "Transpose":
        return tuple(node.attributes.get_ints("perm", ())) == layout.NHWC_TO_NCHW
    if node.op_type == "Reshape" and (target := const(node.inputs[1])) is not None:
        n, h, w, c = nhwc
        if c != 1 or len(target) != 4 or not all(isinstance(d, int) for d in (h, w)):
            return False
        return list(target[1:]) == [1, h, w] and (target[0] in (-1, 0) or target[0] == n)
    return False


class NchwInput(GraphPass):
    NAME = "nchw_input"

    def rewrite(self, model: ir.Model) -> bool:
        modified = False
        for value in model.graph.inputs:
            key = provenance.INPUT_LAYOUT_PREFIX + value.name
            if model.metadata_props.get(key) != "NHWC" or value.shape is None:
                continue
            consumers = value.consumers()
            nhwc = tuple(value.shape)
            bad = [n for n in consumers if not _to_nchw_node(n, nhwc)]
            if not consumers or value.is_graph_output():
                continue
            if bad:
                self.skip(
                    bad[0], f"graph input '{value.name}' is used in NHWC here; the input stays NHWC"
                )
                continue
            for node in consumers:
                node.outputs[0].replace_all_uses_with(value, replace_graph_outputs=True)
                model.graph.remove(node, safe=True)
            n, h, w, c = nhwc
            value.shape = ir.Shape([n, c, h, w])
            model.metadata_props[layout.perm_key(value.name)] = layout.format_perm(
                layout.NHWC_TO_NCHW
            )
            modified = True
        return modified
