"""reshape_dims: a Reshape's -1 named as the input dim it stands for, so that the batch stays
one dim through reshapes to computed targets (keras-hub MiT): fold_shapes can then fold the
next computed target. Each case it cannot name is left as inference named it."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import numpy_helper

from pipeline.passes.fold_shapes import FoldShapes
from pipeline.passes.reshape_dims import ReshapeDims, reshaped
from tests.graphs import apply, assert_parity, init, model, node, ops, value


def _tokens_to_map_and_back():
    """MiT's spatial reduction: tokens [N, 16, 4] -> map [-1, 4, 4, 4] -> its Relu -> tokens
    again, the target computed from the tokens' Shape ([Shape(t)[0], -1, 4]): without the
    map's batch named N, the target has two unknowns."""
    return model(
        [
            node("Reshape", ["t", "to_map"], ["m"]),
            node("Relu", ["m"], ["r"]),
            node("Shape", ["t"], ["s"]),
            node("Slice", ["s", "zero", "one"], ["n"]),
            node("Concat", ["n", "minus1", "four"], ["target"], axis=0),
            node("Reshape", ["r", "target"], ["y"]),
        ],
        [value("t", ["N", 16, 4])],
        [value("y", ["N", 16, 4])],
        [
            init("to_map", np.array([-1, 4, 4, 4], np.int64)),
            init("zero", np.array([0], np.int64)),
            init("one", np.array([1], np.int64)),
            init("minus1", np.array([-1], np.int64)),
            init("four", np.array([4], np.int64)),
        ],
    )


def test_the_batch_stays_named_through_a_reshape_and_the_next_target_folds():
    proto = _tokens_to_map_and_back()
    alone, _ = apply(FoldShapes(), proto, cleanup=True)
    assert "no 0 or -1 can stand for" in alone.skipped[0]  # what the pass is for
    result, after = apply([ReshapeDims(), FoldShapes()], proto, cleanup=True)
    assert result.modified and ops(after) == {"Reshape": 2, "Relu": 1}
    targets = [list(numpy_helper.to_array(i)) for i in after.graph.initializer]
    assert [0, -1, 4] in targets  # the tokens' batch copied by 0
    assert_parity(proto, after)


@pytest.mark.parametrize(
    ("data", "target", "out"),
    [
        (("sym:N", 8, 8, 8), (-1, 64, 8), ["sym:N", 64, 8]),  # -1 is the one unnamed-in-target dim
        (("sym:N", 8, 8, 8), ("sym:N", -1, 8), ["sym:N", 64, 8]),  # -1 is a size
        (("sym:N", "sym:T", 8), (0, 0, 2, 4), ["sym:N", "sym:T", 2, 4]),  # 0 copies
        (("sym:N", 6), ("sym:N", 2, 3), ["sym:N", 2, 3]),  # no -1
    ],
)
def test_each_dim_the_target_determines_is_named(data, target, out):
    assert reshaped(data, target, allowzero=False) == out


@pytest.mark.parametrize(
    ("data", "target", "why"),
    [
        (("sym:N", "sym:T", 8), (-1, 8), "two named dims merged into the -1"),
        (("sym:N", 8, 8, 8), (-1, 32, 8), "the -1 is N times 2: no one dim"),
        (("sym:N", 8), ("sym:M", -1), "a name the input does not have"),
        (("dim:x[0]", 8), (-1, 8), "an unnamed dim"),
        (("sym:N", 8, 6), (-1, 5), "sizes that do not divide"),
    ],
)
def test_a_dim_the_target_does_not_determine_is_left_alone(data, target, why):
    assert reshaped(data, target, allowzero=False) is None, why


def test_shapes_inference_cannot_give_back_are_kept():
    """Shape inference fails on the whole graph (an Add of a float and an int tensor, which
    onnxruntime never runs here): the shapes it cleared come back as they were."""
    import onnx_ir as ir
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["t", "to_map"], ["m"]),
            helper.make_node("Relu", ["m"], ["r"]),
            helper.make_node("Add", ["f", "i"], ["bad"]),
        ],
        "g",
        [
            helper.make_tensor_value_info("t", TensorProto.FLOAT, ["N", 16, 4]),
            helper.make_tensor_value_info("f", TensorProto.FLOAT, [2]),
            helper.make_tensor_value_info("i", TensorProto.INT64, [2]),
        ],
        [helper.make_tensor_value_info("bad", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.array([-1, 4, 4, 4], np.int64), "to_map")],
        value_info=[helper.make_tensor_value_info("r", TensorProto.FLOAT, ["K", 4, 4, 4])],
    )
    model = ir.from_proto(helper.make_model(graph))
    assert ReshapeDims()(model).modified
    values = {v.name: v for node in model.graph for v in node.outputs}
    assert [str(d) for d in values["m"].shape] == ["N", "4", "4", "4"]  # the settled Reshape
    assert [str(d) for d in values["r"].shape] == ["K", "4", "4", "4"]  # as it was
