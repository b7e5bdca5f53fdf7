"""transposes_past_elementwise: a Transpose moves below Dropouts and activations, so that
flatten_dense, cancel_transposes and nchw_output meet it."""

from __future__ import annotations

import numpy as np

from pipeline.passes.cancel_transposes import CancelTransposes
from pipeline.passes.flatten_dense import FlattenDense
from pipeline.passes.transpose_down import TransposesPastElementwise
from tests.graphs import apply, assert_parity, init, model, node, ops, value

NHWC = [0, 2, 3, 1]


def _head(*between: str):
    """Relu(x NCHW) -> Transpose to NHWC -> ``between`` ops -> Flatten -> MatMul: the CNN head
    Conv -> BatchNorm -> ReLU -> Dropout -> Flatten -> Dense as tf2onnx leaves it."""
    rng = np.random.default_rng(0)
    nodes = [node("Relu", ["x"], ["r"]), node("Transpose", ["r"], ["t0"], perm=NHWC)]
    for i, op in enumerate(between):
        extra = ["ratio"] if op == "Dropout" else []
        nodes.append(node(op, [f"t{i}", *extra], [f"t{i + 1}"]))
    last = f"t{len(between)}"
    nodes += [node("Flatten", [last], ["f"], axis=1), node("MatMul", ["f", "w"], ["y"])]
    inits = [init("w", rng.standard_normal((4 * 3 * 2, 5)).astype(np.float32))]
    inits += [init("ratio", np.array(0.25, np.float32))] if "Dropout" in between else []
    return model(nodes, [value("x", ["N", 2, 4, 3])], [value("y", ["N", 5])], inits)


def test_a_dropout_before_flatten_lets_flatten_dense_take_the_transpose():
    proto = _head("Dropout")
    result, moved = apply(TransposesPastElementwise(), proto)
    assert result.modified
    assert [n.op_type for n in moved.graph.node][:3] == ["Relu", "Dropout", "Transpose"]
    _, after = apply((TransposesPastElementwise(), FlattenDense()), proto, cleanup=True)
    assert ops(after) == {"Relu": 1, "Dropout": 1, "Flatten": 1, "MatMul": 1}
    assert_parity(proto, after)


def test_a_chain_of_dropouts_identities_and_activations_is_passed_whole():
    proto = _head("Dropout", "Identity", "Sigmoid", "Dropout")
    _, after = apply((TransposesPastElementwise(), FlattenDense()), proto, cleanup=True)
    assert ops(after) == {
        "Relu": 1,
        "Dropout": 2,
        "Identity": 1,
        "Sigmoid": 1,
        "Flatten": 1,
        "MatMul": 1,
    }
    assert_parity(proto, after)


def test_a_transpose_before_its_inverse_through_a_dropout_cancels():
    nodes = [
        node("Transpose", ["x"], ["t"], perm=NHWC),
        node("Dropout", ["t"], ["d"]),
        node("Transpose", ["d"], ["b"], perm=[0, 3, 1, 2]),
        node("Conv", ["b", "w"], ["y"]),
    ]
    kernel = init("w", np.random.default_rng(0).standard_normal((3, 2, 1, 1)).astype(np.float32))
    proto = model(nodes, [value("x", ["N", 2, 4, 3])], [value("y", ["N", 3, 4, 3])], [kernel])
    _, after = apply((TransposesPastElementwise(), CancelTransposes()), proto)
    assert ops(after) == {"Dropout": 1, "Conv": 1}
    assert_parity(proto, after)


def test_a_graph_output_keeps_its_name_after_the_move():
    nodes = [node("Transpose", ["x"], ["t"], perm=NHWC), node("Dropout", ["t"], ["y"])]
    proto = model(nodes, [value("x", ["N", 2, 4, 3])], [value("y", ["N", 4, 3, 2])])
    _, after = apply(TransposesPastElementwise(), proto)
    assert [n.op_type for n in after.graph.node] == ["Dropout", "Transpose"]
    assert after.graph.node[-1].output[0] == "y"
    assert_parity(proto, after)


def test_a_transpose_read_twice_stays():
    nodes = [
        node("Transpose", ["x"], ["t"], perm=NHWC),
        node("Dropout", ["t"], ["d"]),
        node("Add", ["t", "d"], ["y"]),
    ]
    proto = model(nodes, [value("x", ["N", 2, 4, 3])], [value("y", ["N", 4, 3, 2])])
    result, after = apply(TransposesPastElementwise(), proto)
    assert not result.modified
    assert [n.op_type for n in after.graph.node] == ["Transpose", "Dropout", "Add"]


def test_a_dropout_whose_mask_is_used_stays():
    nodes = [
        node("Transpose", ["x"], ["t"], perm=NHWC),
        node("Dropout", ["t"], ["d", "mask"]),
        node("Cast", ["mask"], ["m"], to=1),
        node("Mul", ["d", "m"], ["y"]),
    ]
    proto = model(nodes, [value("x", ["N", 2, 4, 3])], [value("y", ["N", 4, 3, 2])])
    result, _ = apply(TransposesPastElementwise(), proto)
    assert not result.modified


def test_a_dropout_with_a_computed_ratio_stays():
    nodes = [
        node("Transpose", ["x"], ["t"], perm=NHWC),
        node("Dropout", ["t", "r"], ["y"]),
    ]
    proto = model(nodes, [value("x", ["N", 2, 4, 3]), value("r", [])], [value("y", ["N", 4, 3, 2])])
    result, _ = apply(TransposesPastElementwise(), proto)
    assert not result.modified


def test_the_moved_transpose_takes_the_provenance_of_the_op_it_passed():
    """diagnose reads a layer's value at its last node: the Transpose, now after the op,
    lays out the op's layer's output, not its own layer's."""
    nodes = [
        node("Transpose", ["x"], ["t"], layer="pool", perm=NHWC),
        node("Selu", ["t"], ["s"], layer="act", cls="Activation"),
        node("Flatten", ["s"], ["y"], axis=1),
    ]
    proto = model(nodes, [value("x", ["N", 2, 4, 3])], [value("y", ["N", 24])])
    _, after = apply(TransposesPastElementwise(), proto)
    assert [n.op_type for n in after.graph.node] == ["Selu", "Transpose", "Flatten"]
    assert after.graph.node[1].doc_string == after.graph.node[0].doc_string
    assert "act" in after.graph.node[1].doc_string
