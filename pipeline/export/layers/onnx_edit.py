"""The ONNX edits every stage-1 layer handler makes: add a Keras weight as an initializer,
turn the placeholder node into the layer's op, put ops before it, read the model's opset.

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


def constant(graph: onnx.GraphProto, name: str, array: np.ndarray) -> str:
    """Add ``array`` as initializer ``name`` as it is (a shape, an axis list: no weight)."""
    if all(init.name != name for init in graph.initializer):
        graph.initializer.append(numpy_helper.from_array(np.asarray(array), name))
    return name


def become(node: onnx.NodeProto, op_type: str, domain: str, inputs: list[str]) -> None:
    """The placeholder node turns into ``op_type`` over ``inputs`` (keeping name, output)."""
    del node.input[:]
    node.input.extend(inputs)
    del node.attribute[:]
    node.op_type, node.domain = op_type, domain


Steps = list[tuple[str, list[str], dict]]  # (op type, its inputs after the first, attributes)


def precede(graph: onnx.GraphProto, node: onnx.NodeProto, steps: Steps) -> str:
    """Insert ops before ``node`` that take its first input through ``steps`` one after the
    other, each (op type, its other inputs, attributes); the last value's name, for ``node``
    to read. The new nodes are named after ``node`` (so they keep its Keras layer)."""
    index = list(graph.node).index(node)
    value = node.input[0]
    for number, (op_type, others, attributes) in enumerate(steps):
        name = f"{node.name}_{op_type.lower()}_{number}"
        new = onnx.helper.make_node(op_type, [value, *others], [name], name=name, **attributes)
        graph.node.insert(index + number, new)
        value = name
    return value


def channels_first(graph: onnx.GraphProto, node: onnx.NodeProto, rank: int, steps: Steps) -> None:
    """``node``'s channels-last input, channels first (``Transpose``), through ``steps``, and
    back: ``node`` becomes the Transpose to channels last (keeping its output). Stage 2
    cancels such Transposes next to a conv, as it does tf2onnx's own."""
    to_first = [0, rank - 1, *range(1, rank - 1)]
    value = precede(graph, node, [("Transpose", [], {"perm": to_first}), *steps])
    become(node, "Transpose", "", [value])
    node.attribute.append(onnx.helper.make_attribute("perm", [0, *range(2, rank), 1]))


def opset(proto: onnx.ModelProto) -> int:
    """The model's standard ONNX opset."""
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
