"""How ONNX nodes remember their Keras layer, and the model-level Keras facts.

Stage 1 writes ``keras_layer: <name> (<class>)`` into every node's ``doc_string`` (Netron
shows it as the node's description) and the model-level facts below into
``metadata_props``. Later stages read them to name things and to word their errors.
"""

from __future__ import annotations

import re

DOC_PREFIX = "keras_layer: "
_DOC_RE = re.compile(r"keras_layer: (?P<name>.+) \((?P<cls>[^()]*)\)$")

MODEL_NAME = "keras.model_name"
LAYERS = "keras.layers"  # JSON list of [layer name, class name], in model order
PARAM_COUNT = "keras.param_count"  # the weight count the PyTorch port must have
USE_BIAS = "keras.use_bias"  # JSON list of the layers built with use_bias=True
INPUT_LAYOUT_PREFIX = "keras.input_layout."
# An initializer's doc_string when it holds a Keras variable (a weight) rather than a constant
# Keras computed with: stage 3 makes such a tensor an nn.Parameter even where no torch.nn
# module takes it (ConvNeXt's LayerScale gamma is a Mul by a weight).
KERAS_WEIGHT = "keras_weight"  # per input: NHWC, NWC, ... or "" if not spatial


def layer_doc(name: str, cls: str) -> str:
    return f"{DOC_PREFIX}{name} ({cls})"


def layer_of(doc_string: str) -> tuple[str, str] | None:
    """(layer name, class name) recorded in a node's doc_string, or None."""
    match = _DOC_RE.search(doc_string or "")
    return (match["name"], match["cls"]) if match else None


def describe_node(name: str, op_type: str, doc_string: str) -> str:
    """``node 'fc1' (MatMul) of Keras layer 'fc1' (Dense)``: for error messages."""
    layer = layer_of(doc_string)
    where = f"node '{name}' ({op_type})"
    if layer:
        where += f" of Keras layer '{layer[0]}' ({layer[1]})"
    return where
