"""canonical_order: one node order whatever order the exporter wrote independent branches in."""

from __future__ import annotations

import json

import numpy as np

from pipeline import metadata
from pipeline.passes.canonical_order import CanonicalOrder
from tests.graphs import apply, assert_parity, init, model, node, value

A = np.random.default_rng(7).standard_normal((4, 4)).astype(np.float32)


def _two_branches(swapped: bool):
    """A Dense branch and a ReLU branch joined by a Dot-like layer whose two Unsqueezes are
    independent: written in one order or the other (as tf2onnx may)."""
    left = node("MatMul", ["x", "a"], ["left"], layer="dense", cls="Dense")
    right = node("Relu", ["x"], ["right"], layer="act", cls="ReLU")
    unsqueezes = [
        node("Unsqueeze", ["left", "axis1"], ["u1"], layer="join", cls="Dot"),
        node("Unsqueeze", ["x2", "axis2"], ["u2"], layer="join", cls="Dot"),
    ]
    first = [right, left] if swapped else [left, right]
    nodes = [*first, *(unsqueezes[::-1] if swapped else unsqueezes)]
    nodes.append(node("Mul", ["u1", "u2"], ["y"], layer="join", cls="Dot"))
    proto = model(
        [*nodes[:2], node("Add", ["right", "right"], ["x2"], layer="act", cls="ReLU"), *nodes[2:]],
        [value("x", ["N", 4])],
        [value("y", ["N", None, None])],
        [
            init("a", A),
            init("axis1", np.array([1], np.int64)),
            init("axis2", np.array([2], np.int64)),
        ],
    )
    layers = [["dense", "Dense"], ["act", "ReLU"], ["join", "Dot"]]
    proto.metadata_props.add(key=metadata.LAYERS, value=json.dumps(layers))
    return proto


def _order(proto) -> list[str]:
    return [n.name for n in proto.graph.node]


def test_either_order_in_gives_the_keras_layer_order_out():
    results = [apply(CanonicalOrder(), _two_branches(swapped)) for swapped in (False, True)]
    (_, first), (result, second) = results
    assert result.modified
    assert _order(first) == _order(second) == ["left", "right", "x2", "u1", "u2", "y"]
    assert len(first.graph.node) == 6
    assert_parity(_two_branches(True), second)


def test_a_graph_already_in_that_order_is_left_alone():
    result, after = apply(CanonicalOrder(), _two_branches(False))
    assert _order(after) == ["left", "right", "x2", "u1", "u2", "y"]
    assert not result.modified
