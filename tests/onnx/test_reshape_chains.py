"""reshape_chains: a Reshape of a Reshape reads past the first, a Reshape to its input's own
shape is dropped (what two TimeDistributed layers in a row leave)."""

from __future__ import annotations

import numpy as np

from pipeline.passes.reshape_chains import ReshapeChains
from tests.graphs import apply, assert_parity, init, model, node, ops, value


def _shape(name: str, dims: list[int]):
    return init(name, np.array(dims, np.int64))


def _frames_back_and_forth(second: list[int], output_dims: list):
    """A video [N, 2, 6, 6, 4] as frames, a per-frame Relu, back to [N, 2, ...] and then
    Reshape ``second``: as TimeDistributed writes it between two per-frame layers."""
    return model(
        [
            node("Reshape", ["x", "to_frames"], ["f"]),
            node("Relu", ["f"], ["r"]),
            node("Reshape", ["r", "to_video"], ["v"]),
            node("Reshape", ["v", "second"], ["s"]),
            node("Sigmoid", ["s"], ["y"]),
        ],
        [value("x", ["N", 2, 6, 6, 4])],
        [value("y", output_dims)],
        [
            _shape("to_frames", [-1, 6, 6, 4]),
            _shape("to_video", [-1, 2, 6, 6, 4]),
            _shape("second", second),
        ],
    )


def test_a_chain_back_to_the_frames_is_no_reshape_at_all():
    proto = _frames_back_and_forth([-1, 6, 6, 4], ["M", 6, 6, 4])
    result, after = apply(ReshapeChains(), proto, cleanup=True)
    assert result.modified and ops(after) == {"Reshape": 1, "Relu": 1, "Sigmoid": 1}
    assert assert_parity(proto, after) == 0.0


def test_a_chain_to_another_shape_is_one_reshape():
    proto = _frames_back_and_forth([-1, 36, 4], ["M", 36, 4])
    result, after = apply(ReshapeChains(), proto, cleanup=True)
    assert result.modified and ops(after) == {"Reshape": 2, "Relu": 1, "Sigmoid": 1}
    reads = {n.input[0] for n in after.graph.node if n.op_type == "Reshape"}
    assert reads == {"x", "r"}  # the second reads the per-frame output itself
    assert assert_parity(proto, after) == 0.0


def test_a_target_that_copies_a_dim_keeps_the_chain():
    """A 0 in the second target copies a dim of the first Reshape's output (T, here 2), which
    the first Reshape's input does not have there."""
    proto = _frames_back_and_forth([0, 0, -1], ["N", 2, 144])
    result, after = apply(ReshapeChains(), proto, cleanup=True)
    assert not result.modified and ops(after) == ops(proto)


def test_an_identity_that_is_a_graph_output_stays():
    proto = model(
        [node("Relu", ["x"], ["r"]), node("Reshape", ["r", "same"], ["y"])],
        [value("x", ["N", 3, 4])],
        [value("y", ["N", 3, 4])],
        [_shape("same", [-1, 3, 4])],
    )
    result, after = apply(ReshapeChains(), proto)
    assert not result.modified and ops(after) == {"Relu": 1, "Reshape": 1}
    assert result.skipped and "graph output" in result.skipped[0]


def test_a_reshape_to_another_shape_is_no_identity():
    proto = model(
        [node("Reshape", ["x", "other"], ["r"]), node("Relu", ["r"], ["y"])],
        [value("x", ["N", 3, 4])],
        [value("y", ["N", 4, 3])],
        [_shape("other", [-1, 4, 3])],
    )
    result, after = apply(ReshapeChains(), proto)
    assert not result.modified and ops(after) == {"Reshape": 1, "Relu": 1}
