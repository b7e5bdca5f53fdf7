"""dense_reshape: a Dense reshaped into a feature map computes it channels-first; the layout
Transpose after the Reshape goes."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.passes.dense_reshape import DenseReshape
from tests.graphs import apply, assert_parity, init, model, node, ops, value

K, H, W_, C = 6, 2, 3, 4
RNG = np.random.default_rng(5)
KERNEL = RNG.standard_normal((K, H * W_ * C)).astype(np.float32)
BIAS = RNG.standard_normal(H * W_ * C).astype(np.float32)


def _head(bias=True, act="Relu", perm=(0, 3, 1, 2), extra=()):
    """v[N, K] -> MatMul -> [Add] -> [act] -> Reshape([-1, H, W, C]) -> Transpose(perm)."""
    nodes, last = [node("MatMul", ["v", "k"], ["m"])], "m"
    if bias:
        nodes.append(node("Add", [last, "b"], ["a"]))
        last = "a"
    if act:
        nodes.append(node(act, [last], ["r"]))
        last = "r"
    nodes += [
        node("Reshape", [last, "shape"], ["map"]),
        node("Transpose", ["map"], ["y"], perm=list(perm)),
        *extra,
    ]
    nhwc = ("N", H, W_, C)
    out = [value("y", [nhwc[axis] for axis in perm])]
    inits = [init("k", KERNEL), init("b", BIAS), init("shape", np.array([-1, H, W_, C], np.int64))]
    return model(nodes, [value("v", ["N", K])], out, inits)


@pytest.mark.parametrize(("bias", "act"), [(True, "Relu"), (False, "Relu"), (True, None)])
def test_dense_reshaped_to_a_map_computes_it_channels_first(bias, act):
    proto = _head(bias, act)
    result, after = apply(DenseReshape(), proto)
    assert result.modified and "Transpose" not in ops(after)
    assert ops(after)["Reshape"] == 1 and ops(after)["MatMul"] == 1
    assert_parity(proto, after)


def test_another_transpose_after_the_reshape_is_left_alone():
    proto = _head(perm=(0, 3, 2, 1))
    result, after = apply(DenseReshape(), proto)
    assert not result.modified and ops(after) == ops(proto)


def test_a_dense_value_read_twice_is_left_alone():
    proto = _head(extra=[node("Sigmoid", ["a"], ["s"])])
    proto.graph.output.append(value("s", ["N", H * W_ * C]))
    result, after = apply(DenseReshape(), proto)
    assert not result.modified and ops(after) == ops(proto)


def test_a_computed_kernel_is_left_alone():
    proto = _head()
    proto.graph.initializer.remove(next(i for i in proto.graph.initializer if i.name == "k"))
    proto.graph.input.append(value("k", [K, H * W_ * C]))
    result, after = apply(DenseReshape(), proto)
    assert not result.modified and ops(after) == ops(proto)
