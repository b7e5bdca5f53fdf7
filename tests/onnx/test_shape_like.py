"""shape_like: a Tile/Expand/Slice sized from another tensor's shape becomes one
KerasExpandLike/KerasSliceLike call (or, an Expand only broadcast by an Add, goes); each left
alone with its reason where the sizes are not one tensor's dims. Parity at two sizes of the
unknown dims."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from pipeline import ort
from pipeline.passes.fold_shapes import FoldShapes
from pipeline.passes.shape_like import ShapeLike
from pipeline.passes.symbolic import SymVec, _elementwise
from tests.graphs import apply, init, model, node, ops, value

HIDDEN = 4


def _run(proto):
    return apply([FoldShapes(), ShapeLike()], proto, cleanup=True)


def _parity(before, after, feeds_at) -> None:
    for size in (2, 5):
        feeds = feeds_at(size)
        for want, got in zip(ort.run(before, feeds), ort.run(after, feeds), strict=True):
            assert want.shape == got.shape and np.array_equal(want, got)


def _class_token(op: str):
    """ViT's class token to the batch: Tile(token, Concat(Shape(x)[0:1], 1, 1)) or the same
    as Expand(token, Concat(Shape(x)[0:1], 1, H)), then Concat with x."""
    last = [1] if op == "Tile" else [HIDDEN]
    return model(
        [
            node("Shape", ["x"], ["s"]),
            node("Slice", ["s", "zero", "one"], ["n"]),
            node("Concat", ["n", "ones", "last"], ["sizes"], axis=0),
            node(op, ["token", "sizes"], ["tokens"]),
            node("Concat", ["tokens", "x"], ["y"], axis=1),
        ],
        [value("x", ["N", 3, HIDDEN])],
        [value("y", ["N", 4, HIDDEN])],
        [
            init("token", np.arange(HIDDEN, dtype=np.float32).reshape(1, 1, HIDDEN)),
            init("zero", np.array([0], np.int64)),
            init("one", np.array([1], np.int64)),
            init("ones", np.array([1], np.int64)),
            init("last", np.array(last, np.int64)),
        ],
    )


def _batch_feeds(size: int) -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(size).standard_normal((size, 3, HIDDEN), np.float32)}


@pytest.mark.parametrize("op", ["Tile", "Expand"])
def test_a_class_token_tiled_to_the_batch_is_one_expand_like_call(op):
    proto = _class_token(op)
    result, after = _run(proto)
    assert result.modified
    assert ops(after) == {"KerasExpandLike": 1, "Concat": 1}
    call = next(n for n in after.graph.node if n.op_type == "KerasExpandLike")
    attrs = {a.name: list(a.ints) for a in call.attribute}
    assert attrs == {"sizes": [1, 1, HIDDEN], "like_axes": [0, -1, -1]}
    assert list(call.input) == ["token", "x"]
    _parity(proto, after, _batch_feeds)


def _positions(extra_consumer: bool = False):
    """BERT's position embedding: table[: Shape(ids)[1]], expanded to Shape(x), added to x."""
    nodes = [
        node("Shape", ["ids"], ["s"]),
        node("Slice", ["s", "one", "two"], ["steps"]),
        node("Slice", ["table", "zero", "steps", "zero"], ["cut"]),
        node("Shape", ["x"], ["xs"]),
        node("Expand", ["cut", "xs"], ["wide"]),
        node("Add", ["x", "wide"], ["y"]),
    ]
    outputs = [value("y", ["N", "T", HIDDEN])]
    if extra_consumer:  # the expanded value is an output too: it must stay expanded
        outputs.append(value("wide", ["N", "T", HIDDEN]))
    return model(
        nodes,
        [value("ids", ["N", "T"], TensorProto.INT64), value("x", ["N", "T", HIDDEN])],
        outputs,
        [
            init("table", np.arange(8 * HIDDEN, dtype=np.float32).reshape(8, HIDDEN)),
            init("zero", np.array([0], np.int64)),
            init("one", np.array([1], np.int64)),
            init("two", np.array([2], np.int64)),
        ],
    )


