"""restore_zero_biases: a dropped zero bias comes back only where Keras had one."""

from __future__ import annotations

import json

import numpy as np
from onnx import numpy_helper

from pipeline import metadata
from pipeline.passes.zero_bias import RestoreZeroBiases
from tests.graphs import apply, assert_parity, init, model, node, ops, value

RNG = np.random.default_rng(8)


def _graph(use_bias: list[str]):
    return model(
        [
            node("Conv", ["x", "w"], ["c"], layer="conv", cls="Conv2D"),
            node("Flatten", ["c"], ["f"], layer="flatten", cls="Flatten"),
            node("Gemm", ["f", "k"], ["y"], layer="fc", cls="Dense", transB=1),
        ],
        [value("x", ["N", 2, 3, 3])],
        [value("y", ["N", 4])],
        [
            init("w", RNG.standard_normal((5, 2, 3, 3)).astype(np.float32)),
            init("k", RNG.standard_normal((4, 5)).astype(np.float32)),
        ],
        metadata={metadata.USE_BIAS: json.dumps(use_bias)},
    )


def test_zero_biases_come_back_where_keras_had_them():
    proto = _graph(["conv", "fc"])
    result, after = apply(RestoreZeroBiases(), proto)
    assert result.modified and ops(after) == ops(proto)
    inits = {i.name: numpy_helper.to_array(i) for i in after.graph.initializer}
    conv, _, gemm = after.graph.node
    assert len(conv.input) == 3 and not inits[conv.input[2]].any()
    assert inits[conv.input[2]].shape == (5,) and inits[gemm.input[2]].shape == (4,)
    assert_parity(proto, after)


def test_layers_without_bias_are_left_alone():
    proto = _graph([])
    result, after = apply(RestoreZeroBiases(), proto)
    assert not result.modified
    assert [len(n.input) for n in after.graph.node] == [2, 1, 2]


def test_a_layer_gets_one_bias_on_its_last_weighted_node():
    """SeparableConv2D: depthwise then pointwise conv, one Keras bias (the pointwise one)."""
    proto = model(
        [
            node("Conv", ["x", "dw"], ["d"], layer="sep", cls="SeparableConv2D", group=2),
            node("Conv", ["d", "pw"], ["y"], layer="sep", cls="SeparableConv2D"),
        ],
        [value("x", ["N", 2, 3, 3])],
        [value("y", ["N", 4, 1, 1])],
        [
            init("dw", RNG.standard_normal((2, 1, 3, 3)).astype(np.float32)),
            init("pw", RNG.standard_normal((4, 2, 1, 1)).astype(np.float32)),
        ],
        metadata={metadata.USE_BIAS: json.dumps(["sep"])},
    )
    _, after = apply(RestoreZeroBiases(), proto)
    assert [len(n.input) for n in after.graph.node] == [2, 3]
    assert_parity(proto, after)


def _sequence_dense(use_bias: list[str], bias: np.ndarray | None = None):
    """A Dense on a sequence: MatMul by a [in, out] kernel (plus its Add, if kept)."""
    nodes = [
        node("MatMul", ["x", "k"], ["m" if bias is not None else "y"], layer="fc", cls="Dense")
    ]
    inits = [init("k", RNG.standard_normal((3, 4)).astype(np.float32))]
    if bias is not None:
        nodes.append(node("Add", ["m", "b"], ["y"], layer="fc", cls="Dense"))
        inits.append(init("b", bias))
    return model(
        nodes,
        [value("x", ["N", 5, 3])],
        [value("y", ["N", 5, 4])],
        inits,
        metadata={metadata.USE_BIAS: json.dumps(use_bias)},
    )


def test_a_dense_on_a_sequence_gets_its_zero_bias_added_after():
    proto = _sequence_dense(["fc"])
    result, after = apply(RestoreZeroBiases(), proto)
    assert result.modified and ops(after) == {"MatMul": 1, "Add": 1}
    matmul, add = after.graph.node
    assert add.input[0] == matmul.output[0] and add.output[0] == "y"  # the output keeps its name
    inits = {i.name: numpy_helper.to_array(i) for i in after.graph.initializer}
    assert inits[add.input[1]].shape == (4,) and not inits[add.input[1]].any()
    assert_parity(proto, after)


def test_a_dense_on_a_sequence_with_its_bias_or_without_one_is_left_alone():
    for proto in (
        _sequence_dense(["fc"], RNG.standard_normal(4).astype(np.float32)),
        _sequence_dense([]),
    ):
        result, after = apply(RestoreZeroBiases(), proto)
        assert not result.modified and ops(after) == ops(proto)
