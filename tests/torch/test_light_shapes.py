"""onnx2torch's shape inference run on the graph without its large weights' values
(``pipeline.torch_stage.light_shapes``) finds exactly what the full inference finds."""

from __future__ import annotations

import numpy as np
import onnx
import onnx2torch.converter
import torch
from onnx import TensorProto, helper, numpy_helper
from pipeline.torch_stage import light_shapes


def _model() -> onnx.ModelProto:
    """A Gemm whose weight is over LARGE, then a Reshape whose shape is a small weight the
    inference must read to know the output's shape."""
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((128, 64)).astype(np.float32)
    assert weight.size > light_shapes.LARGE
    nodes = [
        helper.make_node("Gemm", ["x", "w"], ["h"], transB=1),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(weight, "w"),
            numpy_helper.from_array(np.array([-1, 8, 16], np.int64), "shape"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _infos(model: onnx.ModelProto) -> dict[str, bytes]:
    values = [*model.graph.value_info, *model.graph.output]
    return {v.name: v.SerializeToString() for v in values}


def test_the_light_inference_finds_what_the_full_one_finds():
    full = onnx.shape_inference.infer_shapes(_model())
    light = light_shapes.inferred(_model())
    assert _infos(light) == _infos(full)
    (y,) = light.graph.output
    # the 8 and 16 read from the small weight "shape"
    assert [d.dim_value for d in y.type.tensor_type.shape.dim][1:] == [8, 16]
    assert len(light.graph.initializer) == 2  # the model keeps its weights


def test_convert_uses_it_and_puts_onnx2torch_back():
    original = onnx2torch.converter.safe_shape_inference
    gm = light_shapes.convert(_model())
    assert onnx2torch.converter.safe_shape_inference is original
    x = torch.randn(2, 64)
    assert tuple(gm(x).shape) == (2, 8, 16)  # 2 x 128 values
