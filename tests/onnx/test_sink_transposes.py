"""sink_transposes: a Transpose round trip around element-wise ops disappears."""

from __future__ import annotations

import numpy as np

from pipeline.passes.channel_norm import ChannelLayerNorm
from pipeline.passes.nchw_output import NchwOutput
from pipeline.passes.pointwise_conv import PointwiseConv
from pipeline.passes.sink_transposes import SinkTransposes
from tests.graphs import apply, assert_parity, init, model, node, ops, value

RNG = np.random.default_rng(8)
ALPHA = RNG.uniform(0.1, 0.3, (1, 1, 3)).astype(np.float32)  # PReLU alpha, NHWC broadcast


def _round_trip(end=None, end_output=("y", ["N", 3, 4, 5])):
    """x[N,3,4,5] -> Transpose(0,2,3,1) -> PRelu(alpha) -> Sigmoid -> end."""
    end = end or node("Transpose", ["s"], ["y"], perm=[0, 3, 1, 2])
    return model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("PRelu", ["t", "alpha"], ["p"]),
            node("Sigmoid", ["p"], ["s"]),
            end,
        ],
        [value("x", ["N", 3, 4, 5])],
        [value(*end_output)],
        [init("alpha", ALPHA), init("axes", np.array([1, 2], np.int64))],
    )


def test_round_trip_around_elementwise_ops_disappears():
    proto = _round_trip()
    result, after = apply(SinkTransposes(), proto)
    assert result.modified and ops(after) == {"PRelu": 1, "Sigmoid": 1}
    assert [o.name for o in after.graph.output] == ["y"]
    slope = next(i for i in after.graph.initializer if i.name.endswith("_nchw"))
    assert list(slope.dims) == [1, 3, 1, 1]
    assert_parity(proto, after)


def test_chain_ending_in_a_spatial_mean_reduces_channels_first_axes():
    end = node("ReduceMean", ["s"], ["y"], axes=[1, 2], keepdims=0)
    proto = _round_trip(end, ("y", ["N", 3]))
    result, after = apply(SinkTransposes(), proto)
    assert result.modified and ops(after) == {"PRelu": 1, "Sigmoid": 1, "ReduceMean": 1}
    assert_parity(proto, after)


def test_transpose_that_does_not_undo_is_left_alone():
    proto = _round_trip(node("Transpose", ["s"], ["y"], perm=[0, 1, 3, 2]), ("y", ["N", 4, 3, 5]))
    result, after = apply(SinkTransposes(), proto)
    assert not result.modified and ops(after) == ops(proto)


def test_op_with_a_non_constant_operand_stops_the_chain():
    proto = model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("Mul", ["t", "z"], ["m"]),
            node("Transpose", ["m"], ["y"], perm=[0, 3, 1, 2]),
        ],
        [value("x", ["N", 3, 4, 5]), value("z", ["N", 4, 5, 3])],
        [value("y", ["N", 3, 4, 5])],
    )
    result, after = apply(SinkTransposes(), proto)
    assert not result.modified and ops(after) == {"Transpose": 2, "Mul": 1}


C, HIDDEN = 3, 6
GAMMA = RNG.uniform(0.5, 1.5, C).astype(np.float32)
BETA = RNG.uniform(-0.5, 0.5, C).astype(np.float32)
W1 = RNG.standard_normal((C, HIDDEN)).astype(np.float32)
B1 = RNG.standard_normal(HIDDEN).astype(np.float32)
W2 = RNG.standard_normal((HIDDEN, C)).astype(np.float32)
B2 = RNG.standard_normal(C).astype(np.float32)
SCALE = RNG.uniform(0.1, 1.0, C).astype(np.float32)


