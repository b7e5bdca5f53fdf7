"""onnx2torch's shape inference, without copying the weights.

``onnx2torch.convert`` first runs ONNX's shape inference on the whole model
(``onnx2torch.utils.safe_shape_inference``), which serializes every weight to C++ and parses
the result back: 0.9 s of VGG16's torch stage, for its 220 MB. The inference reads a
weight's type and shape, and the values only of small ones (a Reshape's shape, an axis
list), so ``inferred`` runs it on a copy of the graph whose large weights are declared
inputs of the same type and shape: the same shapes, for the bytes of the graph alone.
``convert`` is onnx2torch's ``convert`` with that inference in place of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import onnx
import onnx2torch.converter
from onnx import helper

LARGE = 4096  # elements: a weight this big is declared, not copied (no shape is this long)


def inferred(model: onnx.ModelProto, **kwargs) -> onnx.ModelProto:
    """``model`` with the value infos ONNX's shape inference finds for it (in place)."""
    graph, light = model.graph, onnx.GraphProto()
    light.name = graph.name
    for field in ("node", "input", "output", "value_info", "sparse_initializer"):
        getattr(light, field).extend(getattr(graph, field))
    declared = {value.name for value in graph.input}
    for tensor in graph.initializer:
        elements = 1
        for dim in tensor.dims:
            elements *= dim
        if elements <= LARGE:
            light.initializer.append(tensor)
        elif tensor.name not in declared:
            declared_as = helper.make_tensor_value_info(tensor.name, tensor.data_type, tensor.dims)
            light.input.append(declared_as)
    copy = helper.make_model(light, opset_imports=model.opset_import, functions=model.functions)
    copy.ir_version = model.ir_version
    found = onnx.shape_inference.infer_shapes(copy, **kwargs).graph
    del graph.value_info[:]
    graph.value_info.extend(found.value_info)
    del graph.output[:]
    graph.output.extend(found.output)
    return model


@contextmanager
def _light() -> Iterator[None]:
    original = onnx2torch.converter.safe_shape_inference
    onnx2torch.converter.safe_shape_inference = inferred
    try:
        yield
    finally:
        onnx2torch.converter.safe_shape_inference = original


def convert(model: onnx.ModelProto, **kwargs):
    """``onnx2torch.convert(model, **kwargs)``, its shape inference by ``inferred``."""
    with _light():
        return onnx2torch.converter.convert(model, **kwargs)
