"""The ONNX edits every stage-1 layer handler makes: add a Keras weight as an initializer,
turn the placeholder node into the layer's op, read the model's opset.

A leaf module (onnx and numpy only): the handlers import it, it imports none of them.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from pipeline import metadata


def initializer(graph: onnx.GraphProto, name: str, array: np.ndarray) -> str:
    """Add ``array`` as initializer ``name`` (once: a shared layer's calls share it), marked
    as a Keras weight (stage 3 makes it a parameter)."""
    if all(init.name != name for init in graph.initializer):
        tensor = numpy_helper.from_array(np.asarray(array, np.float32), name)
        tensor.doc_string = metadata.KERAS_WEIGHT
        graph.initializer.append(tensor)
    return name


def become(node: onnx.NodeProto, op_type: str, domain: str, inputs: list[str]) -> None:
    """The placeholder node turns into ``op_type`` over ``inputs`` (keeping name, output)."""
    del node.input[:]
    node.input.extend(inputs)
    del node.attribute[:]
    node.op_type, node.domain = op_type, domain


def opset(proto: onnx.ModelProto) -> int:
    """The model's standard ONNX opset."""
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
