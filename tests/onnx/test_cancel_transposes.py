"""cancel_transposes: inverse pairs vanish, chains merge, identities go."""

from __future__ import annotations

from pipeline.passes.cancel_transposes import CancelTransposes
from tests.graphs import apply, assert_parity, model, node, ops, value


def _chain(*perms):
    nodes, prev = [], "x"
    for i, perm in enumerate(perms):
        out = "y" if i == len(perms) - 1 else f"t{i}"
        nodes.append(node("Transpose", [prev], [out], perm=list(perm)))
        prev = out
    nodes.append(node("Relu", ["y"], ["z"]))
    return model(nodes, [value("x", ["N", 2, 3, 4])], [value("z", ["N", None, None, None])])


def test_inverse_pair_vanishes():
    proto = _chain((0, 2, 3, 1), (0, 3, 1, 2))
    result, after = apply(CancelTransposes(), proto)
    assert result.modified and ops(after) == {"Relu": 1}
    assert_parity(proto, after)


def test_chain_merges_into_one():
    proto = _chain((0, 2, 3, 1), (0, 2, 1, 3))
    _, after = apply(CancelTransposes(), proto)
    assert ops(after) == {"Transpose": 1, "Relu": 1}
    assert_parity(proto, after)


def test_identity_goes():
    proto = _chain((0, 1, 2, 3))
    _, after = apply(CancelTransposes(), proto)
    assert ops(after) == {"Relu": 1}
    assert_parity(proto, after)


def test_lone_transpose_stays():
    proto = _chain((0, 2, 3, 1))
    result, after = apply(CancelTransposes(), proto)
    assert not result.modified and ops(after) == ops(proto)


def test_an_inverse_of_a_transpose_read_twice_reads_its_source():
    """A layout change read by a Relu and by a Transpose back: the Transpose back goes, the
    first stays for the Relu alone."""
    nodes = [
        node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
        node("Relu", ["t"], ["a"]),
        node("Transpose", ["t"], ["b"], perm=[0, 3, 1, 2]),
        node("Sigmoid", ["b"], ["c"]),
    ]
    proto = model(
        nodes,
        [value("x", ["N", 2, 3, 4])],
        [value("a", ["N", 3, 4, 2]), value("c", ["N", 2, 3, 4])],
    )
    result, after = apply(CancelTransposes(), proto)
    assert result.modified and ops(after) == {"Transpose": 1, "Relu": 1, "Sigmoid": 1}
    assert after.graph.node[-1].input[0] == "x"
    assert_parity(proto, after)
