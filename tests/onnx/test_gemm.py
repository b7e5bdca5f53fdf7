"""matmul_add_to_gemm: Dense becomes Gemm(transB=1) with an [out, in] weight and 1-D bias."""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from pipeline.passes.gemm import MatMulAddToGemm
from tests.graphs import apply, assert_parity, init, model, node, ops, value

RNG = np.random.default_rng(2)
K = RNG.standard_normal((6, 4)).astype(np.float32)
B = RNG.standard_normal(4).astype(np.float32)


def _dense(bias_shape=(4,), rank=2, kernel_input=False):
    x_shape = ["N", 6] if rank == 2 else ["N", 3, 6]
    inputs = [value("x", x_shape)] + ([value("k", [6, 4])] if kernel_input else [])
    inits = [init("b", B.reshape(bias_shape))] + ([] if kernel_input else [init("k", K)])
    return model(
        [node("MatMul", ["x", "k"], ["m"]), node("Add", ["m", "b"], ["y"])],
        inputs,
        [value("y", [*x_shape[:-1], 4])],
        inits,
    )


def _initializer(proto, name):
    return numpy_helper.to_array(next(i for i in proto.graph.initializer if i.name == name))


def test_matmul_add_becomes_gemm():
    proto = _dense()
    result, after = apply(MatMulAddToGemm(), proto)
    assert result.modified and ops(after) == {"Gemm": 1}
    gemm = after.graph.node[0]
    assert [a.i for a in gemm.attribute if a.name == "transB"] == [1]
    assert _initializer(after, gemm.input[1]).shape == (4, 6)  # nn.Linear's [out, in]
    assert _initializer(after, gemm.input[2]).shape == (4,)
    assert_parity(proto, after)


def test_row_bias_is_made_one_dimensional():
    proto = _dense(bias_shape=(1, 4))
    _, after = apply(MatMulAddToGemm(), proto)
    assert ops(after) == {"Gemm": 1}
    assert _initializer(after, after.graph.node[0].input[2]).ndim == 1
    assert_parity(proto, after)


def test_matmul_without_bias_becomes_gemm_without_c():
    proto = model(
        [node("MatMul", ["x", "k"], ["y"])],
        [value("x", ["N", 6])],
        [value("y", ["N", 4])],
        [init("k", K)],
    )
    _, after = apply(MatMulAddToGemm(), proto)
    assert ops(after) == {"Gemm": 1} and len(after.graph.node[0].input) == 2
    assert_parity(proto, after)


def test_rank3_input_is_left_alone():
    proto = _dense(rank=3)
    result, after = apply(MatMulAddToGemm(), proto)
    assert not result.modified and ops(after) == ops(proto)
    assert "Gemm needs rank 2" in result.skipped[0]


def test_computed_weight_is_left_alone():
    proto = _dense(kernel_input=True)
    result, after = apply(MatMulAddToGemm(), proto)
    assert not result.modified and ops(after) == ops(proto)
    assert "not a rank-2 initializer" in result.skipped[0]
