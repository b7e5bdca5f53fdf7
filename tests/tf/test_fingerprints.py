"""Stage 1 lists the weights Keras trains (frozen layers' included, statistics never) with a
sample of each, for the torch side's weights-as-parameters check."""

from __future__ import annotations

import keras
import numpy as np
from pipeline.export import fingerprints


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(80, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    frozen = keras.layers.Dense(3, name="frozen_dense")
    frozen.trainable = False
    return keras.Model(inputs, frozen(x))


def test_trained_and_frozen_weights_are_listed_statistics_are_not():
    model = _model()
    listed = fingerprints.fingerprints(model)
    assert [w.path for w in listed] == [
        "conv/kernel",
        "conv/bias",
        "bn/gamma",
        "bn/beta",
        "frozen_dense/kernel",
        "frozen_dense/bias",
    ]
    assert not model.get_layer("frozen_dense").trainable  # frozen again after the listing
    kernel = model.get_layer("conv").kernel.numpy().reshape(-1)
    assert listed[0].size == kernel.size == 3 * 3 * 2 * 80
    assert listed[0].sample.size == fingerprints.SAMPLE
    assert np.isin(listed[0].sample, kernel).all()
    assert np.array_equal(listed[5].sample, model.get_layer("frozen_dense").bias.numpy())  # all
