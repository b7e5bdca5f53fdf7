"""sink_transposes: a Transpose round trip around element-wise ops disappears."""

from __future__ import annotations

import numpy as np

from pipeline.passes.sink_transposes import SinkTransposes
from tests.graphs import apply, assert_parity, init, model, node, ops, value

RNG = np.random.default_rng(8)
ALPHA = RNG.uniform(0.1, 0.3, (1, 1, 3)).astype(np.float32)  # PReLU alpha, NHWC broadcast


def _round_trip(end=None, end_output=("y", ["N", 3, 4, 5])):
    """x[N,3,4,5] -> Transpose(0,2,3,1) -> PRelu(alpha) -> Sigmoid -> end."""
    end = end or node("Transpose", ["s"], ["y"], perm=[0, 3, 1, 2])
    return model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("PRelu", ["t", "alpha"], ["p"]),
            node("Sigmoid", ["p"], ["s"]),
            end,
        ],
        [value("x", ["N", 3, 4, 5])],
        [value(*end_output)],
        [init("alpha", ALPHA), init("axes", np.array([1, 2], np.int64))],
    )


def test_round_trip_around_elementwise_ops_disappears():
    proto = _round_trip()
    result, after = apply(SinkTransposes(), proto)
    assert result.modified and ops(after) == {"PRelu": 1, "Sigmoid": 1}
    slope = next(i for i in after.graph.initializer if i.name.endswith("_nchw"))
    assert list(slope.dims) == [1, 3, 1, 1]
    assert_parity(proto, after)


def test_chain_ending_in_a_spatial_mean_reduces_channels_first_axes():
    end = node("ReduceMean", ["s"], ["y"], axes=[1, 2], keepdims=0)
    proto = _round_trip(end, ("y", ["N", 3]))
    result, after = apply(SinkTransposes(), proto)
    assert result.modified and ops(after) == {"PRelu": 1, "Sigmoid": 1, "ReduceMean": 1}
    assert_parity(proto, after)


def test_transpose_that_does_not_undo_is_left_alone():
    proto = _round_trip(node("Transpose", ["s"], ["y"], perm=[0, 1, 3, 2]), ("y", ["N", 4, 3, 5]))
    result, after = apply(SinkTransposes(), proto)
    assert not result.modified and ops(after) == ops(proto)


def test_op_with_a_non_constant_operand_stops_the_chain():
    proto = model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("Mul", ["t", "z"], ["m"]),
            node("Transpose", ["m"], ["y"], perm=[0, 3, 1, 2]),
        ],
        [value("x", ["N", 3, 4, 5]), value("z", ["N", 4, 5, 3])],
        [value("y", ["N", 3, 4, 5])],
    )
    result, after = apply(SinkTransposes(), proto)
    assert not result.modified and ops(after) == {"Transpose": 2, "Mul": 1}
