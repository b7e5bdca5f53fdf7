"""Stage 1's list of Keras weight regularizers (``pipeline.export.regularizers``): one term
per regularized trainable weight, named by its values; what has no formula listed by name;
and Keras' own penalty (its ``model.losses``), which stage 3's method is held to."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from pipeline import metadata
from pipeline.export.annotate import qualified_layers
from pipeline.export.regularizers import penalties

L, R = keras.layers, keras.regularizers


def _spec(model: keras.Model) -> dict:
    return json.loads(penalties(qualified_layers(model))[metadata.REGULARIZERS])


def test_terms_and_keras_penalty():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    x = L.Dense(4, kernel_regularizer=R.L1L2(0.01, 0.02), bias_regularizer="l2", name="a")(inputs)
    frozen = L.Dense(3, kernel_regularizer=R.L2(0.5), name="frozen")
    frozen.trainable = False  # Keras does not count a frozen weight's penalty
    model = keras.Model(inputs, frozen(x))
    spec = _spec(model)
    assert [(t["layer"], t["weight"], t["l1"], t["l2"]) for t in spec["terms"]] == [
        ("a", "kernel", pytest.approx(0.01), 0.02),
        ("a", "bias", 0.0, 0.01),
    ]
    kernel = model.get_layer("a").kernel.numpy()
    assert spec["terms"][0]["digest"] == metadata.values_digest(kernel.T[::-1])
    assert spec["keras_loss"] == pytest.approx(float(np.sum(model.losses)), rel=1e-6)
    assert spec["unsupported"] == []


def test_what_has_no_formula_is_named():
    inputs = keras.Input((6,))
    x = L.Dense(4, activity_regularizer="l1", name="loud")(inputs)
    x = L.Dense(4, kernel_regularizer=R.OrthogonalRegularizer(0.1), name="ortho")(x)
    spec = _spec(keras.Model(inputs, x))
    assert spec["terms"] == []
    assert spec["unsupported"] == [
        "layer 'loud': activity_regularizer (a penalty on its output)",
        "layer 'ortho' weight 'kernel': OrthogonalRegularizer",
    ]


def test_a_model_without_regularizers_has_no_entry():
    inputs = keras.Input((6,))
    assert penalties(qualified_layers(keras.Model(inputs, L.Dense(2)(inputs)))) == {}
