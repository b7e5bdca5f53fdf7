"""Gradient equivalence (``pipeline.gradients``): the converted module's gradients, layer by
layer, are Keras' (re-arranged as the weights are), and one SGD step on both gives the same
next outputs. In inference mode on both sides (BatchNorm on its moving statistics, Dropout
off); train-mode BatchNorm is not compared yet (README, "Training the converted module")."""

from __future__ import annotations

import pytest

from pipeline import gradients

# LeNet4, a BatchNorm CNN, a forward and a backward LSTM over an Embedding, the transformer
MODELS = ("lenet4", "bn_block", "lstm_text", "transformer")


@pytest.mark.parametrize("model", MODELS)
def test_gradients_and_one_sgd_step_match_keras(model, small_models):
    out, result = small_models[model]  # converted once for the session (conftest.py)
    assert result["exit"] == 0, result["error"][-2000:]
    layers, step = gradients.run(out)
    assert layers, "no trainable layer compared"
    failed = [layer for layer in layers if not layer.passed]
    assert not failed, failed
    assert all(c.passed for c in step), [c.describe() for c in step]