def _convnext_block(*, second_bias=True, ln_axis=-1, exit_perm=(0, 3, 1, 2), out=None):
    """ConvNeXt's block as tf2onnx leaves it: the residual stream and everything on channels
    is NHWC between x's two Transposes. x[N,C,4,5] -> T -> LN -> MatMul+Add -> GELU (Erf)
    -> MatMul(+Add) -> Mul(scale) -> + stream -> T back."""
    second = [node("Add", ["m2", "b2"], ["a2"])] if second_bias else []
    nodes = [
        node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
        node("LayerNormalization", ["t", "gamma", "beta"], ["ln"], axis=ln_axis, epsilon=1e-6),
        node("MatMul", ["ln", "w1"], ["m1"]),
        node("Add", ["m1", "b1"], ["a1"]),
        node("Div", ["a1", "sqrt2"], ["d"]),
        node("Erf", ["d"], ["e"]),
        node("Add", ["e", "one"], ["e1"]),
        node("Mul", ["a1", "e1"], ["g0"]),
        node("Mul", ["g0", "half"], ["g"]),
        node("MatMul", ["g", "w2"], ["m2"]),
        *second,
        node("Mul", ["a2" if second_bias else "m2", "scale"], ["s"]),
        node("Add", ["t", "s"], ["r"]),
        node("Transpose", ["r"], ["y"], perm=list(exit_perm)),
    ]
    out = out or ["N", C, 4, 5]
    return model(
        nodes,
        [value("x", ["N", C, 4, 5])],
        [value("y", out)],
        [
            init("gamma", GAMMA),
            init("beta", BETA),
            init("w1", W1),
            init("b1", B1),
            init("w2", W2),
            init("b2", B2),
            init("scale", SCALE),
            init("sqrt2", np.float32(np.sqrt(2))),
            init("one", np.float32(1)),
            init("half", np.float32(0.5)),
        ],
    )


def test_channels_last_block_runs_channels_first_around_its_channel_ops():
    """sink_transposes alone: the block runs NCHW; the LayerNorm and the two MatMuls still
    compute on channels-last data, each between its own pair of Transposes."""
    proto = _convnext_block()
    result, after = apply(SinkTransposes(), proto)
    assert result.modified
    assert ops(after) == {
        "Transpose": 6,  # a local pair around each op on the channel axis
        "LayerNormalization": 1,
        "MatMul": 2,
        "Div": 1,
        "Erf": 1,
        "Add": 4,  # two biases (now [1, C, 1, 1]), GELU's + 1, the residual
        "Mul": 3,
    }
    assert_parity(proto, after)


def test_channels_last_block_becomes_convs_and_channel_norm():
    """With the passes that follow: every Transpose gone, 1x1 Convs taking their biases."""
    proto = _convnext_block()
    result, after = apply((SinkTransposes(), ChannelLayerNorm(), PointwiseConv()), proto)
    assert result.modified
    assert ops(after) == {
        "KerasChannelLayerNorm": 1,
        "Conv": 2,
        "Div": 1,
        "Erf": 1,
        "Add": 2,  # GELU's + 1, the residual (both biases went into the Convs)
        "Mul": 3,
    }
    conv = {i.name: list(i.dims) for i in after.graph.initializer if i.name.endswith("_conv")}
    assert sorted(conv.values()) == [[C, HIDDEN, 1, 1], [HIDDEN, C, 1, 1]]
    assert [f.name for f in after.functions] == ["KerasChannelLayerNorm"]
    assert_parity(proto, after)


def test_matmul_without_a_bias_becomes_a_conv_without_one():
    proto = _convnext_block(second_bias=False)
    result, after = apply((SinkTransposes(), ChannelLayerNorm(), PointwiseConv()), proto)
    assert result.modified and ops(after)["Conv"] == 2 and "Transpose" not in ops(after)
    convs = [n for n in after.graph.node if n.op_type == "Conv"]
    assert sorted(len(n.input) for n in convs) == [2, 3]
    assert_parity(proto, after)


def test_mean_kept_in_the_region_squeeze_and_excitation_style():
    """x -> T -> s = Sigmoid(ReduceMean(t, [1, 2], keepdims=1)) -> t * s -> T back."""
    proto = model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("ReduceMean", ["t"], ["m"], axes=[1, 2], keepdims=1),
            node("Sigmoid", ["m"], ["s"]),
            node("Mul", ["t", "s"], ["p"]),
            node("Transpose", ["p"], ["y"], perm=[0, 3, 1, 2]),
        ],
        [value("x", ["N", 3, 4, 5])],
        [value("y", ["N", 3, 4, 5])],
    )
    result, after = apply(SinkTransposes(), proto)
    assert result.modified and ops(after) == {"ReduceMean": 1, "Sigmoid": 1, "Mul": 1}
    mean = next(n for n in after.graph.node if n.op_type == "ReduceMean")
    assert list(next(a for a in mean.attribute if a.name == "axes").ints) == [2, 3]
    assert_parity(proto, after)


