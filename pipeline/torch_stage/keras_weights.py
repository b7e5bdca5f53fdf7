"""Which tensors of the emitted module hold the weights Keras trains: every one must be in
an ``nn.Parameter`` (up to layout: a sample of its values, ``reference.KerasWeight``, found
among the parameters' values), and no buffer may hold one. A parameter count alone cannot
tell: a bias moved into a buffer next to a zero bias parameter counts the same and computes
the same, but fine-tuning never moves it.

A weight whose sampled values are all equal (an untrained model's zero bias, a gamma of
ones) cannot be told apart by its values: counted as ``constant`` and not judged."""

from __future__ import annotations

import numpy as np
import torch

from pipeline import reference as ref


def _values(tensor: torch.Tensor) -> np.ndarray:
    """The distinct values of a float tensor, sorted."""
    return np.unique(tensor.detach().to(torch.float32).reshape(-1).numpy())


def _holds(values: np.ndarray, sample: np.ndarray) -> bool:
    """Is every value of ``sample`` among the sorted distinct ``values``?"""
    if values.size == 0:
        return False
    index = np.clip(np.searchsorted(values, sample), 0, values.size - 1)
    return bool(np.all(values[index] == sample))


def check(model: torch.nn.Module, weights: tuple[ref.KerasWeight, ...]) -> dict:
    """Each Keras weight found in the parameters, and in no buffer; ``passed`` if all are."""
    params = [p for p in model.parameters() if p.is_floating_point()]
    pool = _values(torch.cat([p.reshape(-1) for p in params])) if params else np.array([])
    buffers = {
        name: _values(b) for name, b in model.named_buffers() if b.is_floating_point() and b.numel()
    }
    wrong, constant = [], 0
    for weight in weights:
        if np.unique(weight.sample).size < 2:
            constant += 1
            continue
        in_buffers = [name for name, values in buffers.items() if _holds(values, weight.sample)]
        if in_buffers or not _holds(pool, weight.sample):
            wrong.append({"weight": weight.path, "buffers": in_buffers})
    return {
        "keras_weights": len(weights),
        "constant": constant,
        "not_parameters": wrong,
        "passed": not wrong,
    }
