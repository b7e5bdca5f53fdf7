"""name_after_keras: Keras names on nodes, torch names on weights, stable dim names."""

from __future__ import annotations

import numpy as np

from pipeline import metadata
from pipeline.passes.naming import NameAfterKeras
from tests.graphs import apply, assert_parity, init, model, node, value

RNG = np.random.default_rng(3)


def _conv_dense():
    return model(
        [
            node("Conv", ["x", "w0", "b0"], ["c"], layer="block1/conv 1", cls="Conv2D"),
            node("Relu", ["c"], ["r"], layer="block1/conv 1", cls="Conv2D"),
            node("Flatten", ["r"], ["f"], layer="flatten", cls="Flatten"),
            node("Gemm", ["f", "k", "b"], ["y"], layer="fc1", cls="Dense", transB=1),
            node("Relu", ["y"], ["z"]),
        ],
        [value("x", ["unk__7", 1, 4, 4])],
        [value("z", ["unk__9", 3])],
        [
            init("w0", RNG.standard_normal((2, 1, 3, 3)).astype(np.float32)),
            init("b0", RNG.standard_normal(2).astype(np.float32)),
            init("k", RNG.standard_normal((3, 8)).astype(np.float32)),
            init("b", RNG.standard_normal(3).astype(np.float32)),
        ],
        metadata={metadata.MODEL_NAME: "my-net"},
    )


def test_nodes_weights_and_dims_are_named():
    proto = _conv_dense()
    result, after = apply(NameAfterKeras(), proto)
    assert result.modified
    assert [n.name for n in after.graph.node] == [
        "block1_conv_1",
        "block1_conv_1_relu",
        "flatten",
        "fc1",
        "relu",
    ]
    assert [i.name for i in after.graph.initializer] == [
        "block1_conv_1.weight",
        "block1_conv_1.bias",
        "fc1.weight",
        "fc1.bias",
    ]
    assert after.graph.input[0].name == "x" and after.graph.output[0].name == "z"
    assert after.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert after.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert after.graph.name == "my_net"
    assert all(n.name.isidentifier() for n in after.graph.node)
    assert_parity(proto, after)


def test_naming_twice_changes_nothing():
    _, once = apply(NameAfterKeras(), _conv_dense())
    result, twice = apply(NameAfterKeras(), once, infer_shapes=False)
    assert not result.modified
    assert once.SerializeToString() == twice.SerializeToString()


def test_no_node_takes_a_graph_input_s_name():
    """onnx2torch would read a node named like a graph input as that input (a Transpose that
    tf2onnx attributed to the InputLayer 'v' fed v's Dense in forward: fuzzer seed 105)."""
    proto = model(
        [
            node("Transpose", ["x"], ["t"], "v", "InputLayer", perm=[0, 2, 1]),
            node("Add", ["t", "v"], ["y"], "add", "Add"),
        ],
        [value("x", ["N", 3, 4]), value("v", ["N", 4, 3])],
        [value("y", ["N", 4, 3])],
    )
    _, after = apply(NameAfterKeras(), proto)
    names = [n.name for n in after.graph.node]
    assert "v" not in names and names[0].startswith("v_")
