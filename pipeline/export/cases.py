"""The reference cases' inputs: seeded, at two batch sizes, at a second size of the
dimensions a model leaves open, and a labelled data set where the model has one."""

from __future__ import annotations

import numpy as np

BATCH_SIZES = (1, 4)
INPUT_SEED = 0
# Sizes for input dimensions the model leaves open (an image's height and width, a sequence's
# length): the first for the batch cases, the second for one more case (batch 2), so that a
# model that accepts other sizes is checked at two of them.
FREE_SIZES = (16, 24)
SECOND_SIZE_BATCH = 2
# The case at the second size: a model may refuse that size (a position embedding as long as
# the first, GPT-2's max_sequence_length); it is then checked at the first size only.
SECOND_SIZE_CASE = f"batch{SECOND_SIZE_BATCH}_size{FREE_SIZES[1]}"
INT_HIGH = 10  # integer inputs (token ids) are drawn from [0, INT_HIGH) without an Embedding


def _token_high(model) -> int:
    """Token ids must index every Embedding the model has: below the smallest input_dim."""
    from pipeline.export.tf2onnx_export import all_layers

    dims = [layer.input_dim for layer in all_layers(model) if hasattr(layer, "input_dim")]
    return min(dims, default=INT_HIGH)


def _pad_values(model) -> dict[str, float]:
    """What marks a padded step for the model's masking layers: {"int": 0} for an
    ``Embedding(mask_zero=True)``, {"float": mask_value} for a ``Masking`` layer."""
    from pipeline.export.tf2onnx_export import all_layers

    values = {}
    for layer in all_layers(model):
        if getattr(layer, "mask_zero", False):
            values.setdefault("int", 0)
        if type(layer).__name__ == "Masking":
            values.setdefault("float", float(layer.mask_value))
    return values


def _padded(array: np.ndarray, value: float) -> np.ndarray:
    """Row b of a batch of sequences with its last steps set to ``value``: from none (row 0)
    to all but one (the last row), so that masks of different lengths per row are checked."""
    steps = array.shape[1]
    last = max(len(array) - 1, 1)
    for row in range(1, len(array)):
        array[row, steps - round(row * (steps - 1) / last) :] = value
    return array


def _input(rng, tensor, batch: int, free: int, high: int, pads: dict) -> np.ndarray:
    shape = (batch, *(free if d is None else d for d in tensor.shape[1:]))
    if "int" in str(tensor.dtype):
        array = rng.integers(0, high, shape).astype(str(tensor.dtype))
        return _padded(array, pads["int"]) if "int" in pads and len(shape) == 2 else array
    array = rng.standard_normal(shape).astype(np.float32)
    return _padded(array, pads["float"]) if "float" in pads and len(shape) == 3 else array


def case_inputs(model, labeled=None) -> dict[str, list[np.ndarray]]:
    """Seeded inputs (standard normal; token ids for integer inputs) at each batch size, at a
    second size of the open dimensions if the model has any, plus a labelled split: per
    case, in the order of the model's inputs. A model that masks steps gets sequences
    padded at the end, by a different number of steps per row."""
    rng = np.random.default_rng(INPUT_SEED)
    high, pads = _token_high(model), _pad_values(model)
    runs = [(f"batch{batch}", batch, FREE_SIZES[0]) for batch in BATCH_SIZES]
    if any(None in t.shape[1:] for t in model.inputs):
        runs.append((SECOND_SIZE_CASE, SECOND_SIZE_BATCH, FREE_SIZES[1]))
    cases = {
        case: [_input(rng, t, batch, free, high, pads) for t in model.inputs]
        for case, batch, free in runs
    }
    if labeled is not None:
        cases[labeled.name] = [labeled.x.astype(np.float32)]
    return cases
