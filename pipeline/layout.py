"""Interface changes that passes declare in the model's ``metadata_props``.

When a pass turns an NHWC graph input into NCHW it records the permutation under
``pipeline.input_perm.<input name>`` (for example ``0,3,1,2``): whoever feeds the model
Keras-layout data (the checks, a user) applies ``np.transpose(x, perm)`` first.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

INPUT_PERM_PREFIX = "pipeline.input_perm."
NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)


def perm_key(input_name: str) -> str:
    return INPUT_PERM_PREFIX + input_name


def format_perm(perm: tuple[int, ...]) -> str:
    return ",".join(str(axis) for axis in perm)


def input_perms(metadata: Mapping[str, str]) -> dict[str, tuple[int, ...]]:
    """The declared input permutations, by input name."""
    return {
        key[len(INPUT_PERM_PREFIX) :]: tuple(int(axis) for axis in value.split(","))
        for key, value in metadata.items()
        if key.startswith(INPUT_PERM_PREFIX)
    }


def adapt_inputs(
    inputs: Mapping[str, np.ndarray], perms: Mapping[str, tuple[int, ...]]
) -> dict[str, np.ndarray]:
    """Keras-layout inputs -> the layout the model declares (contiguous copies)."""
    return {
        name: np.ascontiguousarray(np.transpose(x, perms[name])) if name in perms else x
        for name, x in inputs.items()
    }
