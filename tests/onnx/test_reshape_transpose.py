"""reshape_as_transpose: tf2onnx's Reshape for a layout Transpose that moves only size-1 axes
becomes that Transpose; any other Reshape stays."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from pipeline.passes.conv1d import Conv1d
from pipeline.passes.reshape_transpose import ReshapeAsTranspose, as_transpose
from tests.graphs import apply, assert_parity, init, model, node, ops, value


def _reshape(shape: list, target: list):
    nodes = [node("Reshape", ["x", "target"], ["r"]), node("Relu", ["r"], ["y"])]
    out = [None] * len(target)
    return model(
        nodes,
        [value("x", ["N", *shape])],
        [value("y", out)],
        [init("target", np.array(target, np.int64))],
    )


def test_a_single_channel_sequence_becomes_channels_first():
    proto = _reshape([1, 7, 1], [-1, 1, 1, 7])  # Conv1D on one channel: NHWC [N,1,W,1]
    result, after = apply(ReshapeAsTranspose(), proto)
    assert result.modified and ops(after) == {"Transpose": 1, "Relu": 1}
    transpose = after.graph.node[0]
    assert list(transpose.attribute[0].ints) == [0, 3, 1, 2]
    assert_parity(proto, after)


def test_a_single_channel_back_to_channels_last():
    proto = _reshape([1, 1, 7], [0, 1, 7, 1])
    _, after = apply(ReshapeAsTranspose(), proto)
    assert ops(after) == {"Transpose": 1, "Relu": 1}
    assert list(after.graph.node[0].attribute[0].ints) == [0, 2, 3, 1]
    assert_parity(proto, after)


def test_a_single_channel_conv1d_becomes_one_1d_conv():
    """The whole tf2onnx form of ``Conv1D`` on a [N, W, 1] input: Unsqueeze, the Reshape,
    Conv over height 1, Squeeze: one Conv with a 1-D kernel after the two passes."""
    w = np.random.default_rng(0).standard_normal((4, 1, 1, 3)).astype(np.float32)
    nodes = [
        node("Unsqueeze", ["x", "one"], ["u"]),
        node("Reshape", ["u", "target"], ["c"]),
        node("Conv", ["c", "w"], ["o"], kernel_shape=[1, 3]),
        node("Squeeze", ["o", "two"], ["y"]),
    ]
    inits = [
        init("one", np.array([1], np.int64)),
        init("two", np.array([2], np.int64)),
        init("target", np.array([-1, 1, 1, 9], np.int64)),
        init("w", w),
    ]
    proto = model(nodes, [value("x", ["N", 9, 1])], [value("y", ["N", 4, 7])], inits)
    _, after = apply((ReshapeAsTranspose(), Conv1d()), proto, cleanup=True)
    assert ops(after) == {"Transpose": 1, "Conv": 1}
    assert_parity(proto, after)


def test_a_reshape_that_reorders_data_stays():
    proto = _reshape([2, 3, 4], [-1, 4, 2, 3])  # a real change of the element order
    result, after = apply(ReshapeAsTranspose(), proto)
    assert not result.modified and ops(after) == ops(proto)


def test_a_reshape_that_is_not_a_layout_change_stays():
    proto = _reshape([1, 5, 6], [-1, 5, 6])  # drops an axis: not a transpose
    result, _ = apply(ReshapeAsTranspose(), proto)
    assert not result.modified


def test_a_reshape_of_open_sizes_stays():
    nodes = [node("Reshape", ["x", "target"], ["y"])]
    proto = model(
        nodes,
        [value("x", ["N", 1, "W", 1])],
        [value("y", [None, None, None, None])],
        [init("target", np.array([-1, 1, 1, 7], np.int64))],
    )
    result, _ = apply(ReshapeAsTranspose(), proto)
    assert not result.modified


@given(st.lists(st.sampled_from([1, 1, 2, 3]), min_size=2, max_size=4), st.data())
def test_every_accepted_reshape_is_that_transpose(dims, data):
    """Whatever target ``as_transpose`` accepts, reshaping gives the transposed array."""
    shape = (2, *dims)
    target = data.draw(st.permutations(shape[1:]))
    p = as_transpose((None, *dims), [-1, *target])
    assume(p is not None)
    x = np.arange(np.prod(shape)).reshape(shape)
    assert np.array_equal(x.reshape(-1, *target), np.transpose(x, p))
