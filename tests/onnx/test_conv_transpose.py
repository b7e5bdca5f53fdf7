"""split_asymmetric_conv_transpose: uneven pads become symmetric pads + a crop."""

from __future__ import annotations

import numpy as np

from pipeline.passes.conv_transpose import SplitAsymmetricConvTranspose
from tests.graphs import apply, assert_parity, init, model, node, ops, value

W = np.random.default_rng(9).standard_normal((2, 3, 3, 3)).astype(np.float32)


def _deconv(pads, out_hw):
    return model(
        [node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], kernel_shape=[3, 3], pads=pads)],
        [value("x", ["N", 2, 4, 4])],
        [value("y", ["N", 3, *out_hw])],
        [init("w", W)],
    )


def test_uneven_pads_become_a_crop():
    proto = _deconv([0, 0, 1, 1], [8, 8])
    result, after = apply(SplitAsymmetricConvTranspose(), proto)
    assert result.modified and ops(after) == {"ConvTranspose": 1, "Slice": 1}
    pads = [a.ints for a in after.graph.node[0].attribute if a.name == "pads"][0]
    assert list(pads) == [0, 0, 0, 0]
    assert after.graph.output[0].name == "y"
    assert_parity(proto, after)


def test_mixed_pads_keep_their_symmetric_part():
    proto = _deconv([1, 0, 2, 1], [6, 8])
    _, after = apply(SplitAsymmetricConvTranspose(), proto)
    pads = [a.ints for a in after.graph.node[0].attribute if a.name == "pads"][0]
    assert list(pads) == [1, 0, 1, 0]
    assert_parity(proto, after)


def test_symmetric_pads_are_left_alone():
    proto = _deconv([1, 1, 1, 1], [7, 7])
    result, after = apply(SplitAsymmetricConvTranspose(), proto)
    assert not result.modified and ops(after) == ops(proto)
