"""Gradient equivalence (``pipeline.gradients``): the converted module's gradients, layer by
layer, are Keras' (re-arranged as the weights are), and one SGD step on both gives the same
next outputs. In inference mode on both sides (BatchNorm on its moving statistics, Dropout
off); train-mode BatchNorm is not compared yet (README, "Training the converted module")."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline import batch, gradients

# LeNet4, a BatchNorm CNN, a forward and a backward LSTM over an Embedding, the transformer
MODELS = ("lenet4", "bn_block", "lstm_text", "transformer")
STAGES = ("export", "passes", "torch")  # each checks its artifact; the check stage adds nothing


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("gradients")
    chunks = [list(MODELS[i::2]) for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        results = {}
        for found in pool.map(lambda chunk: batch.convert(chunk, root, STAGES), chunks):
            results.update(found)
    bad = {m: r["error"][-2000:] for m, r in results.items() if r["exit"]}
    assert not bad, bad
    return root


@pytest.mark.parametrize("model", MODELS)
def test_gradients_and_one_sgd_step_match_keras(model, converted):
    layers, step = gradients.run(converted / batch.dir_name(model))
    assert layers, "no trainable layer compared"
    failed = [layer for layer in layers if not layer.passed]
    assert not failed, failed
    assert all(c.passed for c in step), [c.describe() for c in step]
