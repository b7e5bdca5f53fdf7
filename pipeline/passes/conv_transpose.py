"""split_asymmetric_conv_transpose: TensorFlow's "same" transposed convolution crops its
full output unevenly; ``nn.ConvTranspose2d`` only crops evenly.

Pattern: ``ConvTranspose`` (2-D) whose ``pads`` differ between begin and end of an axis
(Keras Conv2DTranspose with ``padding="same"`` and an odd kernel: [0, 0, 1, 1]).
Output form: ``ConvTranspose`` with the symmetric part of the padding, then a ``Slice``
that crops the rest: ``y[:, :, b-m : F-(e-m), ...]`` with ``m = min(b, e)``. Same numbers;
onnx2torch then makes an ``nn.ConvTranspose2d`` and the emitter an indexing expression.
Left alone: symmetric padding, ``auto_pad`` other than NOTSET (reason recorded).
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import add_initializer

OPEN_END = np.iinfo(np.int64).max


class SplitAsymmetricConvTranspose(GraphPass):
    NAME = "split_asymmetric_conv_transpose"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        graph, modified = model.graph, False
        for node in list(graph):
            if node.op_type != "ConvTranspose":
                continue
            pads = list(node.attributes.get_ints("pads", ()))
            if len(pads) != 4 or pads[:2] == pads[2:]:
                continue
            if node.attributes.get_string("auto_pad", "NOTSET") != "NOTSET":
                skips.add(node, "auto_pad with explicit pads is ambiguous; left as is")
                continue
            begins, ends = pads[:2], pads[2:]
            symmetric = [min(b, e) for b, e in zip(begins, ends, strict=True)]
            node.attributes["pads"] = ir.AttrInt64s("pads", symmetric + symmetric)
            starts = [b - m for b, m in zip(begins, symmetric, strict=True)]
            stops = [-(e - m) if e > m else OPEN_END for e, m in zip(ends, symmetric, strict=True)]
            out = node.outputs[0]
            crop = ir.node(
                "Slice",
                [
                    None,
                    add_initializer(graph, f"{node.name}_crop_starts", np.array(starts, np.int64)),
                    add_initializer(graph, f"{node.name}_crop_ends", np.array(stops, np.int64)),
                    add_initializer(graph, f"{node.name}_crop_axes", np.array([2, 3], np.int64)),
                ],
                name=f"{node.name}_crop",
                doc_string=node.doc_string,
            )
            graph.insert_after(node, crop)
            out.replace_all_uses_with(crop.outputs[0], replace_graph_outputs=True)
            crop.replace_input_with(0, out)
            crop.outputs[0].shape, crop.outputs[0].type = out.shape, out.type
            name = out.name
            out.name, out.shape = f"{name}_full", None
            crop.outputs[0].name = name
            modified = True
        return modified
