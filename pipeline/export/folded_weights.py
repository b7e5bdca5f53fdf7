"""Keras weights tf2onnx folded into constants: marked as weights again.

tf2onnx names an initializer read from a Keras variable after the read (``ReadVariableOp``),
and ``annotate`` marks those as Keras weights (stage 3 makes them ``nn.Parameter``\\ s). When
a layer reads a whole variable through constant indices (keras-hub ViT's position embedding:
an ``Embedding`` called on ``arange(positions)``), tf2onnx folds the read into a new
constant under another name, which would become a buffer: a weight fine-tuning never moves.
An unmarked float initializer holding exactly a variable's values, in its order (the
identity gather), is that variable: it is marked too. Variables of one repeated value (zeros,
ones) are not matched: any constant could hold them.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from pipeline import metadata


def mark(graph: onnx.GraphProto, model) -> list[str]:
    """Mark each initializer that is a folded Keras variable; their names."""
    by_size: dict[int, list] = {}
    for variable in model.weights:
        by_size.setdefault(int(np.prod(variable.shape)), []).append(variable)
    marked = []
    for tensor in graph.initializer:
        if tensor.doc_string == metadata.KERAS_WEIGHT or tensor.data_type != onnx.TensorProto.FLOAT:
            continue
        size = int(np.prod(tensor.dims))
        if size < 2 or size not in by_size:
            continue
        values = numpy_helper.to_array(tensor).reshape(-1)
        if values.min() == values.max():
            continue
        for variable in by_size[size]:
            if np.array_equal(np.asarray(variable.numpy(), np.float32).reshape(-1), values):
                tensor.doc_string = metadata.KERAS_WEIGHT
                marked.append(tensor.name)
                break
    return marked
