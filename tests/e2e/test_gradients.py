"""Gradient equivalence (``pipeline.gradients``): the converted module's gradients, layer by
layer, are Keras' (re-arranged as the weights are), and one SGD step on both gives the same
next outputs. In inference mode on both sides (BatchNorm on its moving statistics, Dropout
off), and in training mode (BatchNorm on the batch's statistics, dropout rates 0): the
outputs, the gradients and the BatchNorm running statistics after the batch."""

from __future__ import annotations

import pytest

from pipeline import gradients

# LeNet4, a BatchNorm CNN, a forward and a backward LSTM over an Embedding, the transformer,
# GRUs (two Keras biases, each a torch one), masked recurrent layers and attention over padded
# token ids, two ConvLSTM2D (Keras' kernels as the gates' nn.Conv2d weights), keras-hub
# blocks (BERT: modules named after each block's parts; Whisper: a zero key bias that never
# moves, a frozen table; MiT: auto-named layers renamed when the model is loaded again)
MODELS = (
    "lenet4",
    "bn_block",
    "lstm_text",
    "transformer",
    "gru_rnn",
    "masked_text",
    "masked_transformer",
    "conv_lstm",
    "hub_bert",
    "hub_whisper",
    "hub_mit",
)


@pytest.mark.parametrize("model", MODELS)
def test_gradients_and_one_sgd_step_match_keras(model, small_models):
    out, result = small_models[model]  # converted once for the session (conftest.py)
    assert result["exit"] == 0, result["error"][-2000:]
    result = gradients.run(out)
    assert result.layers and result.train_layers, "no trainable layer compared"
    assert result.step and result.train_outputs
    assert not result.failed, result.failed
    assert len(result.train_statistics) == 2 * BATCH_NORMS[model]


# BatchNormalization layers per model: each gives its running mean and variance
BATCH_NORMS = {
    "lenet4": 0,
    "bn_block": 2,
    "lstm_text": 0,
    "transformer": 0,
    "gru_rnn": 0,
    "masked_text": 0,
    "masked_transformer": 0,
    "conv_lstm": 0,
    "hub_bert": 0,
    "hub_whisper": 0,
    "hub_mit": 0,
}