def test_layernorm_over_a_non_channel_axis_is_left_alone():
    """Normalizing the last axis of data transposed by (0, 1, 3, 2) is over W, not C."""
    proto = model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 1, 3, 2]),
            node("LayerNormalization", ["t", "gamma", "beta"], ["ln"], axis=-1),
            node("Transpose", ["ln"], ["y"], perm=[0, 1, 3, 2]),
        ],
        [value("x", ["N", 4, 5, 3])],
        [value("y", ["N", 4, 5, 3])],
        [init("gamma", GAMMA), init("beta", BETA)],
    )
    result, after = apply(SinkTransposes(), proto)
    assert not result.modified and ops(after) == ops(proto)


def test_layernorm_over_more_than_the_last_axis_is_left_alone():
    proto = _convnext_block(ln_axis=2)
    proto.graph.initializer[0].CopyFrom(init("gamma", np.ones((5, C), np.float32)))
    proto.graph.initializer[1].CopyFrom(init("beta", np.zeros((5, C), np.float32)))
    result, after = apply(SinkTransposes(), proto)
    assert not result.modified and ops(after)["Transpose"] == 2


def test_matmul_by_a_non_constant_kernel_is_left_alone():
    proto = model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("MatMul", ["t", "k"], ["m"]),
            node("Transpose", ["m"], ["y"], perm=[0, 3, 1, 2]),
        ],
        [value("x", ["N", 3, 4, 5]), value("k", [3, 3])],
        [value("y", ["N", 3, 4, 5])],
    )
    result, after = apply(SinkTransposes(), proto)
    assert not result.modified and ops(after) == {"Transpose": 2, "MatMul": 1}


def _reaching_an_output(p=(0, 2, 3, 1)):
    """x -> Transpose(p) -> PRelu -> y, the model's output (PReLU as its last layer)."""
    dims = ["N", 3, 4, 5]
    return model(
        [node("Transpose", ["x"], ["t"], perm=list(p)), node("PRelu", ["t", "alpha"], ["y"])],
        [value("x", dims)],
        [value("y", [dims[a] for a in p])],
        [init("alpha", ALPHA if p == (0, 2, 3, 1) else ALPHA.reshape(1, 1, 1, 3)[:, :, :, :1])],
    )


def test_region_reaching_a_graph_output_gives_it_a_transpose_nchw_output_removes():
    """PReLU as the model's last layer: the NHWC output is a Transpose of the region's
    channels-first value, which nchw_output turns into a declared channels-first output."""
    proto = _reaching_an_output()
    result, after = apply(SinkTransposes(), proto)
    assert result.modified and ops(after) == {"PRelu": 1, "Transpose": 1}
    assert [o.name for o in after.graph.output] == ["y"]
    assert_parity(proto, after)
    result, final = apply(NchwOutput(), after)
    assert result.modified and ops(final) == {"PRelu": 1}
    perms = {p.key: p.value for p in final.metadata_props}
    assert perms["pipeline.output_perm.y"] == "0,2,3,1"


def test_region_reaching_a_graph_output_in_another_layout_is_left_alone():
    """Not the NCHW -> NHWC layout: the output's layout is no declared channels-first one."""
    proto = _reaching_an_output((0, 1, 3, 2))
    result, after = apply(SinkTransposes(), proto)
    assert not result.modified and ops(after) == {"Transpose": 1, "PRelu": 1}


def test_region_reaching_an_op_without_a_channels_first_form_is_left_alone():
    """Softmax over the last (channel) axis is not in the list; the block stays as it is."""
    proto = model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("Softmax", ["t"], ["s"], axis=-1),
            node("Transpose", ["s"], ["y"], perm=[0, 3, 1, 2]),
        ],
        [value("x", ["N", 3, 4, 5])],
        [value("y", ["N", 3, 4, 5])],
    )
    result, after = apply(SinkTransposes(), proto)
    assert not result.modified and ops(after) == {"Transpose": 2, "Softmax": 1}


