"""tensordot: a Dense on a sequence (Reshape/MatMul/Reshape over computed shapes) -> MatMul."""

from __future__ import annotations

import numpy as np

from pipeline.passes.tensordot import Tensordot
from tests.graphs import apply, assert_parity, init, model, node, ops, value

RNG = np.random.default_rng(6)
K = RNG.standard_normal((6, 4)).astype(np.float32)


def _tensordot(out_dim=4):
    """tf2onnx's Tensordot: merge to [-1, 6], MatMul, split to Shape(x)[0:2] + [out_dim]."""
    return model(
        [
            node("Reshape", ["x", "merged"], ["r"]),
            node("MatMul", ["r", "k"], ["m"]),
            node("Shape", ["x"], ["shape"]),
            node("Slice", ["shape", "zero", "two"], ["lead"]),
            node("Concat", ["lead", "out"], ["target"], axis=0),
            node("Reshape", ["m", "target"], ["y"]),
        ],
        [value("x", ["N", "T", 6])],
        [value("y", ["N", "T", 4])],
        [
            init("k", K),
            init("merged", np.array([-1, 6], np.int64)),
            init("zero", np.array([0], np.int64)),
            init("two", np.array([2], np.int64)),
            init("out", np.array([out_dim], np.int64)),
        ],
    )


def test_tensordot_becomes_one_matmul():
    proto = _tensordot()
    result, after = apply(Tensordot(), proto, cleanup=True)
    assert result.modified and ops(after) == {"MatMul": 1}
    assert after.graph.node[0].input[0] == "x"
    assert_parity(proto, after)


def test_split_to_another_shape_is_left_alone():
    proto = _tensordot()
    proto.graph.initializer[-1].CopyFrom(
        init("out", np.array([2, 2], np.int64))
    )  # [N, T, 2, 2]: not x's leading dims + [4]
    proto.graph.output[0].CopyFrom(value("y", ["N", "T", 2, 2]))
    result, after = apply(Tensordot(), proto, cleanup=True)
    assert not result.modified and ops(after) == ops(proto)
    assert "not a Tensordot's" in result.skipped[0]


def _two_dense(second_target=None):
    """Two Dense on one sequence share tf2onnx's merged rows (SegFormer's key and value)."""
    proto = _tensordot()
    graph = proto.graph
    graph.node.extend(
        [
            node("MatMul", ["r", "k2"], ["m2"]),
            node("Reshape", ["m2", second_target or "target"], ["y2"]),
        ]
    )
    graph.initializer.append(init("k2", RNG.standard_normal((6, 4)).astype(np.float32)))
    graph.initializer.append(init("flat", np.array([-1, 4], np.int64)))
    graph.output.append(value("y2", ["N", "T", 4] if second_target is None else ["M", 4]))
    return proto


def test_two_dense_reading_one_merge_become_two_matmuls():
    proto = _two_dense()
    result, after = apply(Tensordot(), proto, cleanup=True)
    assert result.modified and ops(after) == {"MatMul": 2}
    assert [n.input[0] for n in after.graph.node] == ["x", "x"]
    assert_parity(proto, after)


def test_a_merge_still_read_by_one_matmul_it_cannot_fold_stays():
    proto = _two_dense(second_target="flat")  # the second keeps its rows merged
    result, after = apply(Tensordot(), proto, cleanup=True)
    assert result.modified and ops(after) == {"MatMul": 2, "Reshape": 2}
    assert "not a Tensordot's" in result.skipped[0]
    assert_parity(proto, after)
