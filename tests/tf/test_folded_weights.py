"""export.folded_weights: a Keras variable tf2onnx folded into a constant under another name
(an Embedding read through constant indices: keras-hub ViT's positions) is marked as a Keras
weight again; a constant of one repeated value is never taken for a weight."""

from __future__ import annotations

import keras
import numpy as np
from onnx import numpy_helper
from pipeline import metadata
from pipeline.export import folded_weights, tf2onnx_export


class _Positions(keras.layers.Layer):
    """x + table(arange(steps)), as a ViT adds its position embeddings."""

    def __init__(self, steps: int, width: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.steps = steps
        self.table = keras.layers.Embedding(steps, width, name="table")

    def call(self, x):
        return x + self.table(keras.ops.arange(self.steps))


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    x = keras.Input((5, 4), name="x")
    model = keras.Model(x, _Positions(5, 4, name="positions")(x))
    model.get_layer("positions").table.embeddings.assign(
        np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    )
    return model


def test_a_variable_folded_into_a_constant_is_marked_as_a_weight():
    model = _model()
    proto = tf2onnx_export.to_onnx(model)
    table = np.asarray(model.get_layer("positions").table.embeddings).reshape(-1)
    holders = [
        t
        for t in proto.graph.initializer
        if numpy_helper.to_array(t).size == table.size
        and np.array_equal(numpy_helper.to_array(t).reshape(-1), table)
    ]
    assert len(holders) == 1 and "ReadVariableOp" not in holders[0].name  # folded, renamed
    holders[0].doc_string = ""
    assert folded_weights.mark(proto.graph, model) == [holders[0].name]
    assert holders[0].doc_string == metadata.KERAS_WEIGHT


def test_a_constant_of_one_value_is_not_taken_for_a_weight():
    model = _model()
    model.get_layer("positions").table.embeddings.assign(np.ones((5, 4), np.float32))
    proto = tf2onnx_export.to_onnx(model)
    for tensor in proto.graph.initializer:
        tensor.doc_string = ""
    assert folded_weights.mark(proto.graph, model) == []
