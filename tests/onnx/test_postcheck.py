"""Stage 2's postcondition: each form onnx2torch needs, and the pass an error names."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest

from pipeline.errors import UnsupportedError
from pipeline.passes import postcheck
from tests.graphs import init, model, node, value

K = np.ones((4, 6), np.float32)


@pytest.mark.parametrize(
    ("nodes", "inputs", "inits", "blamed"),
    [
        ([node("MatMul", ["x", "k"], ["y"])], [], [init("k", K.T.copy())], "matmul_add_to_gemm"),
        (
            [node("Gemm", ["x", "k"], ["y"], transB=1)],
            [value("k", [4, 6])],
            [],
            "matmul_add_to_gemm",
        ),
        ([node("Shape", ["x"], ["s"]), node("Reshape", ["x", "s"], ["y"])], [], [], "fold_shapes"),
        ([node("Relu", ["x"], ["y.1"])], [], [], "name_after_keras"),
    ],
)
def test_each_rule_names_its_pass(nodes, inputs, inits, blamed):
    outputs = [value(nodes[-1].output[0], ["N", None])]
    proto = model(nodes, [value("x", ["N", 6]), *inputs], outputs, inits)
    with pytest.raises(UnsupportedError, match=rf"\({blamed}\)"):
        postcheck.ensure_stage3_ready(ir.from_proto(proto).graph)


def test_a_clean_graph_passes():
    proto = model(
        [node("Gemm", ["x", "k"], ["y"], transB=1)],
        [value("x", ["N", 6])],
        [value("y", ["N", 4])],
        [init("k", K)],
    )
    assert postcheck.problems(ir.from_proto(proto).graph) == []


def test_a_shape_read_only_by_constant_of_shape_is_a_fill_and_passes():
    """Keras' ones_like (positions = cumsum(ones_like(tokens)) - 1): torch.full(x.shape, 1)."""
    proto = model(
        [node("Shape", ["x"], ["s"]), node("ConstantOfShape", ["s"], ["y"])],
        [value("x", ["N", 6])],
        [value("y", ["N", 6])],
    )
    assert postcheck.problems(ir.from_proto(proto).graph) == []


def test_a_shape_read_by_anything_else_still_blames_fold_shapes():
    proto = model(
        [
            node("Shape", ["x"], ["s"]),
            node("ConstantOfShape", ["s"], ["y"]),
            node("Cast", ["s"], ["z"], to=1),
        ],
        [value("x", ["N", 6])],
        [value("y", ["N", 6]), value("z", [2])],
    )
    with pytest.raises(UnsupportedError, match=r"shape computation left .*\(fold_shapes\)"):
        postcheck.ensure_stage3_ready(ir.from_proto(proto).graph)
