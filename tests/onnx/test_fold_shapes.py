"""fold_shapes: every form of tf2onnx's computed Flatten becomes one Flatten; other computed
targets become constants (0 and -1 for unknown dims); a target with two unknown dims that
no 0 can copy is left alone."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from pipeline.passes.fold_shapes import FoldShapes
from tests.graphs import apply, assert_parity, init, model, node, ops, value


def _fold(proto):
    return apply(FoldShapes(), proto, cleanup=True)


def _flatten_form_a():
    """LeNet4's form: Shape -> Gather(perm) -> Cast -> Slice[0:1] -> Concat(-1) -> Cast."""
    return model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("Shape", ["x"], ["s"]),
            node("Gather", ["s", "perm"], ["g"]),
            node("Cast", ["g"], ["g32"], to=TensorProto.INT32),
            node("Slice", ["g32", "zero", "one", "zero"], ["n"]),
            node("Concat", ["n", "minus1"], ["target32"], axis=0),
            node("Cast", ["target32"], ["target"], to=TensorProto.INT64),
            node("Reshape", ["t", "target"], ["y"]),
        ],
        [value("x", ["N", 4, 3, 3])],
        [value("y", ["N", 36])],
        [
            init("perm", np.array([0, 2, 3, 1], np.int64)),
            init("zero", np.array([0], np.int64)),
            init("one", np.array([1], np.int64)),
            init("minus1", np.array([-1], np.int32)),
        ],
    )


def _flatten_form_b():
    """Shape -> Slice[1:] -> ReduceProd, Concat with Shape[0:1]."""
    return model(
        [
            node("Shape", ["x"], ["s"]),
            node("Slice", ["s", "zero", "one"], ["n"]),
            node("Slice", ["s", "one", "four"], ["rest"]),
            node("ReduceProd", ["rest"], ["k"], keepdims=1),
            node("Concat", ["n", "k"], ["target"], axis=0),
            node("Reshape", ["x", "target"], ["y"]),
        ],
        [value("x", ["N", 4, 3, 3])],
        [value("y", ["N", 36])],
        [
            init("zero", np.array([0], np.int64)),
            init("one", np.array([1], np.int64)),
            init("four", np.array([4], np.int64)),
        ],
    )


def test_form_a_becomes_one_flatten():
    proto = _flatten_form_a()
    result, after = _fold(proto)
    assert result.modified
    assert ops(after) == {"Transpose": 1, "Flatten": 1}
    assert_parity(proto, after)


def test_form_b_becomes_one_flatten():
    proto = _flatten_form_b()
    _, after = _fold(proto)
    assert ops(after) == {"Flatten": 1}
    assert_parity(proto, after)


def test_constant_flattening_reshape_becomes_flatten():
    proto = model(
        [node("Reshape", ["x", "target"], ["y"])],
        [value("x", ["N", 4, 3, 3])],
        [value("y", ["N", 36])],
        [init("target", np.array([-1, 36], np.int64))],
    )
    _, after = _fold(proto)
    assert ops(after) == {"Flatten": 1}
    assert_parity(proto, after)


def test_other_computed_target_becomes_constant_with_dynamic_batch():
    proto = model(
        [
            node("Shape", ["x"], ["s"]),
            node("Slice", ["s", "zero", "one"], ["n"]),
            node("Concat", ["n", "rest"], ["target"], axis=0),
            node("Reshape", ["x", "target"], ["y"]),
        ],
        [value("x", ["N", 4, 3, 3])],
        [value("y", ["N", 3, 12])],
        [
            init("zero", np.array([0], np.int64)),
            init("one", np.array([1], np.int64)),
            init("rest", np.array([3, 12], np.int64)),
        ],
    )
    _, after = _fold(proto)
    assert ops(after) == {"Reshape": 1}
    shape = next(i for i in after.graph.initializer if i.name == after.graph.node[0].input[1])
    assert list(np.frombuffer(shape.raw_data, np.int64)) == [-1, 3, 12]
    assert_parity(proto, after)


def _target(after) -> list[int]:
    """The constant target of the graph's last Reshape."""
    reshape = [n for n in after.graph.node if n.op_type == "Reshape"][-1]
    shape = next(i for i in after.graph.initializer if i.name == reshape.input[1])
    return list(np.frombuffer(shape.raw_data, np.int64))


def test_unknown_dims_the_data_has_at_their_axis_become_zeros():
    proto = model(
        [
            node("Shape", ["x"], ["s"]),
            node("Slice", ["s", "zero", "two"], ["nc"]),
            node("Concat", ["nc", "minus1"], ["target"], axis=0),
            node("Reshape", ["x", "target"], ["y"]),
        ],
        [value("x", ["N", "C", 3, 3])],
        [value("y", ["N", "C", 9])],
        [
            init("zero", np.array([0], np.int64)),
            init("two", np.array([2], np.int64)),
            init("minus1", np.array([-1], np.int64)),
        ],
    )
    result, after = _fold(proto)
    assert result.modified and not result.skipped
    assert ops(after) == {"Reshape": 1}
    assert _target(after) == [0, 0, -1]
    assert_parity(proto, after)