def _sequence_feeds(size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(size)
    return {
        "ids": rng.integers(0, 5, (3, size)).astype(np.int64),
        "x": rng.standard_normal((3, size, HIDDEN)).astype(np.float32),
    }


def test_position_embeddings_cut_to_the_input_s_length_are_one_slice_like_call():
    proto = _positions()
    _, after = _run(proto)
    # the Expand goes: the Add broadcasts the cut table over x itself
    assert ops(after) == {"KerasSliceLike": 1, "Add": 1}
    call = next(n for n in after.graph.node if n.op_type == "KerasSliceLike")
    attrs = {a.name: list(a.ints) for a in call.attribute}
    assert attrs == {"axes": [0], "starts": [0], "like_axes": [1]}
    _parity(proto, after, _sequence_feeds)


def test_positions_cut_to_a_computed_sequence_s_length_read_that_axis():
    """Whisper's encoder: the table cut to the length a strided conv left, read from
    ``Shape`` of that 3-D value (not a graph input): axis 1 of it is the source."""
    proto = model(
        [
            node("Relu", ["x"], ["h"]),  # stands for the conv's output, [N, T, C]
            node("Shape", ["h"], ["s"]),
            node("Slice", ["s", "one", "two"], ["steps"]),
            node("Concat", ["steps", "width"], ["ends"], axis=0),
            node("Slice", ["table", "zeros", "ends"], ["cut"]),
            node("Add", ["h", "cut"], ["y"]),
        ],
        [value("x", ["N", "T", HIDDEN])],
        [value("y", ["N", "T", HIDDEN])],
        [
            init("table", np.arange(8 * HIDDEN, dtype=np.float32).reshape(8, HIDDEN)),
            init("zeros", np.array([0, 0], np.int64)),
            init("one", np.array([1], np.int64)),
            init("two", np.array([2], np.int64)),
            init("width", np.array([HIDDEN], np.int64)),
        ],
    )
    _, after = _run(proto)
    assert ops(after) == {"Relu": 1, "KerasSliceLike": 1, "Add": 1}
    call = next(n for n in after.graph.node if n.op_type == "KerasSliceLike")
    attrs = {a.name: list(a.ints) for a in call.attribute}
    assert attrs == {"axes": [0], "starts": [0], "like_axes": [1]}
    assert list(call.input) == ["table", "h"]

    def feeds(size):
        return {"x": np.random.default_rng(size).standard_normal((3, size, HIDDEN), np.float32)}

    _parity(proto, after, feeds)


def test_an_expand_that_is_also_an_output_stays_an_expand_like_call():
    proto = _positions(extra_consumer=True)
    _, after = _run(proto)
    assert ops(after) == {"KerasSliceLike": 1, "KerasExpandLike": 1, "Add": 1}


def test_sizes_from_two_tensors_are_left_alone_with_the_reason():
    proto = model(
        [
            node("Shape", ["x"], ["s"]),
            node("Slice", ["s", "zero", "one"], ["n"]),
            node("Shape", ["z"], ["zs"]),
            node("Slice", ["zs", "zero", "one"], ["m"]),
            node("Concat", ["n", "m"], ["sizes"], axis=0),
            node("Expand", ["token", "sizes"], ["y"]),
        ],
        [value("x", ["N", 3]), value("z", ["M", 3])],
        [value("y", ["N", "M"])],
        [
            init("token", np.ones((1, 1), np.float32)),
            init("zero", np.array([0], np.int64)),
            init("one", np.array([1], np.int64)),
        ],
    )
    result, after = _run(proto)
    assert ops(after)["Expand"] == 1 and "KerasExpandLike" not in ops(after)
    assert any("are not one tensor's dims" in s for s in result.skipped), result.skipped


def test_an_unknown_repeat_of_an_axis_longer_than_one_is_left_alone():
    proto = model(
        [
            node("Shape", ["x"], ["s"]),
            node("Slice", ["s", "zero", "one"], ["n"]),
            node("Concat", ["n", "one"], ["reps"], axis=0),
            node("Tile", ["token", "reps"], ["y"]),
        ],
        [value("x", ["N", 3])],
        [value("y", ["N2", 2])],
        [
            init("token", np.ones((2, 2), np.float32)),
            init("zero", np.array([0], np.int64)),
            init("one", np.array([1], np.int64)),
        ],
    )
    result, after = _run(proto)
    assert ops(after)["Tile"] == 1
    assert any("of size other than 1" in s for s in result.skipped), result.skipped


def test_a_slice_with_a_step_is_left_alone():
    proto = model(
        [
            node("Shape", ["x"], ["s"]),
            node("Slice", ["s", "zero", "one"], ["n"]),
            node("Slice", ["table", "zero", "n", "zero", "two"], ["y"]),
        ],
        [value("x", ["N", 3])],
        [value("y", ["K", HIDDEN])],
        [
            init("table", np.ones((8, HIDDEN), np.float32)),
            init("zero", np.array([0], np.int64)),
            init("one", np.array([1], np.int64)),
            init("two", np.array([2], np.int64)),
        ],
    )
    result, after = _run(proto)
    assert ops(after)["Slice"] == 2 and "KerasSliceLike" not in ops(after)  # and Shape's
    assert any("a step other than 1" in s for s in result.skipped), result.skipped


def test_unknown_dims_are_kept_where_the_result_does_not_depend_on_them():
    """tf2onnx's strided slice asks whether an end is 0 ("to the end"): a size never is."""
    dim, zero, one = SymVec(("sym:T",)), SymVec((0,)), SymVec((1,))
    assert _elementwise("Equal", dim, zero).items == (0,)
    assert _elementwise("Equal", dim, dim).items == (1,)
    assert _elementwise("Mul", dim, zero).items == (0,)
    assert _elementwise("Mul", one, dim).items == ("sym:T",)
    assert _elementwise("Add", dim, zero).items == ("sym:T",)
    assert _elementwise("Add", dim, one) is None  # T + 1 is no dim
    assert _elementwise("Equal", dim, SymVec((3,))) is None  # T may be 3
    assert _elementwise("Mul", SymVec((2, 3)), SymVec((4,))).items == (8, 12)


def _causal(start_from_input: bool = False):
    """keras-hub's causal mask: positions Range(0, T, 1) from Shape(x)[1] (cast to float),
    compared i >= j, broadcast to [N, T, T] with N and T both read from x's Shape. The graph
    input ids has T too (the range counts to its length: graph inputs come first), not N:
    the one tensor with both dims, for the broadcast, is x."""
    nodes = [
        node("Shape", ["x"], ["s"]),
        node("Slice", ["s", "one", "two"], ["t1"]),
        node("Squeeze", ["t1", "zero"], ["t"]),
        node("Cast", ["t"], ["limit"], to=TensorProto.FLOAT),
        node("Range", ["start", "limit", "step"], ["positions"]),
        node("Unsqueeze", ["positions", "one"], ["column"]),
        node("GreaterOrEqual", ["column", "positions"], ["lower"]),
        node("Unsqueeze", ["lower", "zero"], ["lower3"]),
        node("Slice", ["s", "zero", "one"], ["n"]),
        node("Concat", ["n", "t1", "t1"], ["target"], axis=0),
        node("Expand", ["lower3", "target"], ["wide"]),
        node("Cast", ["wide"], ["y"], to=TensorProto.FLOAT),
        node("Cast", ["ids"], ["ids_float"], to=TensorProto.FLOAT),
        node("Add", ["ids_float", "ids_float"], ["z"]),
    ]
    start = value("start", []) if start_from_input else None
    return model(
        nodes,
        [value("ids", ["M", "T"], TensorProto.INT64), value("x", ["N", "T", HIDDEN])]
        + ([start] if start else []),
        [value("y", ["N", "T", "T"]), value("z", ["M", "T"])],
        [
            init("zero", np.array([0], np.int64)),
            init("one", np.array([1], np.int64)),
            init("two", np.array([2], np.int64)),
            init("step", np.array(1.0, np.float32)),
        ]
        + ([] if start_from_input else [init("start", np.array(0.0, np.float32))]),
    )


def test_positions_counted_to_the_length_are_one_range_like_call():
    proto = _causal()
    _, after = _run(proto)
    assert ops(after) == {
        "KerasRangeLike": 1,
        "Unsqueeze": 2,
        "GreaterOrEqual": 1,
        "KerasExpandLike": 1,
        "Cast": 2,
        "Add": 1,
    }
    calls = {n.op_type: n for n in after.graph.node if n.domain}
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in calls["KerasRangeLike"].attribute}
    assert attrs == {"start": 0.0, "delta": 1.0, "like_axis": 1, "to": TensorProto.FLOAT}
    assert list(calls["KerasRangeLike"].input) == ["ids"]
    expand = {a.name: list(a.ints) for a in calls["KerasExpandLike"].attribute}
    assert expand == {"sizes": [1, 1, 1], "like_axes": [0, 1, 1]}
    assert list(calls["KerasExpandLike"].input) == ["lower3", "x"]
    _parity(proto, after, _sequence_feeds)


def test_a_range_from_a_computed_start_is_left_alone():
    result, after = _run(_causal(start_from_input=True))
    assert ops(after)["Range"] == 1 and "KerasRangeLike" not in ops(after)
    assert any("a range with a computed start or step" in s for s in result.skipped)
