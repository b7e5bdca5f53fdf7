"""converters/shape_like.py: stage 2's broadcast and cut to another tensor's size as plain
torch (``token.expand(x.shape[0], 1, 4)``, ``table[: ids.shape[1]]``), computing what
onnxruntime computes for the function at two sizes of the unknown dims."""

from __future__ import annotations

import numpy as np
import onnx
import pipeline.torch_stage.converters  # noqa: F401  (registers our converters)
import pytest
import torch
from onnx import TensorProto, helper
from onnx2torch import convert
from pipeline import ort
from pipeline.forms import DOMAIN, VERSION
from pipeline.forms import shape_like as form
from pipeline.torch_stage.converters.shape_like import expand_text, range_text, slice_text


def _call(op_type: str, x_shape: list, like_shape: list, like_type: int, **attrs):
    call = helper.make_node(op_type, ["x", "like"], ["y"], domain=DOMAIN, **attrs)
    graph = helper.make_graph(
        [call],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape),
            helper.make_tensor_value_info("like", like_type, like_shape),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "T", 4][: len(x_shape)])],
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(DOMAIN, VERSION)],
        functions=[form.FUNCTIONS[op_type](17)],
    )
    proto.ir_version = 8
    onnx.checker.check_model(proto, full_check=True)
    return proto


CASES = {
    "class token to the batch": (
        form.EXPAND,
        [1, 1, 4],
        ["N", 3, 4],
        TensorProto.FLOAT,
        {"sizes": [1, 1, 4], "like_axes": [0, -1, -1]},
        lambda n: [(1, 1, 4), (n, 3, 4)],
    ),
    "positions cut to the length": (
        form.SLICE,
        [8, 4],
        ["N", "T"],
        TensorProto.INT64,
        {"axes": [0], "starts": [0], "like_axes": [1]},
        lambda n: [(8, 4), (2, n)],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_each_form_is_one_torch_expression_matching_onnxruntime(case):
    op_type, x_shape, like_shape, like_type, attrs, shapes = CASES[case]
    proto = _call(op_type, x_shape, like_shape, like_type, **attrs)
    module = convert(proto)
    rng = np.random.default_rng(0)
    for n in (2, 5):
        x_size, like_size = shapes(n)
        x = rng.standard_normal(x_size).astype(np.float32)
        like = np.ones(like_size, np.float32 if like_type == TensorProto.FLOAT else np.int64)
        (want,) = ort.run(proto, {"x": x, "like": like})
        got = module(torch.from_numpy(x), torch.from_numpy(like)).numpy()
        assert got.shape == want.shape and np.array_equal(got, want)


def test_the_expressions_read_like_hand_written_torch():
    assert expand_text([1, 1, 4], [0, -1, -1]) == "{0}.expand({1}.shape[0], 1, 4)"
    assert slice_text([0], [0], [1]) == "{0}[:{1}.shape[1]]"
    assert slice_text([1], [2], [1]) == "{0}[:, 2:{1}.shape[1]]"


@pytest.mark.parametrize(
    ("start", "delta", "to"),
    [(0.0, 1.0, TensorProto.FLOAT), (2.0, 3.0, TensorProto.FLOAT), (0.0, 1.0, TensorProto.INT32)],
)
def test_a_range_to_a_dim_is_torch_arange_matching_onnxruntime(start, delta, to):
    call = helper.make_node(
        form.RANGE, ["like"], ["y"], domain=DOMAIN, start=start, delta=delta, like_axis=1, to=to
    )
    graph = helper.make_graph(
        [call],
        "g",
        [helper.make_tensor_value_info("like", TensorProto.FLOAT, ["N", "T", 4])],
        [helper.make_tensor_value_info("y", to, ["R"])],
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(DOMAIN, VERSION)],
        functions=[form.FUNCTIONS[form.RANGE](17)],
    )
    proto.ir_version = 8
    onnx.checker.check_model(proto, full_check=True)
    module = convert(proto)
    for length in (5, 9):
        like = np.zeros((2, length, 4), np.float32)
        (want,) = ort.run(proto, {"like": like})
        got = module(torch.from_numpy(like)).numpy()
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_a_range_reads_like_hand_written_torch():
    assert range_text(0.0, 1.0, 1, torch.float32) == (
        "torch.arange({0}.shape[1], dtype=torch.float32, device={0}.device)"
    )
    assert range_text(2.0, 3.0, 1, torch.float32) == (
        "torch.arange(2.0, {0}.shape[1], 3.0, dtype=torch.float32, device={0}.device)"
    )
    assert range_text(1.0, 1.0, 0, torch.int32) == (
        "torch.arange(1, {0}.shape[0], dtype=torch.int32, device={0}.device)"
    )
