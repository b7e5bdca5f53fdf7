"""How a Keras model takes its inputs and gives its outputs: one tensor, a list, or a dict.

ONNX has flat, named inputs and outputs, in the order of ``model.inputs``/``model.outputs``
(a dict flattened by sorted key, as ``keras.tree`` does). A model whose outputs are a dict
gets its ONNX outputs named after the dict's keys, and ``metadata.OUTPUT_KEYS`` tells stage 3
to return a dict with those keys.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import onnx

from pipeline import metadata


def output_keys(model) -> list[str] | None:
    """The keys of a dict of outputs, in ``model.outputs`` order (None: not a dict)."""
    if isinstance(model, keras.Sequential) or not isinstance(model.output, dict):
        return None
    return keras.tree.flatten({key: key for key in model.output})


def name_outputs(proto: onnx.ModelProto, keys: list[str] | None) -> None:
    """Rename the graph's outputs to the Keras dict keys and record them in the metadata."""
    if keys is None:
        return
    graph = proto.graph
    taken = {v for node in graph.node for v in [*node.input, *node.output]}
    taken |= {i.name for i in graph.input} | {t.name for t in graph.initializer}
    renames = {}
    for value, key in zip(graph.output, keys, strict=True):
        if value.name != key:
            if key in taken:
                raise ValueError(f"output key '{key}' is already a tensor name of the graph")
            renames[value.name] = key
            value.name = key
    for node in graph.node:
        for field in (node.input, node.output):
            for index, name in enumerate(field):
                field[index] = renames.get(name, name)
    props = {p.key: p.value for p in proto.metadata_props}
    onnx.helper.set_model_props(proto, {**props, metadata.OUTPUT_KEYS: json.dumps(keys)})


def call(model, arrays: list[np.ndarray], compiled: bool = False) -> list[np.ndarray]:
    """``model`` (Keras 3 or tf_keras) on ``arrays`` (in ``model.inputs`` order), in
    inference mode; its outputs flat, in ``model.outputs`` order. Called eagerly, or with
    ``compiled`` through Keras' compiled predict function (``predict_on_batch``)."""
    single = len(arrays) == 1  # a Sequential has one input (and no ``input`` before a call)
    feed = arrays[0] if single else keras.tree.pack_sequence_as(model.input, arrays)
    result = model.predict_on_batch(feed) if compiled else model(feed, training=False)
    return [np.asarray(out) for out in keras.tree.flatten(result)]
