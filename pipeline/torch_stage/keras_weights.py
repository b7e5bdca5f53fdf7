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
    """Each Keras weight found in the parameters, and in no buffer; ``passed`` if all are.
    ``held_by``: the parameters that hold each weight judged (those of its size first; a
    weight torch splits, a GRU's two biases, is held by several), for the report's layer
    table."""
    params = {n: p for n, p in model.named_parameters() if p.is_floating_point()}
    values = {name: _values(p) for name, p in params.items()}
    buffers = {
        name: _values(b) for name, b in model.named_buffers() if b.is_floating_point() and b.numel()
    }
    wrong, constant, held_by = [], 0, {}
    for weight in weights:
        if np.unique(weight.sample).size < 2:
            constant += 1
            continue
        in_buffers = [name for name, found in buffers.items() if _holds(found, weight.sample)]
        holders = _holders(weight, params, values)
        if in_buffers or not holders:
            wrong.append({"weight": weight.path, "buffers": in_buffers})
        held_by[weight.path] = holders
    return {
        "keras_weights": len(weights),
        "constant": constant,
        "not_parameters": wrong,
        "passed": not wrong,
        "held_by": held_by,
    }


def _holders(weight: ref.KerasWeight, params: dict, values: dict) -> list[str]:
    """The parameter that holds all of the weight's sample (one of its size first), else
    those that hold part of it and together all of it (a weight torch splits in two)."""
    same_size = [n for n, p in params.items() if p.numel() == weight.size]
    for name in [*same_size, *(n for n in params if n not in same_size)]:
        if _holds(values[name], weight.sample):
            return [name]
    parts = [n for n in params if np.any(np.isin(weight.sample, values[n]))]
    together = np.unique(np.concatenate([values[n] for n in parts])) if parts else np.array([])
    return parts if _holds(together, weight.sample) else []
