"""Stage 1's MultiHeadAttention function (``pipeline.forms.attention``) as
``nn.MultiheadAttention(batch_first=True)`` called as Keras calls it (query, value, key),
registered in onnx2torch's converter registry.

The function's projections are ``x @ W + b`` with W [in, H*D]; torch keeps ``in_proj_weight``
as [3E, E] (q, k, v stacked, each ``W.T``) when key and value have the query's size, else
separate ``q_proj_weight``/``k_proj_weight``/``v_proj_weight``.
"""

from __future__ import annotations

import torch
from onnx2torch.node_converters.registry import add_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OperationConverterResult
from torch import nn

from pipeline.forms import DOMAIN, VERSION
from pipeline.forms import attention as attention_form
from pipeline.torch_stage import masking
from pipeline.torch_stage.templates import Statements

# The inputs are Keras' (query, value, key); torch takes (query, key, value).
_CALL = "{out}, _ = {self}({0}, {2}, {1}, need_weights=False)"
_CAUSAL = (
    "{out}, _ = {self}({0}, {2}, {1}, attn_mask=torch.ones({0}.shape[1], {2}.shape[1], "
    "dtype=torch.bool).triu(1), need_weights=False)"
)


_MASKED = "{out} = " + masking.ATTENTION_NAME + "({self}, {0}, {1}, {2}, {3})"
_MASKED_ZEROS = "{out} = " + masking.ATTENTION_NAME + "({self}, {0}, {1}, {2}, {3}, zeros=True)"


def _module(node: OnnxNode, graph: OnnxGraph) -> nn.MultiheadAttention:
    names = dict(zip(attention_form.INPUTS, node.input_values[:11], strict=True))
    weights = {k: graph.initializers[names[k]].to_torch() for k in attention_form.INPUTS[3:]}
    embed, heads = weights["Wq"].shape[0], int(node.attributes["head_shape"][2])
    kdim, vdim = weights["Wk"].shape[0], weights["Wv"].shape[0]
    module = nn.MultiheadAttention(embed, heads, kdim=kdim, vdim=vdim, batch_first=True)
    with torch.no_grad():
        if module._qkv_same_embed_dim:
            module.in_proj_weight.copy_(
                torch.cat([weights["Wq"].T, weights["Wk"].T, weights["Wv"].T], dim=0)
            )
        else:
            module.q_proj_weight.copy_(weights["Wq"].T)
            module.k_proj_weight.copy_(weights["Wk"].T)
            module.v_proj_weight.copy_(weights["Wv"].T)
        module.in_proj_bias.copy_(torch.cat([weights["bq"], weights["bk"], weights["bv"]]))
        module.out_proj.weight.copy_(weights["Wo"].T)
        module.out_proj.bias.copy_(weights["bo"])
    return module.eval()


def _register(op_type: str) -> None:
    @add_converter(operation_type=op_type, version=VERSION, domain=DOMAIN)
    def convert(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
        given = (*node.input_values[:3], *node.input_values[11:])  # and the mask, if masked
        mapping = OnnxMapping(inputs=given, outputs=node.output_values)
        line = _CAUSAL if op_type.endswith("Causal") else _CALL
        line = _MASKED if op_type == attention_form.MASKED[0] else line
        line = _MASKED_ZEROS if op_type == attention_form.MASKED[1] else line
        return OperationConverterResult(Statements(_module(node, graph), [line]), mapping)


for _op_type in attention_form.OP_TYPES:
    _register(_op_type)
