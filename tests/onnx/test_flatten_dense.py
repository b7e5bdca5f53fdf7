"""flatten_dense: the Transpose before Flatten is folded into the Dense kernel's rows."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from pipeline.forms import DOMAIN, VERSION
from pipeline.forms import recurrent as recurrent_form
from pipeline.passes.flatten_dense import FlattenDense
from tests.graphs import apply, assert_parity, init, model, node, ops, value

C, H, W_, OUT = 3, 2, 4, 5
RNG = np.random.default_rng(1)
KERNEL = RNG.standard_normal((H * W_ * C, OUT)).astype(np.float32)


def _graph(dense=None, extra_nodes=(), extra_outputs=(), kernel_input=False):
    dense = dense or node("MatMul", ["f", "k"], ["y"])
    inputs = [value("x", ["N", C, H, W_])]
    if kernel_input:
        inputs.append(value("k", [H * W_ * C, OUT]))
    return model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("Flatten", ["t"], ["f"], axis=1),
            dense,
            *extra_nodes,
        ],
        inputs,
        [value("y", ["N", OUT]), *extra_outputs],
        [] if kernel_input else [init("k", KERNEL), init("kt", KERNEL.T.copy())],
    )


def test_matmul_kernel_rows_are_reordered():
    proto = _graph()
    result, after = apply(FlattenDense(), proto)
    assert result.modified
    assert ops(after) == {"Flatten": 1, "MatMul": 1}
    assert_parity(proto, after)


def test_gemm_with_transposed_kernel():
    proto = _graph(node("Gemm", ["f", "kt"], ["y"], transB=1))
    _, after = apply(FlattenDense(), proto)
    assert ops(after) == {"Flatten": 1, "Gemm": 1}
    assert_parity(proto, after)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("nhwc_used_elsewhere", "its NHWC output also feeds"),
        ("nhwc_is_an_output", "its NHWC output is also a model output"),
        ("flatten_feeds_relu", "not a Dense kernel product"),
        ("kernel_is_graph_input", "expected a rank-2 initializer weight"),
        ("kernel_shared", "shared with a node this pass does not fold the same way"),
    ],
)
def test_rejections_leave_the_model_unchanged(case, reason):
    extra_out = value("z", ["N", H, W_, C]), value("z", ["N", H * W_ * C]), value("z", ["N", OUT])
    proto = {
        "nhwc_used_elsewhere": lambda: _graph(
            extra_nodes=[node("Relu", ["t"], ["z"])], extra_outputs=[extra_out[0]]
        ),
        "nhwc_is_an_output": lambda: _graph(extra_outputs=[value("t", ["N", H, W_, C])]),
        "flatten_feeds_relu": lambda: _graph(
            extra_nodes=[node("Relu", ["f"], ["z"])], extra_outputs=[extra_out[1]]
        ),
        "kernel_is_graph_input": lambda: _graph(kernel_input=True),
        "kernel_shared": lambda: _graph(
            extra_nodes=[node("Relu", ["f"], ["r"]), node("MatMul", ["r", "k"], ["z"])],
            extra_outputs=[extra_out[2]],
        ),
    }[case]()
    result, after = apply(FlattenDense(), proto)
    assert not result.modified
    assert ops(after) == ops(proto)
    assert len(result.skipped) == 1 and reason in result.skipped[0], result.skipped


def test_a_shared_dense_on_two_images_is_folded_at_each_call():
    """A siamese encoder's Dense: one kernel, two Transpose -> Flatten -> MatMul calls."""
    proto = model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("Flatten", ["t"], ["f"], axis=1),
            node("MatMul", ["f", "k"], ["y"]),
            node("Transpose", ["x2"], ["t2"], perm=[0, 2, 3, 1]),
            node("Flatten", ["t2"], ["f2"], axis=1),
            node("MatMul", ["f2", "k"], ["z"]),
        ],
        [value("x", ["N", C, H, W_]), value("x2", ["N", C, H, W_])],
        [value("y", ["N", OUT]), value("z", ["N", OUT])],
        [init("k", KERNEL)],
    )
    result, after = apply(FlattenDense(), proto)
    assert result.modified and not result.skipped
    assert ops(after) == {"Flatten": 2, "MatMul": 2}
    assert_parity(proto, after)


def test_unknown_spatial_shape_is_left_alone():
    proto = model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("Flatten", ["t"], ["f"], axis=1),
            node("MatMul", ["f", "k"], ["y"]),
        ],
        [value("x", ["N", C, "H", W_])],
        [value("y", ["N", OUT])],
        [init("k", KERNEL)],
    )
    result, after = apply(FlattenDense(), proto)
    assert not result.modified and ops(after) == ops(proto)
    assert "static [N, C, H, W]" in result.skipped[0]


FEATURES = 3  # the feature vector joined with the flattened image
WIDE = RNG.standard_normal((FEATURES + H * W_ * C + FEATURES, OUT)).astype(np.float32)


def _joined(axis=1, vector_dims=("N", FEATURES), images=1):
    """x -> Transpose -> Flatten, joined with v (and again with the image) -> MatMul."""
    parts = ["v", "f", "v"] if images == 1 else ["v", "f", "f2"]
    nodes = [
        node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
        node("Flatten", ["t"], ["f"], axis=1),
        node("Concat", parts, ["j"], axis=axis),
        node("MatMul", ["j", "k"], ["y"]),
    ]
    kernel = WIDE
    if images == 2:
        nodes[2:2] = [
            node("Transpose", ["x2"], ["t2"], perm=[0, 2, 3, 1]),
            node("Flatten", ["t2"], ["f2"], axis=1),
        ]
        kernel = RNG.standard_normal((FEATURES + 2 * H * W_ * C, OUT)).astype(np.float32)
    inputs = [value("x", ["N", C, H, W_]), value("v", list(vector_dims))]
    inputs += [value("x2", ["N", C, H, W_])] if images == 2 else []
    return model(nodes, inputs, [value("y", ["N", OUT])], [init("k", kernel)])


