"""The ONNX form of Keras MultiHeadAttention, shared by stage 1 (writes it) and stage 3.

One call of a model-local function (domain ``keras2torch``, see ``pipeline.forms``)::

    KerasMultiHeadAttention[Causal](query[B,Tq,E], value[B,Tv,Ev], key[B,Tv,Ek],
                                    Wq[E,H*D], bq[H*D], Wk[Ek,H*D], bk[H*D],
                                    Wv[Ev,H*D], bv[H*D], Wo[H*D,E], bo[E]) -> [B,Tq,E]

Body (Keras' computation, in standard ops)::

    q = Transpose(Reshape(query @ Wq + bq, [0, 0, H, -1]), [0, 2, 1, 3]) * scale   # [B,H,Tq,D]
    k = Transpose(Reshape(key @ Wk + bk, [0, 0, H, -1]), [0, 2, 3, 1])             # [B,H,D,Tv]
    v = Transpose(Reshape(value @ Wv + bv, [0, 0, H, -1]), [0, 2, 1, 3])           # [B,H,Tv,D]
    s = q @ k        [Causal: + (1 - Trilu(ones[Tq, Tv], upper=0)) * -1e9, Keras' adder]
    y = Reshape(Transpose(Softmax(s) @ v, [0, 2, 1, 3]), [0, 0, -1]) @ Wo + bo

``KerasMultiHeadAttentionMasked`` takes Keras' attention mask as a 12th input, ``allowed``
[B, Tq or 1, Tv] (bool: the query, value and key masks, the ``attention_mask`` argument and
the causal mask, combined by Keras' own ``_compute_attention_mask`` in stage 1), and applies
it as Keras does: ``s = Where(allowed, s, -1e9)`` before the Softmax (a query allowed no key
then weighs all keys alike: Keras' ``dot_product_attention``). A layer with attention
dropout computes Keras' masked Softmax instead, which also zeroes the weights of what is not
allowed (a query allowed no key attends to nothing, its output is ``bo``):
``KerasMultiHeadAttentionMaskedZeros``, weights ``Where(allowed, Softmax(s), 0)``.

``scale`` = 1/sqrt(D) and ``heads`` are the call's attributes. The form is the one
``nn.MultiheadAttention(E, H, kdim=Ek, vdim=Ev, batch_first=True)`` computes, so stage 1 only
writes it for layers where that holds (value_dim == key_dim, H*D == E, output size E).
"""

from __future__ import annotations

import onnx
from onnx import helper

from pipeline.forms.function import attribute_constant, make

OP_TYPES = (
    "KerasMultiHeadAttention",
    "KerasMultiHeadAttentionCausal",
    "KerasMultiHeadAttentionMasked",  # a 12th input: Keras' attention mask, causal or not
    "KerasMultiHeadAttentionMaskedZeros",  # the same, a query allowed no key gives zeros
)
MASKED = OP_TYPES[2:]
INPUTS = ("query", "value", "key", "Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")
LARGE_NEGATIVE = -1e9  # what Keras adds to masked scores before the softmax (float32)


def _projection(x: str, w: str, b: str, perm: list[int], out: str) -> list[onnx.NodeProto]:
    return [
        helper.make_node("MatMul", [x, w], [f"{out}_mm"]),
        helper.make_node("Add", [f"{out}_mm", b], [f"{out}_proj"]),
        helper.make_node("Reshape", [f"{out}_proj", "head_shape"], [f"{out}_heads"]),
        helper.make_node("Transpose", [f"{out}_heads"], [out], perm=perm),
    ]


def _causal(scores: str, out: str) -> list[onnx.NodeProto]:
    const = helper.make_tensor
    return [
        helper.make_node("Constant", [], ["one_scalar"], value_float=1.0),
        helper.make_node("Constant", [], ["large_negative"], value_float=LARGE_NEGATIVE),
        helper.make_node("Shape", [scores], ["scores_shape"], start=2),
        helper.make_node(
            "ConstantOfShape",
            ["scores_shape"],
            ["ones"],
            value=const("one", onnx.TensorProto.FLOAT, [1], [1.0]),
        ),
        helper.make_node("Trilu", ["ones"], ["allowed"], upper=0),
        helper.make_node("Sub", ["one_scalar", "allowed"], ["blocked"]),
        helper.make_node("Mul", ["blocked", "large_negative"], ["adder"]),
        helper.make_node("Add", [scores, "adder"], [out]),
    ]


def function(op_type: str, opset: int) -> onnx.FunctionProto:
    head_shape = attribute_constant("head_shape", "head_shape", onnx.AttributeProto.INTS)
    scale = attribute_constant("scale_value", "scale", onnx.AttributeProto.FLOAT)
    nodes = [head_shape, scale, helper.make_node("Constant", [], ["merge"], value_ints=[0, 0, -1])]
    nodes += _projection("query", "Wq", "bq", [0, 2, 1, 3], "q_unscaled")
    nodes.append(helper.make_node("Mul", ["q_unscaled", "scale_value"], ["q"]))
    nodes += _projection("key", "Wk", "bk", [0, 2, 3, 1], "k")
    nodes += _projection("value", "Wv", "bv", [0, 2, 1, 3], "v")
    nodes.append(helper.make_node("MatMul", ["q", "k"], ["scores"]))
    scores, weights = "scores", "weights"
    if op_type.endswith("Causal"):
        nodes += _causal("scores", "masked")
        scores = "masked"
    if op_type in MASKED:
        nodes += [
            helper.make_node("Constant", [], ["heads_axis"], value_ints=[1]),
            helper.make_node("Unsqueeze", ["allowed", "heads_axis"], ["allowed_heads"]),
            helper.make_node("Constant", [], ["large_negative"], value_float=LARGE_NEGATIVE),
            helper.make_node("Constant", [], ["zero"], value_float=0.0),
            helper.make_node("Where", ["allowed_heads", "scores", "large_negative"], ["masked"]),
        ]
        scores = "masked"
    nodes.append(helper.make_node("Softmax", [scores], ["weights"], axis=-1))
    if op_type.endswith("Zeros"):
        nodes.append(helper.make_node("Where", ["allowed_heads", "weights", "zero"], ["kept"]))
        weights = "kept"
    nodes += [
        helper.make_node("MatMul", [weights, "v"], ["attended"]),
        helper.make_node("Transpose", ["attended"], ["attended_t"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["attended_t", "merge"], ["merged"]),
        helper.make_node("MatMul", ["merged", "Wo"], ["out_mm"]),
        helper.make_node("Add", ["out_mm", "bo"], ["Y"]),
    ]
    inputs = [*INPUTS, "allowed"] if op_type in MASKED else list(INPUTS)
    return make(op_type, inputs, nodes, opset, ["head_shape", "scale"])
