"""converters/conv_lstm.py: stage 1's ConvLSTM function as model.py's KerasConvLSTM2d/1d,
computing what onnxruntime computes for the function (both outputs, "same" and "valid",
strides, dilation, 1-D and 2-D), its constructor written as a person would."""

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
from pipeline.forms import conv_lstm as form
from pipeline.torch_stage import conv_lstm

CASES = {  # name -> (op type, input [N, T, C, *S], kernel, strides, pads, dilations)
    "2d same, every step": (form.SEQUENCES, (2, 3, 2, 6, 6), (3, 3), [1, 1], [1, 1, 1, 1], [1, 1]),
    "2d valid dilated, last": (form.LAST, (2, 4, 2, 8, 8), (2, 2), [1, 1], [0] * 4, [2, 2]),
    "2d even kernel same": (form.LAST, (1, 2, 1, 5, 5), (2, 2), [1, 1], [0, 0, 1, 1], [1, 1]),
    "1d strided, every step": (form.SEQUENCES, (2, 4, 3, 9), (3,), [2], [0, 0], [1]),
}  # fmt: skip


def _call(op_type, shape, kernel, strides, pads, dilations, filters=3):
    rng = np.random.default_rng(0)
    weights = {
        "W": rng.standard_normal((4 * filters, shape[2], *kernel)) * 0.3,
        "R": rng.standard_normal((4 * filters, filters, *kernel)) * 0.3,
        "B": rng.standard_normal(4 * filters) * 0.1,
    }
    inits = [onnx.numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()]
    call = helper.make_node(
        op_type, ["x", *weights], ["y"], domain=DOMAIN, strides=strides, pads=pads,
        dilations=dilations,
    )  # fmt: skip
    rank = len(shape) - 3 + (2 if op_type == form.SEQUENCES else 1)
    graph = helper.make_graph(
        [call],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *shape[1:]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * (rank + 1))],
        inits,
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(DOMAIN, VERSION)],
        functions=[form.function(op_type, 17)],
    )
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    return proto


@pytest.mark.parametrize("case", CASES)
def test_the_function_is_keras_conv_lstm_matching_onnxruntime(case):
    op_type, shape, *conv = CASES[case]
    proto = _call(op_type, shape, *conv)
    module = convert(proto)
    (cell,) = [
        m for m in module.modules() if isinstance(m, conv_lstm.CLASSES_BY_RANK[len(shape) - 3])
    ]
    assert cell.return_sequences == (op_type == form.SEQUENCES)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    (want,) = ort.run(proto, {"x": x})
    got = module(torch.from_numpy(x)).detach().numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_the_constructor_reads_like_hand_written_torch():
    module = conv_lstm.KerasConvLSTM2d(2, 4, (3, 3), padding="same", return_sequences=True)
    assert conv_lstm.constructor(module) == (
        "KerasConvLSTM2d(2, 4, (3, 3), padding='same', return_sequences=True)"
    )
    module = conv_lstm.KerasConvLSTM1d(3, 4, (3,), stride=(2,))
    assert conv_lstm.constructor(module) == "KerasConvLSTM1d(3, 4, (3,), stride=(2,))"
    assert sum(p.numel() for p in module.parameters()) == 3 * 16 * 3 + 16 + 4 * 16 * 3
