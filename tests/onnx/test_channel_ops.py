"""channel_layer_norm and pointwise_conv: an op on the channel axis between a Transpose that
moves the channels last and its inverse becomes the channels-first op."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.passes.channel_norm import ChannelLayerNorm
from pipeline.passes.pointwise_conv import PointwiseConv
from tests.graphs import apply, assert_parity, init, model, node, ops, value

RNG = np.random.default_rng(11)
C, OUT = 3, 5
GAMMA = RNG.uniform(0.5, 1.5, C).astype(np.float32)
BETA = RNG.uniform(-0.5, 0.5, C).astype(np.float32)
W = RNG.standard_normal((C, OUT)).astype(np.float32)
B = RNG.standard_normal((1, OUT, 1, 1)).astype(np.float32)


def _sandwich(op, rank=4, back=None, extra=(), out_channels=C, inits=()):
    """x[N, C, (4,) 5] -> Transpose(channels last) -> op -> Transpose(back) [-> extra]."""
    to_last = [0, 2, 3, 1] if rank == 4 else [0, 2, 1]
    back = back or ([0, 3, 1, 2] if rank == 4 else [0, 2, 1])
    spatial = [4, 5] if rank == 4 else [5]
    last = extra[-1].output[0] if extra else "y"
    return model(
        [
            node("Transpose", ["x"], ["t"], perm=to_last),
            op,
            node("Transpose", ["o"], ["y"], perm=back),
            *extra,
        ],
        [value("x", ["N", C, *spatial])],
        [value(last, ["N", out_channels, *spatial])],
        list(inits),
    )


def _layer_norm(**kwargs):
    op = node("LayerNormalization", ["t", "gamma", "beta"], ["o"], axis=-1, epsilon=1e-3)
    return _sandwich(op, inits=[init("gamma", GAMMA), init("beta", BETA)], **kwargs)


@pytest.mark.parametrize("rank", [4, 3])
def test_layer_norm_on_the_channels_becomes_one_channel_norm(rank):
    proto = _layer_norm(rank=rank)
    result, after = apply(ChannelLayerNorm(), proto)
    assert result.modified and ops(after) == {"KerasChannelLayerNorm": 1}
    assert [f.name for f in after.functions] == ["KerasChannelLayerNorm"]
    assert_parity(proto, after)


def test_layer_norm_whose_exit_does_not_undo_the_entry_is_left_alone():
    proto = _layer_norm(back=[0, 3, 2, 1])
    result, after = apply(ChannelLayerNorm(), proto)
    assert not result.modified and ops(after) == ops(proto)


def test_layer_norm_with_a_computed_scale_is_left_alone():
    op = node("LayerNormalization", ["t", "gamma", "beta"], ["o"], axis=-1)
    proto = model(
        [node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]), op],
        [value("x", ["N", C, 4, 5]), value("gamma", [C])],
        [value("o", ["N", 4, 5, C])],
        [init("beta", BETA)],
    )
    result, after = apply(ChannelLayerNorm(), proto)
    assert not result.modified and ops(after) == ops(proto)


def _pointwise(bias=True, rank=4, kernel=None):
    extra = [node("Add", ["y", "b"], ["z"])] if bias else []
    b = B if rank == 4 else B[..., 0]
    inits = [init("w", W if kernel is None else kernel), *([init("b", b)] if bias else [])]
    return _sandwich(
        node("MatMul", ["t", "w"], ["o"]), rank=rank, extra=extra, out_channels=OUT, inits=inits
    )


@pytest.mark.parametrize(("bias", "rank"), [(True, 4), (False, 4), (True, 3)])
def test_dense_on_the_channels_becomes_a_1x1_conv(bias, rank):
    proto = _pointwise(bias, rank)
    result, after = apply(PointwiseConv(), proto)
    assert result.modified and ops(after) == {"Conv": 1}
    (conv,) = after.graph.node
    assert len(conv.input) == (3 if bias else 2)
    weight = next(i for i in after.graph.initializer if i.name == conv.input[1])
    assert list(weight.dims) == [OUT, C, *([1] * (rank - 2))]
    assert_parity(proto, after)


def test_dense_whose_entry_feeds_something_else_is_left_alone():
    proto = _pointwise(bias=False)
    proto.graph.node.append(node("Relu", ["t"], ["r"]))
    proto.graph.output.append(value("r", ["N", 4, 5, C]))
    result, after = apply(PointwiseConv(), proto)
    assert not result.modified and ops(after) == ops(proto)


def test_dense_by_a_rank_3_kernel_is_left_alone():
    proto = _pointwise(bias=False, kernel=W[None])
    result, after = apply(PointwiseConv(), proto, infer_shapes=False)
    assert not result.modified and ops(after) == ops(proto)
