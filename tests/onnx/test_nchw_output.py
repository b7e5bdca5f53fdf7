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


def _declared_twice(rank: int):
    """An output already declared channels-first whose value is again the channels-last
    Transpose of another (a LayerNorm over a sequence's steps, once sink_transposes ran:
    fuzz seed 11064), as nchw_output_again meets it."""
    order = [0, *range(2, rank), 1]
    proto = model(
        [node("Relu", ["x"], ["r"]), node("Transpose", ["r"], ["y"], perm=order)],
        [value("x", ["N", *range(2, rank + 1)])],
        [value("y", ["N", *range(3, rank + 1), 2])],
    )
    meta = {metadata.output_perm_key("y"): metadata.format_perm(order)}
    onnx_meta = {**{p.key: p.value for p in proto.metadata_props}, **meta}
    del proto.metadata_props[:]
    for key, text in onnx_meta.items():
        proto.metadata_props.add(key=key, value=text)
    return proto


def test_a_second_transpose_that_undoes_the_declared_one_goes_with_the_declaration():
    proto = _declared_twice(3)  # (0, 2, 1) twice: the output is Keras' layout again
    result, after = apply(NchwOutput(), proto)
    assert result.modified and ops(after) == {"Relu": 1}
    assert metadata.output_perms({p.key: p.value for p in after.metadata_props}) == {}
    # x itself, as Keras returned it: the declared (0, 2, 1) was already undone by the graph
    (y,) = after.graph.output
    assert [d.dim_value or d.dim_param for d in y.type.tensor_type.shape.dim] == ["N", 2, 3]


def test_a_second_transpose_that_composes_to_another_layout_stays():
    proto = _declared_twice(4)  # (0, 2, 3, 1) twice: (0, 3, 1, 2), neither layout
    result, after = apply(NchwOutput(), proto)
    assert not result.modified and ops(after) == {"Relu": 1, "Transpose": 1}
