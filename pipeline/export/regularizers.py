"""Keras' weight regularizers, for ``model.py``'s ``regularization_loss()``: the penalty Keras
adds to the loss in training (its ``model.losses``), which no ``torch.nn`` module holds.

Each regularized trainable weight is one term ``l1 * sum(|w|) + l2 * sum(w**2)`` (Keras'
``L1``, ``L2`` and ``L1L2``). Stage 3 finds the torch parameter that holds the weight by the
weight's values, sorted (a conv kernel transposed, a Dense's rows re-ordered: the same
values; the penalty does not depend on their order), among the parameters of the layer's
modules, and holds the module's penalty to the one Keras computes here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import keras

from pipeline import metadata

_FORMULAS = (keras.regularizers.L1, keras.regularizers.L2, keras.regularizers.L1L2)


def penalties(qualified: Mapping[str, object]) -> dict[str, str]:
    """``{REGULARIZERS: JSON}`` with each term, what has no formula here, and Keras' total
    penalty on the current weights; or {} for a model without regularizers."""
    terms, unsupported, total = [], [], 0.0
    for name, layer in qualified.items():
        if hasattr(layer, "layers") or not isinstance(layer, keras.layers.Layer):
            continue
        if getattr(layer, "activity_regularizer", None) is not None:
            unsupported.append(f"layer '{name}': activity_regularizer (a penalty on its output)")
        for variable in layer.trainable_weights:
            regularizer = getattr(variable, "regularizer", None)
            if regularizer is None:
                continue
            total += float(regularizer(variable))
            if type(regularizer) not in _FORMULAS:
                unsupported.append(
                    f"layer '{name}' weight '{variable.name}': {type(regularizer).__name__}"
                )
                continue
            config = regularizer.get_config()
            terms.append(
                {
                    "layer": name,
                    "weight": variable.name,
                    "l1": float(config.get("l1", 0.0)),
                    "l2": float(config.get("l2", 0.0)),
                    "digest": metadata.values_digest(variable.numpy()),
                }
            )
    if not terms and not unsupported:
        return {}
    found = {"terms": terms, "unsupported": unsupported, "keras_loss": total}
    return {metadata.REGULARIZERS: json.dumps(found)}