@pytest.mark.parametrize("images", [1, 2])
def test_flatten_joined_with_a_vector_reorders_only_its_rows(images):
    """Flatten -> Concatenate -> Dense: the block of rows each image branch meets."""
    proto = _joined(images=images)
    result, after = apply(FlattenDense(), proto)
    assert result.modified
    assert ops(after) == {"Flatten": images, "Concat": 1, "MatMul": 1}
    assert_parity(proto, after)


def test_a_join_on_another_axis_is_left_alone():
    proto = _joined(axis=0, vector_dims=(1, H * W_ * C))
    result, after = apply(FlattenDense(), proto, infer_shapes=False)
    assert not result.modified and ops(after) == ops(proto)
    assert "an axis other than 1" in result.skipped[0]


def test_a_join_with_an_open_width_is_left_alone():
    proto = _joined(vector_dims=("N", "k"))
    result, after = apply(FlattenDense(), proto, infer_shapes=False)
    assert not result.modified and ops(after) == ops(proto)
    assert "without a static [N, k] shape" in result.skipped[0]


def test_a_flatten_that_is_also_a_model_output_is_left_alone():
    proto = _graph(extra_outputs=[value("f", ["N", H * W_ * C])])
    result, after = apply(FlattenDense(), proto)
    assert not result.modified and ops(after) == ops(proto)
    assert "a model output too" in result.skipped[0]


def test_a_sequence_flattened_after_a_conv1d_is_folded_too():
    """Conv1D -> Flatten -> Dense: the Transpose(0, 2, 1) before the Flatten goes into the
    kernel's rows, re-ordered from (W, C) to (C, W)."""
    rng = np.random.default_rng(3)
    nodes = [
        node("Transpose", ["x"], ["t"], perm=[0, 2, 1]),
        node("Flatten", ["t"], ["f"], axis=1),
        node("MatMul", ["f", "k"], ["y"]),
    ]
    kernel = init("k", rng.standard_normal((4 * 6, 3)).astype(np.float32))
    proto = model(nodes, [value("x", ["N", 4, 6])], [value("y", ["N", 3])], [kernel])
    result, after = apply(FlattenDense(), proto)
    assert result.modified and ops(after) == {"Flatten": 1, "MatMul": 1}
    assert_parity(proto, after)


HIDDEN, STEPS = 3, 2
LSTM = recurrent_form.Form("LSTM", "Forward", "Last")


def _frames_into(reader: str, shared: bool = False):
    """TimeDistributed(Flatten) on [N*T, C, H, W] frames: Transpose, Flatten, Reshape back to
    [N, T, H*W*C], then an LSTM (stage 1's function) or a Dense per step (a 3-D MatMul)."""
    size = H * W_ * C
    w = RNG.standard_normal((1, 4 * HIDDEN, size)).astype(np.float32)
    r = RNG.standard_normal((1, 4 * HIDDEN, HIDDEN)).astype(np.float32)
    if reader == "lstm":
        last = [node(LSTM.op_type, ["s", "w", "r"], ["y"], domain=DOMAIN, hidden_size=HIDDEN)]
        out = [value("y", ["N", HIDDEN])]
        if shared:  # a second LSTM reads the same input weights
            last.append(
                node(LSTM.op_type, ["s", "w", "r"], ["y2"], domain=DOMAIN, hidden_size=HIDDEN)
            )
            out.append(value("y2", ["N", HIDDEN]))
    else:
        last, out = [node("MatMul", ["s", "k"], ["y"])], [value("y", ["N", STEPS, OUT])]
    graph = onnx.helper.make_graph(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("Flatten", ["t"], ["f"], axis=1),
            node("Reshape", ["f", "to_steps"], ["s"]),
            *last,
        ],
        "g",
        [value("x", ["M", C, H, W_])],
        out,
        [init("k", KERNEL), init("w", w), init("r", r), init("to_steps", [-1, STEPS, size])],
    )
    opsets = [onnx.helper.make_opsetid("", 17), onnx.helper.make_opsetid(DOMAIN, VERSION)]
    proto = onnx.helper.make_model(
        graph, opset_imports=opsets, functions=[recurrent_form.function(LSTM, 17)]
    )
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    return proto


@pytest.mark.parametrize("reader", ["lstm", "dense per step"])
def test_frames_flattened_into_an_lstm_or_a_dense_per_step_are_folded(reader):
    proto = _frames_into(reader)
    result, after = apply(FlattenDense(), proto)
    assert result.modified and "Transpose" not in ops(after)
    assert ops(after)["Flatten"] == 1 and ops(after)["Reshape"] == 1
    assert_parity(proto, after, batches=(2, 4))  # M = N * STEPS frames


def test_input_weights_shared_by_two_recurrent_layers_are_left_alone():
    proto = _frames_into("lstm", shared=True)
    result, after = apply(FlattenDense(), proto)
    assert not result.modified and ops(after)["Transpose"] == 1
    assert "input weights are shared" in result.skipped[0]
