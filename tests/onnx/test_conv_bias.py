"""conv_bias: the per-channel Add left right after a conv becomes the conv's bias."""

from __future__ import annotations

import numpy as np

from pipeline.passes.conv_bias import ConvBias
from tests.graphs import apply, assert_parity, init, model, node, ops, value

RNG = np.random.default_rng(0)


def _conv_add(bias_shape, own_bias=None, op="Conv", group=1):
    """x [N, 4, 5, 5] -> conv (6 channels out) [-> its own bias] -> Add(constant) -> Relu."""
    if op == "Conv":
        weight = RNG.standard_normal((6, 4 // group, 1, 1)).astype(np.float32)
    else:
        weight = RNG.standard_normal((4, 6 // group, 1, 1)).astype(np.float32)
    inputs = ["x", "w", *(["b"] if own_bias is not None else [])]
    nodes = [
        node(op, inputs, ["c"], layer="dw", cls="DepthwiseConv2D", group=group),
        node("Add", ["c", "k"], ["a"], layer="dw", cls="DepthwiseConv2D"),
        node("Relu", ["a"], ["y"]),
    ]
    inits = [init("w", weight), init("k", RNG.standard_normal(bias_shape).astype(np.float32))]
    inits += [init("b", np.asarray(own_bias, np.float32))] if own_bias is not None else []
    return model(nodes, [value("x", ["N", 4, 5, 5])], [value("y", ["N", 6, 5, 5])], inits)


def test_a_channel_constant_after_a_conv_becomes_its_bias():
    proto = _conv_add((1, 6, 1, 1))
    result, after = apply(ConvBias(), proto)
    assert result.modified and ops(after) == {"Conv": 1, "Relu": 1}
    assert len(after.graph.node[0].input) == 3
    assert_parity(proto, after)


def test_a_zero_bias_of_its_own_is_replaced():
    proto = _conv_add((6, 1, 1), own_bias=np.zeros(6))
    _, after = apply(ConvBias(), proto)
    assert ops(after) == {"Conv": 1, "Relu": 1}
    assert_parity(proto, after)


def test_a_grouped_conv_transpose_takes_its_bias_too():
    proto = _conv_add((1, 6, 1, 1), op="ConvTranspose", group=2)
    _, after = apply(ConvBias(), proto)
    assert ops(after) == {"ConvTranspose": 1, "Relu": 1}
    assert_parity(proto, after)


def test_a_conv_with_a_bias_of_its_own_keeps_the_add():
    proto = _conv_add((1, 6, 1, 1), own_bias=np.ones(6))  # two weights: never merged
    result, after = apply(ConvBias(), proto)
    assert not result.modified and ops(after) == ops(proto)


def test_a_constant_that_is_not_per_channel_stays_an_add():
    proto = _conv_add((1, 6, 5, 5))  # one value per element
    result, _ = apply(ConvBias(), proto)
    assert not result.modified
