"""nchw_input: the NHWC input's layout change disappears and the interface change is declared."""

from __future__ import annotations

import numpy as np
import onnx

from pipeline.passes.nchw_input import NchwInput
from pipeline.passes.reshape_transpose import ReshapeAsTranspose
from tests.graphs import (
    apply,
    assert_parity,
    init,
    model,
    nhwc_metadata,
    node,
    ops,
    perm_of,
    value,
)

W = np.random.default_rng(0).standard_normal((2, 3, 3, 3)).astype(np.float32)


def _conv_after(first: onnx.NodeProto, channels: int = 3, extra=()) -> onnx.ModelProto:
    weight = W[:, :channels]
    return model(
        [first, node("Conv", ["xc", "w"], ["y"], pads=[1, 1, 1, 1]), *extra],
        [value("x", ["N", 5, 5, channels])],
        [value("y", ["N", 2, 5, 5]), *([value("z", ["N", 5, 5, channels])] if extra else [])],
        [init("w", weight), init("c1shape", np.array([-1, 1, 5, 5], np.int64))],
        metadata=nhwc_metadata(),
    )


def test_transpose_input_becomes_nchw():
    proto = _conv_after(node("Transpose", ["x"], ["xc"], perm=[0, 3, 1, 2]))
    result, after = apply(NchwInput(), proto)
    assert result.modified
    assert ops(after) == {"Conv": 1}
    dims = [d.dim_value or d.dim_param for d in after.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 3, 5, 5]
    assert perm_of(after) == (0, 3, 1, 2)
    assert_parity(proto, after)


def test_single_channel_reshape_counts_as_the_transpose():
    """tf2onnx's Reshape for a C == 1 input's Transpose: reshape_as_transpose makes it one."""
    proto = _conv_after(node("Reshape", ["x", "c1shape"], ["xc"]), channels=1)
    _, after = apply((ReshapeAsTranspose(), NchwInput()), proto)
    assert ops(after) == {"Conv": 1}
    assert perm_of(after) == (0, 3, 1, 2)
    assert_parity(proto, after)


def test_input_also_used_in_nhwc_is_left_alone():
    proto = _conv_after(
        node("Transpose", ["x"], ["xc"], perm=[0, 3, 1, 2]), extra=[node("Relu", ["x"], ["z"])]
    )
    result, after = apply(NchwInput(), proto)
    assert not result.modified
    assert ops(after) == ops(proto)
    assert perm_of(after) is None
    assert len(result.skipped) == 1 and "is used in NHWC here" in result.skipped[0]


def test_input_not_declared_nhwc_is_not_touched():
    proto = _conv_after(node("Transpose", ["x"], ["xc"], perm=[0, 3, 1, 2]))
    del proto.metadata_props[:]
    result, after = apply(NchwInput(), proto)
    assert not result.modified and ops(after) == ops(proto) and not result.skipped


def test_layout_free_chain_before_the_transpose():
    """Rescaling (scalar Mul/Add) and Normalization (per-channel Sub/Div) run on NCHW."""
    rng = np.random.default_rng(6)
    proto = model(
        [
            node("Mul", ["x", "scale"], ["a"]),
            node("Sub", ["a", "mean"], ["b"]),
            node("Div", ["b", "std"], ["c"]),
            node("Relu", ["c"], ["d"]),
            node("Transpose", ["d"], ["xc"], perm=[0, 3, 1, 2]),
            node("Conv", ["xc", "w"], ["y"], pads=[1, 1, 1, 1]),
        ],
        [value("x", ["N", 5, 5, 3])],
        [value("y", ["N", 2, 5, 5])],
        [
            init("w", W),
            init("scale", np.array(0.5, np.float32)),
            init("mean", rng.standard_normal((1, 1, 1, 3)).astype(np.float32)),
            init("std", rng.uniform(0.5, 2, 3).astype(np.float32)),
        ],
        metadata=nhwc_metadata(),
    )
    result, after = apply(NchwInput(), proto)
    assert result.modified
    assert ops(after) == {"Mul": 1, "Sub": 1, "Div": 1, "Relu": 1, "Conv": 1}
    assert perm_of(after) == (0, 3, 1, 2)
    assert_parity(proto, after)


def test_chain_with_a_spatial_constant_is_left_alone():
    rng = np.random.default_rng(7)
    proto = model(
        [
            node("Add", ["x", "bias"], ["a"]),
            node("Transpose", ["a"], ["xc"], perm=[0, 3, 1, 2]),
            node("Conv", ["xc", "w"], ["y"], pads=[1, 1, 1, 1]),
        ],
        [value("x", ["N", 5, 5, 3])],
        [value("y", ["N", 2, 5, 5])],
        [init("w", W), init("bias", rng.standard_normal((5, 5, 3)).astype(np.float32))],
        metadata=nhwc_metadata(),
    )
    result, after = apply(NchwInput(), proto)
    assert not result.modified and ops(after) == ops(proto)
    assert "is used in NHWC here" in result.skipped[0]


def test_nwc_input_through_a_pad_becomes_ncw():
    """Conv1D's causal padding on the NWC input, then Transpose(0,2,1): the input becomes
    NCW, the Pad's pads are permuted with it."""
    from pipeline import metadata

    w1d = np.random.default_rng(1).standard_normal((2, 3, 3)).astype(np.float32)
    proto = model(
        [
            node("Pad", ["x", "pads"], ["p"]),
            node("Transpose", ["p"], ["t"], perm=[0, 2, 1]),
            node("Conv", ["t", "w"], ["y"], kernel_shape=[3]),
        ],
        [value("x", ["N", 6, 3])],
        [value("y", ["N", 2, 6])],
        [init("w", w1d), init("pads", np.array([0, 2, 0, 0, 0, 0], np.int64))],
        metadata={metadata.INPUT_LAYOUT_PREFIX + "x": "NWC"},
    )
    result, after = apply(NchwInput(), proto)
    assert result.modified and ops(after) == {"Pad": 1, "Conv": 1}
    assert perm_of(after) == (0, 2, 1)
    assert_parity(proto, after)


