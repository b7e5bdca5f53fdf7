"""The Keras weights the PyTorch port must train, each as a seeded sample of its values
(``reference.KerasWeight``), so that the torch side can tell which of its tensors hold them:
every one must be in an ``nn.Parameter``, none in a buffer (``torch_stage.keras_weights``).

A layer Keras freezes (``trainable=False``) counts with the weights it trains when unfrozen:
the port keeps them as parameters that do not require grad. BatchNorm's moving statistics and
Normalization's mean and variance are never trained, so never listed."""

from __future__ import annotations

import numpy as np

from pipeline import reference as ref
from pipeline.export.tf2onnx_export import all_layers

SAMPLE = 64  # values kept per weight: all of a smaller one
SEED = 0


def trained(model) -> list:
    """Each variable Keras trains (or would, unfrozen), once, in layer order."""
    found, seen = [], set()
    for layer in all_layers(model):
        if hasattr(layer, "layers") or not getattr(layer, "weights", None):
            continue
        frozen = not layer.trainable
        if frozen:
            layer.trainable = True  # what the layer trains when unfrozen; then frozen again
        try:
            variables = list(layer.trainable_weights)
        finally:
            if frozen:
                layer.trainable = False
        for variable in variables:
            if id(variable) not in seen:
                seen.add(id(variable))
                found.append(variable)
    return found


def fingerprints(model) -> tuple[ref.KerasWeight, ...]:
    rng = np.random.default_rng(SEED)
    weights = []
    for variable in trained(model):
        values = np.asarray(variable.numpy(), np.float32).reshape(-1)
        if values.size > SAMPLE:
            values = values[rng.choice(values.size, SAMPLE, replace=False)]
        weights.append(ref.KerasWeight(variable.path, int(np.prod(variable.shape)), values))
    return tuple(weights)
