"""The ONNX form of Keras ``Resizing(interpolation="nearest")`` on channels-first data, shared
by stage 1 (writes it) and stage 3 (reads it as ``nn.Upsample(size, mode="nearest-exact")``).

TensorFlow picks source row ``min(floor((y + 0.5) * in / out), in - 1)`` in float32 (its
half-pixel centers). No ONNX ``Resize`` picks those rows for every size: onnxruntime divides
by the float32 scale out/in, and 92 to 495 of the 4096 (in, out) pairs 1..64 pick another
row in one of its four formulations, while ``nearest-exact`` picks TensorFlow's rows in all
4096 (measured on this machine). So stage 1 writes the rows and columns TensorFlow picks,
and the function gathers them::

    KerasResizeNearest(X[N,C,H,W], rows[h] int64, cols[w] int64) -> Y[N,C,h,w]
    Body: Y = Gather(Gather(X, rows, axis=2), cols, axis=3)
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from pipeline.forms.function import make

OP_TYPE = "KerasResizeNearest"
PARAM_ROLES = {OP_TYPE: (None, None, None)}


def source_indices(size: int, target: int) -> np.ndarray:
    """The input rows TensorFlow's nearest resize (half-pixel centers) reads for each of
    ``target`` output rows, computed in float32 as its kernel does."""
    scale = np.float32(size) / np.float32(target)
    centers = (np.arange(target, dtype=np.float32) + np.float32(0.5)) * scale
    return np.minimum(np.floor(centers).astype(np.int64), size - 1)


def function(opset: int) -> onnx.FunctionProto:
    nodes = [
        helper.make_node("Gather", ["X", "rows"], ["picked_rows"], axis=2),
        helper.make_node("Gather", ["picked_rows", "cols"], ["Y"], axis=3),
    ]
    return make(OP_TYPE, ["X", "rows", "cols"], nodes, opset, [])
