"""Interface changes that passes declare in the model's ``metadata_props``.

When a pass turns an NHWC graph input into NCHW it records the permutation under
``pipeline.input_perm.<input name>`` (for example ``0,3,1,2``): whoever feeds the model
Keras-layout data (the checks, a user) applies ``np.transpose(x, perm)`` first.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

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


def _perms(metadata: Mapping[str, str], prefix: str) -> dict[str, tuple[int, ...]]:
    return {
        key[len(prefix) :]: tuple(int(axis) for axis in value.split(","))
        for key, value in metadata.items()
        if key.startswith(prefix)
    }


def input_perms(metadata: Mapping[str, str]) -> dict[str, tuple[int, ...]]:
    """The declared input permutations, by input name."""
    return _perms(metadata, INPUT_PERM_PREFIX)


def output_perms(metadata: Mapping[str, str]) -> dict[str, tuple[int, ...]]:
    """The declared output permutations (model layout -> Keras layout), by output name."""
    return _perms(metadata, OUTPUT_PERM_PREFIX)


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
