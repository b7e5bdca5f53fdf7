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


def _conv_out(rank: int, layer: str = "conv (Conv1D)"):
    """A rank-3 (NCW) or rank-5 (NCDHW) conv whose output goes back channels-last."""
    spatial = [4] * (rank - 2)
    weight = np.random.default_rng(6).standard_normal((2, 3, *[1] * (rank - 2)))
    order = [0, *range(2, rank), 1]
    transpose = node("Transpose", ["c"], ["y"], perm=order)
    transpose.doc_string = metadata.layer_doc(*layer.rstrip(")").split(" ("))
    return model(
        [node("Conv", ["x", "w"], ["c"]), transpose],
        [value("x", ["N", 3, *spatial])],
        [value("y", ["N", *spatial, 2])],
        [init("w", weight.astype(np.float32))],
    )


def test_a_sequence_or_video_output_becomes_channels_first_and_is_declared():
    for rank in (3, 5):
        proto = _conv_out(rank)
        result, after = apply(NchwOutput(), proto)
        assert result.modified and ops(after) == {"Conv": 1}
        meta = {p.key: p.value for p in after.metadata_props}
        assert metadata.output_perms(meta) == {"y": (0, *range(2, rank), 1)}
        assert_parity(proto, after)


def test_the_keras_model_s_own_permute_is_left_alone():
    proto = _conv_out(3, layer="swap (Permute)")
    result, after = apply(NchwOutput(), proto)
    assert not result.modified and ops(after) == ops(proto)
