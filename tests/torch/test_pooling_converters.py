"""converters/pooling.py: AveragePool with uneven pads (TensorFlow's "same"), which onnx2torch
refuses, against onnxruntime; even pads stay with onnx2torch's own converter."""

from __future__ import annotations

import numpy as np
import onnx
import pipeline.torch_stage.converters  # noqa: F401  (registers our converters)
import pytest
import torch
from onnx import TensorProto, helper
from onnx2torch import convert
from pipeline import ort
from pipeline.torch_stage.templates import Statements


def _average_pool(shape: list[int], kernel: list[int], strides: list[int], pads: list[int]):
    node = helper.make_node(
        "AveragePool", ["x"], ["y"], kernel_shape=kernel, strides=strides, pads=pads
    )
    graph = helper.make_graph(
        [node],
        "pool",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return onnx.shape_inference.infer_shapes(model)


@pytest.mark.parametrize(
    ("shape", "kernel", "strides", "pads"),
    [
        ([2, 3, 16, 16], [2, 2], [1, 1], [0, 0, 1, 1]),  # even kernel, stride 1
        ([2, 3, 16, 15], [3, 3], [2, 2], [0, 1, 1, 1]),  # stride 2, uneven on one axis
        ([2, 3, 10], [4], [3], [1, 2]),  # 1-D
    ],
)
def test_uneven_pads_average_over_the_real_pixels_only(shape, kernel, strides, pads):
    model = _average_pool(shape, kernel, strides, pads)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    (expected,) = ort.run(model, {"x": x})
    gm = convert(model)
    assert any(isinstance(m, Statements) for m in gm.modules())
    actual = gm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-6)


def test_even_pads_keep_onnx2torch_s_avgpool():
    gm = convert(_average_pool([1, 2, 8, 8], [3, 3], [1, 1], [1, 1, 1, 1]))
    pools = [m for m in gm.modules() if isinstance(m, torch.nn.AvgPool2d)]
    assert len(pools) == 1 and list(pools[0].padding) == [1, 1]
    assert not any(isinstance(m, Statements) for m in gm.modules())