def test_time_distributed_split_becomes_a_constant_with_minus_one():
    """TimeDistributed: [N, 5, 6] merged to [N*5, 6] for its layer, then split again by a
    target [N, 5, 6] read from the input's Shape: the merged value's first dim is another
    unknown, so N is the one -1."""
    proto = model(
        [
            node("Reshape", ["x", "merged_shape"], ["merged"]),
            node("Relu", ["merged"], ["r"]),
            node("Shape", ["x"], ["s"]),
            node("Slice", ["s", "zero", "two"], ["n5"]),
            node("Concat", ["n5", "six"], ["target"], axis=0),
            node("Reshape", ["r", "target"], ["y"]),
        ],
        [value("x", ["N", 5, 6])],
        [value("y", ["N", 5, 6])],
        [
            init("merged_shape", np.array([-1, 6], np.int64)),
            init("zero", np.array([0], np.int64)),
            init("two", np.array([2], np.int64)),
            init("six", np.array([6], np.int64)),
        ],
    )
    result, after = _fold(proto)
    assert result.modified and not result.skipped
    assert ops(after) == {"Reshape": 2, "Relu": 1}
    assert _target(after) == [-1, 5, 6]
    assert_parity(proto, after)


def test_upsampling1d_target_becomes_a_constant():
    """UpSampling1D(2) as tf2onnx writes it: Unsqueeze, Tile, then a Reshape to
    ``[Shape(x)[0], 20, Shape(x)[2:]]``."""
    proto = model(
        [
            node("Shape", ["x"], ["s"]),
            node("Unsqueeze", ["x", "two"], ["u"]),
            node("Tile", ["u", "repeats"], ["tiled"]),
            node("Slice", ["s", "two", "big", "zero"], ["channels"]),
            node("Slice", ["s", "zero", "one", "zero"], ["n"]),
            node("Concat", ["n", "twenty", "channels"], ["target"], axis=0),
            node("Reshape", ["tiled", "target"], ["y"]),
        ],
        [value("x", ["N", 10, 4])],
        [value("y", ["N", 20, 4])],
        [
            init("zero", np.array([0], np.int64)),
            init("one", np.array([1], np.int64)),
            init("two", np.array([2], np.int64)),
            init("big", np.array([2**31 - 1], np.int64)),
            init("twenty", np.array([20], np.int64)),
            init("repeats", np.array([1, 1, 2, 1], np.int64)),
        ],
    )
    result, after = _fold(proto)
    assert result.modified and not result.skipped
    assert ops(after) == {"Unsqueeze": 1, "Tile": 1, "Reshape": 1}
    assert _target(after) in ([0, 20, 4], [-1, 20, 4])  # N kept by inference, or named apart
    assert_parity(proto, after)


def test_two_unknown_dims_no_zero_can_copy_are_left_alone():
    """[N, T, 4] -> [T, N, 4] (a reshape, not a transpose): neither unknown is at its own
    axis, and one -1 cannot stand for both."""
    proto = model(
        [
            node("Shape", ["x"], ["s"]),
            node("Gather", ["s", "swap"], ["tn"]),
            node("Concat", ["tn", "four"], ["target"], axis=0),
            node("Reshape", ["x", "target"], ["y"]),
        ],
        [value("x", ["N", "T", 4])],
        [value("y", ["T", "N", 4])],
        [init("swap", np.array([1, 0], np.int64)), init("four", np.array([4], np.int64))],
    )
    result, after = _fold(proto)
    assert not result.modified
    assert ops(after) == ops(proto)
    assert len(result.skipped) == 1
    assert "more than one dim computed from an unknown size" in result.skipped[0]


def test_no_op_reshape_goes():
    proto = model(
        [
            node("GlobalAveragePool", ["x"], ["p"]),
            node("Reshape", ["p", "t"], ["r"]),
            node("Relu", ["r"], ["y"]),
        ],
        [value("x", ["N", 4, 3, 3])],
        [value("y", ["N", 4, 1, 1])],
        [init("t", np.array([-1, 4, 1, 1], np.int64))],
    )
    _, after = apply(FoldShapes(), proto, cleanup=True)
    assert ops(after) == {"GlobalAveragePool": 1, "Relu": 1}
    assert_parity(proto, after)


def test_computed_pads_become_a_constant():
    proto = model(
        [
            node("Shape", ["x"], ["s"]),
            node("Slice", ["s", "two", "four"], ["hw"]),
            node("Mul", ["hw", "zero"], ["z"]),
            node("Concat", ["zz", "z", "zz", "one2"], ["pads"], axis=0),
            node("Pad", ["x", "pads"], ["y"]),
        ],
        [value("x", ["N", 2, 3, 3])],
        [value("y", ["N", 2, 4, 4])],
        [
            init("two", np.array([2], np.int64)),
            init("four", np.array([4], np.int64)),
            init("zero", np.array([0], np.int64)),
            init("zz", np.array([0, 0], np.int64)),
            init("one2", np.array([1, 1], np.int64)),
        ],
    )
    _, after = apply(FoldShapes(), proto, cleanup=True)
    assert ops(after) == {"Pad": 1}
    assert_parity(proto, after)


def test_computed_int32_value_becomes_an_int32_constant():
    """The Whisper encoder's position slice: a size computed in int32 from Shape, added to
    an int32 tensor that stays; an int64 constant would leave an Add of two types."""
    proto = model(
        [
            node("Shape", ["x"], ["s"]),
            node("Cast", ["s"], ["s32"], to=TensorProto.INT32),
            node("Slice", ["s32", "one", "two"], ["steps"]),
            node("Cast", ["n"], ["n32"], to=TensorProto.INT32),
            node("Add", ["steps", "n32"], ["sum"]),
            node("Cast", ["sum"], ["y"], to=TensorProto.FLOAT),
        ],
        [value("x", ["N", 3, 2]), value("n", [1])],
        [value("y", [1])],
        [init("one", np.array([1], np.int64)), init("two", np.array([2], np.int64))],
    )
    _, after = apply(FoldShapes(), proto, cleanup=True)
    assert ops(after) == {"Add": 1, "Cast": 2}
    folded = [i for i in after.graph.initializer if i.name not in ("one", "two")]
    assert [i.data_type for i in folded] == [TensorProto.INT32]
    assert_parity(proto, after)
