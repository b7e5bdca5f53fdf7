"""restore_zero_biases: a bias tf2onnx dropped because it was all zeros comes back.

tf2onnx removes ``x + 0``, so a Keras Dense or Conv whose bias is still zero (an untrained
model) arrives without one, and PyTorch would get ``bias=False``: a different module with a
different parameter count. Pattern: a ``Gemm`` without C, or a ``Conv``/``ConvTranspose``
without B, whose Keras layer stage 1 recorded as built with ``use_bias=True``. Output form:
the same node with a zero bias initializer (same numbers). A ``MatMul`` (a Dense on a
sequence, ``TimeDistributed(Dense)``) gets an ``Add`` of the zero bias after it, which stage 3
takes into its ``nn.Linear``. Left alone: layers without a bias.
"""

from __future__ import annotations

import json

import numpy as np
import onnx_ir as ir

from pipeline import metadata
from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import add_initializer, bias_add, const, take_over

# op -> (number of inputs with a bias, axis of the weight that is the output size)
_BIASED = {"Gemm": (3, None), "Conv": (3, 0), "ConvTranspose": (3, 1), "MatMul": (2, 1)}


class RestoreZeroBiases(GraphPass):
    NAME = "restore_zero_biases"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        with_bias = set(json.loads(model.metadata_props.get(metadata.USE_BIAS, "[]")))
        by_layer: dict[str, list[ir.Node]] = {}
        for node in model.graph:
            layer = metadata.layer_of(node.doc_string or "")
            if node.op_type in _BIASED and layer is not None and layer[0] in with_bias:
                by_layer.setdefault(layer[0], []).append(node)
        modified = False
        for nodes in by_layer.values():
            # A layer has one bias: on its last weighted node (SeparableConv2D: the pointwise
            # conv), and only if no node of the layer kept one.
            if any(_has_bias(n) for n in nodes):
                continue
            if nodes[-1].op_type == "MatMul":
                modified |= _add_after(model.graph, nodes[-1])
            else:
                modified |= self._add_zero_bias(model.graph, nodes[-1])
        return modified

    @staticmethod
    def _add_zero_bias(graph: ir.Graph, node: ir.Node) -> bool:
        weight = const(node.inputs[1])
        if weight is None:
            return False
        axis = _BIASED[node.op_type][1]
        if axis is None:  # Gemm: [out, in] when transB, else [in, out]
            axis = 0 if node.attributes.get_int("transB", 0) else 1
        groups = node.attributes.get_int("group", 1) if node.op_type == "ConvTranspose" else 1
        units = weight.shape[axis] * groups
        bias = add_initializer(graph, f"{node.name}_bias", np.zeros(units, weight.dtype))
        node.resize_inputs(_BIASED[node.op_type][0])
        node.replace_input_with(len(node.inputs) - 1, bias)
        return True


def _has_bias(node: ir.Node) -> bool:
    if node.op_type != "MatMul":
        return len(node.inputs) >= _BIASED[node.op_type][0]
    weight = const(node.inputs[1])
    return weight is None or bias_add(node.outputs[0], weight.shape[-1]) is not None


def _add_after(graph: ir.Graph, node: ir.Node) -> bool:
    """``MatMul`` -> ``MatMul`` + ``Add(zeros[units])``, the Add taking over its output."""
    weight = const(node.inputs[1])
    if weight is None or weight.ndim != 2:
        return False
    bias = add_initializer(graph, f"{node.name}_bias", np.zeros(weight.shape[1], weight.dtype))
    out = node.outputs[0]
    add = ir.node("Add", [None, bias], name=f"{node.name}_bias_add", doc_string=node.doc_string)
    graph.insert_after(node, add)
    take_over(out, add.outputs[0])
    add.replace_input_with(0, out)
    out.name = f"{add.outputs[0].name}_unbiased"
    return True
