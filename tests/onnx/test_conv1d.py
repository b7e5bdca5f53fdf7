"""conv1d: TensorFlow's 2-D op over a height of 1 becomes the 1-D ONNX op, bias folded."""

from __future__ import annotations

import numpy as np

from pipeline.passes.conv1d import Conv1d
from tests.graphs import apply, assert_parity, init, model, node, ops, value

RNG = np.random.default_rng(5)
W = RNG.standard_normal((4, 3, 1, 3)).astype(np.float32)  # [out, in, 1, k]
BIAS = RNG.standard_normal((4, 1)).astype(np.float32)  # tf2onnx's channels-first bias


def _conv(pads=(0, 1, 0, 1), strides=(1, 1), dilations=(1, 1)):
    return node(
        "Conv",
        ["u", "w"],
        ["c"],
        kernel_shape=[1, 3],
        pads=list(pads),
        strides=list(strides),
        dilations=list(dilations),
    )


def _channels_first_chain(conv=None, bias=True):
    """x[N,C,W] -> Unsqueeze(2) -> Conv -> Squeeze(2) -> Add(bias[C,1])."""
    nodes = [node("Unsqueeze", ["x", "axis2"], ["u"]), conv or _conv()]
    nodes.append(node("Squeeze", ["c", "axis2"], ["s" if bias else "y"]))
    inits = [init("w", W), init("axis2", np.array([2], np.int64))]
    if bias:
        nodes.append(node("Add", ["s", "bias"], ["y"]))
        inits.append(init("bias", BIAS))
    return model(nodes, [value("x", ["N", 3, 7])], [value("y", ["N", 4, 7])], inits)


def test_conv_over_height_one_becomes_conv1d_with_bias():
    proto = _channels_first_chain()
    result, after = apply(Conv1d(), proto)
    assert result.modified and ops(after) == {"Conv": 1}
    conv = after.graph.node[0]
    attrs = {a.name: list(a.ints) for a in conv.attribute if a.ints}
    assert attrs["kernel_shape"] == [3] and attrs["pads"] == [1, 1]
    assert len(conv.input) == 3  # the bias Add went into the Conv
    assert_parity(proto, after)


def test_channels_last_sides_become_transposes_and_pools_too():
    """x[N,W,C] -> Unsqueeze(1) -> Transpose(0,3,1,2) -> MaxPool -> Transpose(0,2,3,1) ->
    Squeeze(1): the 1-D pool between two Transpose(0,2,1)."""
    proto = model(
        [
            node("Unsqueeze", ["x", "axis1"], ["u"]),
            node("Transpose", ["u"], ["t"], perm=[0, 3, 1, 2]),
            node("MaxPool", ["t"], ["p"], kernel_shape=[1, 2], strides=[1, 2]),
            node("Transpose", ["p"], ["b"], perm=[0, 2, 3, 1]),
            node("Squeeze", ["b", "axis1"], ["y"]),
        ],
        [value("x", ["N", 8, 3])],
        [value("y", ["N", 4, 3])],
        [init("axis1", np.array([-3], np.int64))],  # tf2onnx writes the axis negative
    )
    _, after = apply(Conv1d(), proto)
    assert ops(after) == {"Transpose": 2, "MaxPool": 1}
    pool = next(n for n in after.graph.node if n.op_type == "MaxPool")
    assert [list(a.ints) for a in pool.attribute if a.name == "kernel_shape"] == [[2]]
    assert_parity(proto, after)


def test_adjacent_ops_without_squeeze_between_are_split():
    """tf2onnx drops the Squeeze/Unsqueeze pair between two height-1 ops."""
    proto = model(
        [
            node("Unsqueeze", ["x", "axis2"], ["u"]),
            node("MaxPool", ["u"], ["p"], kernel_shape=[1, 2], strides=[1, 2]),
            node("Conv", ["p", "w"], ["c"], kernel_shape=[1, 3]),
            node("Squeeze", ["c", "axis2"], ["y"]),
        ],
        [value("x", ["N", 3, 10])],
        [value("y", ["N", 4, 3])],
        [init("w", W), init("axis2", np.array([2], np.int64))],
    )
    _, after = apply(Conv1d(), proto)
    assert ops(after) == {"MaxPool": 1, "Conv": 1}
    assert_parity(proto, after)


def test_height_stride_is_left_alone():
    proto = _channels_first_chain(_conv(strides=(2, 1)))
    result, after = apply(Conv1d(), proto)
    assert not result.modified and ops(after) == ops(proto)
    assert "outside the 1-D pattern" in result.skipped[0]


def test_conv_not_followed_by_squeeze_is_left_alone():
    proto = model(
        [node("Unsqueeze", ["x", "axis2"], ["u"]), _conv()],
        [value("x", ["N", 3, 7])],
        [value("c", ["N", 4, 1, 7])],
        [init("w", W), init("axis2", np.array([2], np.int64))],
    )
    result, after = apply(Conv1d(), proto)
    assert not result.modified and ops(after) == {"Unsqueeze": 1, "Conv": 1}
    assert "outside the 1-D pattern" in result.skipped[0]


def test_weight_from_a_graph_input_is_left_alone():
    proto = _channels_first_chain(bias=False)
    proto.graph.initializer.pop(0)  # w becomes a graph input
    proto.graph.input.append(value("w", [4, 3, 1, 3]))
    result, after = apply(Conv1d(), proto)
    assert not result.modified and ops(after) == ops(proto)
    assert "not an initializer" in result.skipped[0]


def test_height_one_kernel_over_a_real_image_is_not_touched():
    """NASNet's 1x1 average pooling: a height-1 kernel, but the data is 2-D."""
    proto = model(
        [
            node("AveragePool", ["x"], ["p"], kernel_shape=[1, 1], strides=[2, 2]),
            node("Conv", ["p", "w"], ["y"], kernel_shape=[1, 3]),
        ],
        [value("x", ["N", 3, 8, 8])],
        [value("y", ["N", 4, 4, 2])],
        [init("w", W)],
    )
    result, after = apply(Conv1d(), proto)
    assert not result.modified and ops(after) == {"AveragePool": 1, "Conv": 1}
