"""squeeze_to_flatten: GlobalAveragePool + Squeeze(trailing 1x1) -> + Flatten."""

from __future__ import annotations

import numpy as np

from pipeline.passes.squeeze_flatten import SqueezeToFlatten
from tests.graphs import apply, assert_parity, init, model, node, ops, value


def _pooled(axes):
    return model(
        [node("GlobalAveragePool", ["x"], ["p"]), node("Squeeze", ["p", "axes"], ["y"])],
        [value("x", ["N", 3, 4, 4])],
        [value("y", ["N", 3])],
        [init("axes", np.array(axes, np.int64))],
    )


def test_trailing_unit_axes_become_flatten():
    proto = _pooled([2, 3])
    result, after = apply(SqueezeToFlatten(), proto)
    assert result.modified and ops(after) == {"GlobalAveragePool": 1, "Flatten": 1}
    assert_parity(proto, after)


def test_negative_axes_count_too():
    proto = _pooled([-1, -2])
    _, after = apply(SqueezeToFlatten(), proto)
    assert ops(after) == {"GlobalAveragePool": 1, "Flatten": 1}
    assert_parity(proto, after)


def test_other_squeeze_is_left_alone():
    proto = model(
        [node("Squeeze", ["x", "axes"], ["y"])],
        [value("x", ["N", 1, 4, 4])],
        [value("y", ["N", 4, 4])],
        [init("axes", np.array([1], np.int64))],
    )
    result, after = apply(SqueezeToFlatten(), proto)
    assert not result.modified and ops(after) == ops(proto)
