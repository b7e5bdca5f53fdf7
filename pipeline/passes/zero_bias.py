"""restore_zero_biases: a bias tf2onnx dropped because it was all zeros comes back.

tf2onnx removes ``x + 0``, so a Keras Dense or Conv whose bias is still zero (an untrained
model) arrives without one, and PyTorch would get ``bias=False``: a different module with a
different parameter count. Pattern: a ``Gemm`` without C, or a ``Conv``/``ConvTranspose``
without B, whose Keras layer stage 1 recorded as built with ``use_bias=True``. Output form:
the same node with a zero bias initializer (same numbers). Left alone: layers without a bias.
"""

from __future__ import annotations

import json

import numpy as np
import onnx_ir as ir

from pipeline import provenance
from pipeline.passes._base import GraphPass, add_initializer, const

# op -> (number of inputs with a bias, axis of the weight that is the output size)
_BIASED = {"Gemm": (3, None), "Conv": (3, 0), "ConvTranspose": (3, 1)}


class RestoreZeroBiases(GraphPass):
    NAME = "restore_zero_biases"

    def rewrite(self, model: ir.Model) -> bool:
        with_bias = set(json.loads(model.metadata_props.get(provenance.USE_BIAS, "[]")))
        modified = False
        for node in model.graph:
            if node.op_type not in _BIASED or len(node.inputs) >= _BIASED[node.op_type][0]:
                continue
            layer = provenance.layer_of(node.doc_string or "")
            weight = const(node.inputs[1])
            if layer is None or layer[0] not in with_bias or weight is None:
                continue
            axis = _BIASED[node.op_type][1]
            if axis is None:  # Gemm: [out, in] when transB, else [in, out]
                axis = 0 if node.attributes.get_int("transB", 0) else 1
            groups = node.attributes.get_int("group", 1) if node.op_type == "ConvTranspose" else 1
            units = weight.shape[axis] * groups
            bias = add_initializer(model.graph, f"{node.name}_bias", np.zeros(units, weight.dtype))
            node.resize_inputs(_BIASED[node.op_type][0])
            node.replace_input_with(len(node.inputs) - 1, bias)
            modified = True
        return modified
