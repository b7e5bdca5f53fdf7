"""model.onnx's names: stage 2's input and output names, and never a name defined twice."""

from __future__ import annotations

import numpy as np
import onnx
import torch
from pipeline import ort
from pipeline.torch_stage import deploy

from tests.graphs import model, node, value

TOL = 1e-6  # onnxruntime against torch on the same float32 conv and sigmoid


class _ConvSigmoid(torch.nn.Module):
    """A conv autoencoder's last layer: torch.onnx names the conv's output after its aten op
    (``conv2d``, then ``conv2d_1``, ...), as Keras names its Conv2D layers, the output's too."""

    def __init__(self) -> None:
        super().__init__()
        self.conv2d_3 = torch.nn.Conv2d(2, 1, 3, padding=1)

    def forward(self, input_layer: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv2d_3(input_layer))


def _stage2(input_name: str, output_name: str) -> onnx.ModelProto:
    """A stand-in for stage 2's file: only its input and output names and metadata count."""
    return model(
        [node("Identity", [input_name], [output_name])],
        [value(input_name, ["N", 2, 5, 5])],
        [value(output_name, ["N", 1, 5, 5])],
    )


def _write(stage2: onnx.ModelProto, tmp_path) -> tuple[onnx.ModelProto, float]:
    """model.onnx of the module, valid by onnx's full check; and its largest difference from
    the module on a seeded input."""
    torch.manual_seed(0)
    module = _ConvSigmoid().eval()
    x = torch.randn(2, 2, 5, 5)
    program, error = deploy.export_program(module, {"input_layer": x}, {"input_layer": [0]})
    assert error is None
    path = tmp_path / "model.onnx"
    proto, data, error = deploy.write_onnx(program, path, stage2)
    assert error is None
    written = onnx.load(path)
    assert written.SerializeToString() == data == proto.SerializeToString()  # what was checked
    onnx.checker.check_model(written, full_check=True)
    (actual,) = ort.run(written, {stage2.graph.input[0].name: x.numpy()})
    with torch.no_grad():
        expected = module(x).numpy()
    return written, float(np.max(np.abs(actual - expected)))


def _defined(proto: onnx.ModelProto) -> list[str]:
    graph = proto.graph
    return [o for n in graph.node for o in n.output] + [
        v.name for v in (*graph.initializer, *graph.input)
    ]


def test_an_output_named_like_an_internal_value_renames_that_value(tmp_path):
    written, error = _write(_stage2("input_layer", "conv2d"), tmp_path)
    names = _defined(written)
    assert len(names) == len(set(names)), "a name is defined twice"
    assert [o.name for o in written.graph.output] == ["conv2d"]
    assert error <= TOL


def test_an_input_named_like_an_internal_value_renames_that_value(tmp_path):
    written, error = _write(_stage2("conv2d", "output"), tmp_path)
    names = _defined(written)
    assert len(names) == len(set(names)), "a name is defined twice"
    assert [i.name for i in written.graph.input] == ["conv2d"]
    assert [o.name for o in written.graph.output] == ["output"]
    assert error <= TOL
