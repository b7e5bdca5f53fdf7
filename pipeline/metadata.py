"""What the stages agree on in an ONNX file's metadata: where each node came from in Keras,
the model-level Keras facts, and the interface changes passes declare.

Provenance: stage 1 writes ``keras_layer: <name> (<class>)`` into every node's ``doc_string``
(Netron shows it as the node's description) and the model-level facts below into
``metadata_props``. Later stages read them to name things and to word their errors.

Layout: when a pass turns an NHWC graph input into NCHW it records the permutation under
``pipeline.input_perm.<input name>`` (for example ``0,3,1,2``): whoever feeds the model
Keras-layout data (the checks, a user) applies ``np.transpose(x, perm)`` first.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

import numpy as np

# Provenance --------------------------------------------------------------------------------------
DOC_PREFIX = "keras_layer: "
_DOC_RE = re.compile(r"keras_layer: (?P<name>.+) \((?P<cls>[^()]*)\)$")

MODEL_NAME = "keras.model_name"
LAYERS = "keras.layers"  # JSON list of [layer name, class name], in model order
PARAM_COUNT = "keras.param_count"  # the weight count the PyTorch port must have
USE_BIAS = "keras.use_bias"  # JSON list of the layers built with use_bias=True
# JSON {layer: momentum} of the BatchNormalization layers: torch's momentum is 1 - Keras'
BATCHNORM_MOMENTUM = "keras.batchnorm_momentum"
# JSON list of the layers with weights that Keras freezes (trainable=False), and how many
# parameters their torch modules hold (they get requires_grad=False)
FROZEN_LAYERS = "keras.frozen_layers"
FROZEN_PARAM_COUNT = "keras.frozen_param_count"
# JSON {"terms": [{layer, weight, l1, l2, digest}], "unsupported": [...], "keras_loss": float}:
# Keras' weight regularizers, for model.py's regularization_loss() (export/regularizers.py)
REGULARIZERS = "keras.regularizers"


def values_digest(values: np.ndarray) -> str:
    """A weight's values as a set with repeats (sorted, float32): what no transpose or
    re-ordering changes. A regularizer term names its weight by it."""
    ordered = np.sort(np.asarray(values, np.float32).ravel())
    return hashlib.sha256(ordered.tobytes()).hexdigest()


# JSON list: the Keras model returns a dict, with these keys (the ONNX outputs' names, in order)
OUTPUT_KEYS = "keras.output_keys"
INPUT_LAYOUT_PREFIX = "keras.input_layout."  # per input: NHWC, NWC, ... or "" if not spatial
# An initializer's doc_string when it holds a Keras variable (a weight) rather than a constant
# Keras computed with: stage 3 makes such a tensor an nn.Parameter even where no torch.nn
# module takes it (ConvNeXt's LayerScale gamma is a Mul by a weight).
KERAS_WEIGHT = "keras_weight"


def keras_layers(proto) -> list[list[str]]:
    """``[[layer name, class name], ...]`` in model order, from an ONNX ModelProto's metadata
    (stage 1 writes it; [] for a file without it)."""
    props = {p.key: p.value for p in proto.metadata_props}
    return json.loads(props.get(LAYERS, "[]"))


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


# Layout ------------------------------------------------------------------------------------------
INPUT_PERM_PREFIX = "pipeline.input_perm."
# An output made NCHW records the permutation back to Keras' layout:
# keras_output = np.transpose(output, perm).
OUTPUT_PERM_PREFIX = "pipeline.output_perm."
NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)


def perm_key(input_name: str) -> str:
    return INPUT_PERM_PREFIX + input_name


def output_perm_key(output_name: str) -> str:
    return OUTPUT_PERM_PREFIX + output_name


def format_perm(perm: tuple[int, ...]) -> str:
    return ",".join(str(axis) for axis in perm)


def _perms(props: Mapping[str, str], prefix: str) -> dict[str, tuple[int, ...]]:
    return {
        key[len(prefix) :]: tuple(int(axis) for axis in value.split(","))
        for key, value in props.items()
        if key.startswith(prefix)
    }


def input_perms(props: Mapping[str, str]) -> dict[str, tuple[int, ...]]:
    """The declared input permutations, by input name."""
    return _perms(props, INPUT_PERM_PREFIX)


def output_perms(props: Mapping[str, str]) -> dict[str, tuple[int, ...]]:
    """The declared output permutations (model layout -> Keras layout), by output name."""
    return _perms(props, OUTPUT_PERM_PREFIX)


def to_keras_layout(name: str, array, perms: Mapping[str, tuple[int, ...]]):
    """A model output in Keras' layout (the array itself when no permutation is declared)."""
    return np.transpose(array, perms[name]) if name in perms else array


def adapt_inputs(
    inputs: Mapping[str, np.ndarray], perms: Mapping[str, tuple[int, ...]]
) -> dict[str, np.ndarray]:
    """Keras-layout inputs -> the layout the model declares (contiguous copies)."""
    return {
        name: np.ascontiguousarray(np.transpose(x, perms[name])) if name in perms else x
        for name, x in inputs.items()
    }
