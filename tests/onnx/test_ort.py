"""The checks' onnxruntime runs evaluate ``Sigmoid`` by its ONNX definition
(``pipeline.ort.defined_sigmoid``): onnxruntime's own CPU kernel is far off in relative terms
in its lower tail, which failed a correct conversion (fuzz seed 2213)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper

from pipeline import ort

X = np.concatenate([np.linspace(-80, 80, 16001), [0.0, np.inf, -np.inf]]).astype(np.float32)
FLOAT32_ULP = 2.0**-23


def _sigmoid_model() -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Sigmoid", ["x"], ["y"], name="probs")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [X.size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [X.size])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _relative_error(y: np.ndarray) -> float:
    with np.errstate(over="ignore"):
        exact = 1.0 / (1.0 + np.exp(-X.astype(np.float64)))
    normal = exact > np.finfo(np.float32).tiny  # below it float32 holds no relative precision
    return float((np.abs(y - exact)[normal] / exact[normal]).max())


def test_a_sigmoid_is_run_to_float32_precision_in_its_tail():
    model = _sigmoid_model()
    (y,) = ort.run(model, {"x": X})
    assert _relative_error(y) < 2 * FLOAT32_ULP
    assert list(y[-3:]) == [0.5, 1.0, 0.0]
    # why: onnxruntime's own kernel, on the file as written (if this fails, onnxruntime's
    # Sigmoid became exact and defined_sigmoid can go)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    kernel = onnxruntime.InferenceSession(model.SerializeToString(), options)
    assert _relative_error(kernel.run(None, {"x": X})[0]) > 1e-4


def test_every_sigmoid_is_rewritten_the_rest_and_the_original_left_alone():
    """In the graph, in a function (stage 1's recurrent layers) and in an If's branches."""
    branch = helper.make_graph(
        [helper.make_node("Sigmoid", ["x"], ["b"])],
        "branch",
        [],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, [2])],
    )
    function = helper.make_function(
        "test",
        "Gate",
        ["t"],
        ["u"],
        [helper.make_node("Sigmoid", ["t"], ["u"])],
        [helper.make_opsetid("", 17)],
    )
    nodes = [
        helper.make_node("Sigmoid", ["x"], ["s"], name="head", doc_string="keras_layer: out"),
        helper.make_node("Gate", ["s"], ["g"], domain="test"),
        helper.make_node("If", ["c"], ["i"], then_branch=branch, else_branch=branch),
        helper.make_node("Add", ["g", "i"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(
        graph,
        functions=[function],
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("test", 1)],
    )
    before = model.SerializeToString()
    rewritten = ort.defined_sigmoid(model)
    assert model.SerializeToString() == before
    lists = [rewritten.graph.node, rewritten.functions[0].node]
    lists += [a.g.node for a in rewritten.graph.node[-2].attribute]
    assert [n.op_type for n in rewritten.graph.node].count("Sigmoid") == 0
    assert all("Sigmoid" not in [n.op_type for n in nodes] for nodes in lists)
    assert [len(nodes) for nodes in lists] == [4 + 5, 1 + 5, 1 + 5, 1 + 5]
    head = rewritten.graph.node[5]  # the node that writes "s" keeps the Sigmoid's name and doc
    assert (head.op_type, list(head.output), head.name) == ("Reciprocal", ["s"], "head")
    assert head.doc_string == "keras_layer: out"
    onnx.checker.check_model(rewritten, full_check=True)
    x = np.array([-9.0, 3.0], np.float32)
    (y,) = ort.run(model, {"x": x, "c": np.array(True)})
    s = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-s)) + s, rtol=2 * FLOAT32_ULP)


def test_a_model_without_sigmoid_is_run_as_it_is():
    model = _sigmoid_model()
    model.graph.node[0].op_type = "Relu"
    assert ort.defined_sigmoid(model) is model