def test_operand_reduced_out_of_the_layout_is_left_alone():
    """t * ReduceMean(t, [1, 2], keepdims=0): the reduced operand [N, C] is not in the
    region's layout (it broadcasts against the last axes), so nothing moves."""
    proto = model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("ReduceMean", ["t"], ["m"], axes=[1, 2], keepdims=0),
            node("Mul", ["t", "m"], ["p"]),
            node("Transpose", ["p"], ["y"], perm=[0, 3, 1, 2]),
        ],
        [value("x", [3, 3, 3, 3])],
        [value("y", [3, 3, 3, 3])],
    )
    result, after = apply(SinkTransposes(), proto)
    assert not result.modified and ops(after) == ops(proto)


def test_a_layer_norm_on_channels_that_is_the_model_s_output():
    """Found by the fuzzer (seed 272): LayerNormalization on the channels as the last layer.
    Its output is a graph output: it becomes the output's Transpose's input, then the local
    pair goes around the LayerNorm; nothing may replace a graph output in passing."""
    channels = 3
    proto = model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 1]),
            node("LayerNormalization", ["t", "gamma", "beta"], ["y"], axis=-1, epsilon=1e-3),
        ],
        [value("x", ["N", channels, 5])],
        [value("y", ["N", 5, channels])],
        [
            init("gamma", RNG.uniform(0.5, 1.5, channels).astype(np.float32)),
            init("beta", RNG.normal(0, 0.1, channels).astype(np.float32)),
        ],
    )
    result, after = apply(SinkTransposes(), proto)
    assert result.modified
    assert ops(after) == {"Transpose": 3, "LayerNormalization": 1}  # pair + output's
    assert [o.name for o in after.graph.output] == ["y"]
    assert_parity(proto, after)


def test_a_transpose_that_is_the_output_itself_is_left_to_nchw_output():
    """A Transpose to NHWC whose own output is the model's (moved there past an Elu by
    transposes_past_elementwise; fuzz seed 6091): there is no region to sink, and treating
    it as one gave the output a second Transpose(p), so channels in the wrong place."""
    nodes = [
        node("Elu", ["x"], ["e"], alpha=0.3),
        node("Transpose", ["e"], ["y"], perm=[0, 2, 3, 1]),
    ]
    proto = model(nodes, [value("x", ["N", 3, 4, 5])], [value("y", ["N", 4, 5, 3])])
    result, after = apply(SinkTransposes(), proto)
    assert not result.modified and ops(after) == {"Elu": 1, "Transpose": 1}
    result, final = apply(NchwOutput(), after)
    assert result.modified and ops(final) == {"Elu": 1}


def _halves(split_inputs=("t",)):
    """CSPNet's stage: the channels-last channels split in two halves, one through a ReLU,
    joined again: Transpose -> Split(axis=3) -> Relu -> Concat(axis=-1) -> Transpose."""
    return model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("Split", list(split_inputs), ["a", "b"], axis=3),
            node("Relu", ["b"], ["r"]),
            node("Concat", ["a", "r"], ["c"], axis=-1),
            node("Transpose", ["c"], ["y"], perm=[0, 3, 1, 2]),
        ],
        [value("x", ["N", 4, 3, 5])],
        [value("y", ["N", 4, 3, 5])],
        [init("sizes", np.array([1, 3], np.int64))],
    )


def test_split_and_concat_take_the_channel_axis_channels_first():
    for proto in (_halves(), _halves(("t", "sizes"))):  # equal halves, then sizes [1, 3]
        result, after = apply(SinkTransposes(), proto)
        assert result.modified and ops(after) == {"Split": 1, "Relu": 1, "Concat": 1}
        split, _, concat = after.graph.node
        assert [a.i for a in split.attribute] == [1] and [a.i for a in concat.attribute] == [1]
        assert_parity(proto, after)


def test_split_of_data_of_unknown_shape_is_left_alone():
    proto = _halves()
    del proto.graph.value_info[:]
    result, after = apply(SinkTransposes(), proto, infer_shapes=False)
    assert not result.modified and ops(after) == ops(proto)