def test_ndhwc_video_input_becomes_ncdhw():
    """A Conv3D model's NDHWC input, then Transpose(0,4,1,2,3): the input becomes NCDHW."""
    from pipeline import metadata

    w3d = np.random.default_rng(2).standard_normal((2, 3, 1, 1, 1)).astype(np.float32)
    proto = model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 4, 1, 2, 3]),
            node("Conv", ["t", "w"], ["y"], kernel_shape=[1, 1, 1]),
        ],
        [value("x", ["N", 4, 5, 5, 3])],
        [value("y", ["N", 2, 4, 5, 5])],
        [init("w", w3d)],
        metadata={metadata.INPUT_LAYOUT_PREFIX + "x": "NDHWC"},
    )
    result, after = apply(NchwInput(), proto)
    assert result.modified and ops(after) == {"Conv": 1}
    assert perm_of(after) == (0, 4, 1, 2, 3)
    assert_parity(proto, after)


def _frames(extra=()) -> onnx.ModelProto:
    """A video [N, 2, 5, 5, 3] read as frames by a conv (TimeDistributed(Conv2D))."""
    return model(
        [
            node("Reshape", ["x", "to_frames"], ["f"]),
            node("Transpose", ["f"], ["fc"], perm=[0, 3, 1, 2]),
            node("Conv", ["fc", "w"], ["y"], pads=[1, 1, 1, 1]),
            *extra,
        ],
        [value("x", ["N", 2, 5, 5, 3])],
        [value("y", ["M", 2, 5, 5]), *([value("z", ["N", 2, 5, 5])] if extra else [])],
        [init("w", W), init("to_frames", np.array([-1, 5, 5, 3], np.int64))],
        metadata={"keras.input_layout.x": "NDHWC"},
    )


def test_a_video_read_as_frames_becomes_time_then_channels_first():
    proto = _frames()
    result, after = apply(NchwInput(), proto)
    assert result.modified and ops(after) == {"Reshape": 1, "Conv": 1}
    assert perm_of(after) == (0, 1, 4, 2, 3)
    (shape,) = [i for i in after.graph.initializer if i.name.endswith("_nchw")]
    assert list(onnx.numpy_helper.to_array(shape)) == [-1, 3, 5, 5]
    assert assert_parity(proto, after) == 0.0


def test_a_video_read_whole_elsewhere_stays_channels_last():
    proto = _frames([node("ReduceMean", ["x"], ["z"], axes=[4])])
    result, after = apply(NchwInput(), proto)
    assert not result.modified and ops(after) == ops(proto)
    assert perm_of(after) is None and "used in NHWC" in result.skipped[0]


def test_frames_not_made_channels_first_stay_as_they_are():
    """The Reshape does not merge time into the batch (a target other than [-1, H, W, C]),
    or the frames are not transposed to channels-first after it."""
    other_target = _frames()
    other_target.graph.initializer[1].CopyFrom(init("to_frames", np.array([-1, 5, 3, 5])))
    not_transposed = _frames()
    not_transposed.graph.node[1].attribute[0].ints[:] = [0, 3, 2, 1]
    for proto in (other_target, not_transposed):
        result, after = apply(NchwInput(), proto)
        assert not result.modified and perm_of(after) is None


def _sequence(rank: int, extra=()) -> onnx.ModelProto:
    """A video [N, 2, 5, 5, 3] (or signals [N, 2, 5, 3]) read whole as a channels-first
    sequence (ConvLSTM2D/1D's Transpose; a ReduceMax over time stands for the layer)."""
    spatial = [5] * (rank - 3)
    perm = [0, 1, rank - 1, *range(2, rank - 1)]
    return model(
        [
            node("Transpose", ["x"], ["xc"], perm=perm),
            node("ReduceMax", ["xc"], ["y"], axes=[1], keepdims=0),
            *extra,
        ],
        [value("x", ["N", 2, *spatial, 3])],
        [value("y", ["N", 3, *spatial]), *([value("z", ["N", 2, *spatial])] if extra else [])],
        metadata={"keras.input_layout.x": "NDHWC" if rank == 5 else "NHWC"},
    )


def test_a_video_read_as_a_channels_first_sequence_becomes_time_then_channels_first():
    proto = _sequence(5)
    result, after = apply(NchwInput(), proto)
    assert result.modified and ops(after) == {"ReduceMax": 1}
    assert perm_of(after) == (0, 1, 4, 2, 3)
    assert assert_parity(proto, after) == 0.0


def test_signals_read_as_a_channels_first_sequence_become_time_then_channels_first():
    proto = _sequence(4)
    result, after = apply(NchwInput(), proto)
    assert result.modified and ops(after) == {"ReduceMax": 1}
    assert perm_of(after) == (0, 1, 3, 2)
    assert assert_parity(proto, after) == 0.0


def test_a_sequence_read_whole_elsewhere_stays_channels_last():
    for rank in (4, 5):
        proto = _sequence(rank, [node("ReduceMean", ["x"], ["z"], axes=[rank - 1], keepdims=0)])
        result, after = apply(NchwInput(), proto)
        assert not result.modified and ops(after) == ops(proto) and perm_of(after) is None
        assert "used in NHWC" in result.skipped[0]
