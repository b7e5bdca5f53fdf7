"""nchw_output: an NHWC output's Transpose goes, the NCHW output is declared."""

from __future__ import annotations

import numpy as np

from pipeline import metadata
from pipeline.passes.nchw_output import NchwOutput
from tests.graphs import apply, assert_parity, init, model, node, ops, value

W = np.random.default_rng(5).standard_normal((2, 3, 1, 1)).astype(np.float32)


def _fully_convolutional(extra_use: bool = False):
    nodes = [node("Conv", ["x", "w"], ["c"]), node("Transpose", ["c"], ["y"], perm=[0, 2, 3, 1])]
    outputs = [value("y", ["N", 4, 4, 2])]
    if extra_use:
        nodes.append(node("Relu", ["y"], ["z"]))
        outputs.append(value("z", ["N", 4, 4, 2]))
    return model(nodes, [value("x", ["N", 3, 4, 4])], outputs, [init("w", W)])


def test_output_becomes_nchw_and_is_declared():
    proto = _fully_convolutional()
    result, after = apply(NchwOutput(), proto)
    assert result.modified and ops(after) == {"Conv": 1}
    assert after.graph.output[0].name == "y"
    meta = {p.key: p.value for p in after.metadata_props}
    assert metadata.output_perms(meta) == {"y": (0, 2, 3, 1)}
    assert_parity(proto, after)


def test_output_also_used_inside_is_left_alone():
    proto = _fully_convolutional(extra_use=True)
    result, after = apply(NchwOutput(), proto)
    assert not result.modified and ops(after) == ops(proto)
