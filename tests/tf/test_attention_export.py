"""Stage 1's own export of MultiHeadAttention (one function call) and LayerNormalization (one
ONNX LayerNormalization): onnxruntime matches Keras; what nn.MultiheadAttention cannot compute
exactly is refused, naming the layer."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from pipeline import ort
from pipeline.compare import FLOAT32_TOL, compare
from pipeline.errors import UnsupportedError
from pipeline.export import tf2onnx_export

L = keras.layers


def _randomized(model: keras.Model) -> keras.Model:
    from models.small import randomize

    return randomize(model)


def _check(model: keras.Model, feeds: dict[str, np.ndarray]) -> list[str]:
    proto = tf2onnx_export.to_onnx(model)
    tf2onnx_export.validate(proto)
    (actual,) = ort.run(proto, feeds)
    expected = np.asarray(model(list(feeds.values()) if len(feeds) > 1 else feeds["q"]))
    result = compare("stage1", "case", "y", expected, actual, FLOAT32_TOL)
    assert result.passed, result.describe()
    return [n.op_type for n in proto.graph.node]


@pytest.mark.parametrize("causal", [False, True])
def test_self_attention_is_one_call_matching_keras(causal):
    keras.utils.set_random_seed(0)
    q = keras.Input((None, 8), name="q")
    y = L.MultiHeadAttention(2, 4, name="att")(q, q, use_causal_mask=causal)
    model = _randomized(keras.Model(q, y))
    rng = np.random.default_rng(0)
    for steps in (5, 9):
        feeds = {"q": rng.standard_normal((3, steps, 8)).astype(np.float32)}
        expected = "KerasMultiHeadAttentionCausal" if causal else "KerasMultiHeadAttention"
        assert _check(model, feeds) == [expected]


def test_cross_attention_with_other_key_and_value_sizes():
    keras.utils.set_random_seed(0)
    q, v = keras.Input((None, 8), name="q"), keras.Input((None, 6), name="v")
    y = L.MultiHeadAttention(4, 2, name="att")(q, v)
    model = _randomized(keras.Model([q, v], y))
    rng = np.random.default_rng(1)
    feeds = {
        "q": rng.standard_normal((2, 5, 8)).astype(np.float32),
        "v": rng.standard_normal((2, 7, 6)).astype(np.float32),
    }
    assert _check(model, feeds) == ["KerasMultiHeadAttention"]


def _tokens_model(call, dropout: float = 0.0) -> keras.Model:
    """Token ids (0: padding) -> Embedding(mask_zero=True) -> ``call(layer, x)``."""
    keras.utils.set_random_seed(0)
    ids = keras.Input((6,), dtype="int32", name="ids")
    x = L.Embedding(9, 8, mask_zero=True, name="embed")(ids)
    att = L.MultiHeadAttention(2, 4, dropout=dropout, name="att")
    return _randomized(keras.Model(ids, call(att, x)))


MASKED_CALLS = {  # the padding mask alone, with the causal one, with an attention_mask too
    "padding": lambda att, x: att(x, x),
    "padding_causal": lambda att, x: att(x, x, use_causal_mask=True),
    "padding_and_attention_mask": lambda att, x: att(
        x, x, attention_mask=keras.ops.convert_to_tensor(np.tril(np.ones((1, 6, 6), bool), 1))
    ),
}


@pytest.mark.parametrize("dropout", [0.0, 0.1])
@pytest.mark.parametrize("call", MASKED_CALLS)
def test_attention_over_a_padding_mask_is_one_masked_call_matching_keras(call, dropout):
    """Keras' combined mask (query and value masks from the Embedding, causal, the
    argument) is the call's last input; rows padded at the end, holes, a row all padding.
    With attention dropout Keras zeroes a padded query's weights, without it does not."""
    model = _tokens_model(MASKED_CALLS[call], dropout)
    ids = np.array([[1, 2, 3, 4, 5, 6], [3, 1, 4, 0, 0, 0], [2, 0, 7, 8, 0, 1], [0] * 6], np.int32)
    proto = tf2onnx_export.to_onnx(model)
    tf2onnx_export.validate(proto)
    (actual,) = ort.run(proto, {"ids": ids})
    result = compare("stage1", "masked", "y", np.asarray(model(ids)), actual, FLOAT32_TOL)
    assert result.passed, result.describe()
    calls = [n.op_type for n in proto.graph.node if n.domain == "keras2torch"]
    assert calls == ["KerasMultiHeadAttentionMasked" + ("Zeros" if dropout else "")]


@pytest.mark.parametrize(("scale", "center"), [(False, True), (True, False), (False, False)])
def test_layer_normalization_without_gamma_or_beta_is_one_op(scale, center):
    keras.utils.set_random_seed(0)
    q = keras.Input((None, 8), name="q")
    norm = L.LayerNormalization(scale=scale, center=center, name="norm")
    model = _randomized(keras.Model(q, norm(q)))
    feeds = {"q": np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)}
    assert _check(model, feeds) == ["LayerNormalization"]


def test_layer_normalization_is_one_op():
    keras.utils.set_random_seed(0)
    q = keras.Input((None, 8), name="q")
    model = _randomized(keras.Model(q, L.LayerNormalization(epsilon=1e-5, name="norm")(q)))
    feeds = {"q": np.random.default_rng(2).standard_normal((2, 3, 8)).astype(np.float32)}
    assert _check(model, feeds) == ["LayerNormalization"]


REFUSED = {
    "value_dim 3 != key_dim 4": lambda q: L.MultiHeadAttention(2, 4, value_dim=3, name="att")(q, q),
    "num_heads \\* key_dim = 6": lambda q: L.MultiHeadAttention(2, 3, name="att")(q, q),
    "use_bias=False": lambda q: L.MultiHeadAttention(2, 4, use_bias=False, name="att")(q, q),
    "output_shape": lambda q: L.MultiHeadAttention(2, 4, output_shape=5, name="att")(q, q),
    "return_attention_scores": lambda q: L.MultiHeadAttention(2, 4, name="att")(
        q, q, return_attention_scores=True
    )[0],
    "use_gate=True": lambda q: L.MultiHeadAttention(2, 4, use_gate=True, name="att")(q, q),
}


@pytest.mark.parametrize("why", REFUSED)
def test_attention_without_exact_torch_equivalent_is_refused(why):
    q = keras.Input((5, 8), name="q")
    model = keras.Model(q, REFUSED[why](q))
    with pytest.raises(
        UnsupportedError, match=rf"Keras layer 'att' \(MultiHeadAttention\): .*{why}"
    ) as refused:
        tf2onnx_export.to_onnx(model)
    # the refusal as raised, not TensorFlow's rewording with the frames ("in user code:")
    assert str(refused.value).startswith("Keras layer 'att'"), str(refused.value)
