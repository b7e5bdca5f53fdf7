"""Stage 1's masked recurrent forms (``pipeline.forms.recurrent_masked``): a recurrent layer
called with Keras' mask is one call of its masked function, and onnxruntime matches Keras on
masks with trailing padding of different lengths, holes, and a row masked throughout; the
combinations it cannot hold are refused, naming the layer."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from pipeline import ort
from pipeline.compare import FLOAT32_TOL, compare
from pipeline.errors import UnsupportedError
from pipeline.export import tf2onnx_export
from pipeline.forms import recurrent as recurrent_form

L = keras.layers
FEATURES, STEPS = 5, 7
# trailing padding of different lengths, a hole, a row masked throughout, a full row
MASK = np.array(
    [
        [1, 1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 0, 0, 0],
        [1, 0, 1, 1, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 0],
        [0, 0, 1, 1, 1, 0, 0],
    ],
    dtype=bool,
)


def _layer(kind: str, direction: str, output: str, zeros: bool):
    cls = {"LSTM": L.LSTM, "GRU": L.GRU, "SimpleRNN": L.SimpleRNN}[kind]
    sequences = output == "Sequence"
    if direction.startswith("Bidirectional"):
        merge = direction.removeprefix("Bidirectional").lower()
        return L.Bidirectional(cls(4, return_sequences=sequences), merge_mode=merge, name="rnn")
    backwards = direction == "Backward"
    return cls(
        4,
        return_sequences=sequences,
        go_backwards=backwards,
        zero_output_for_mask=zeros,
        name="rnn",
    )


def _masked_model(layer) -> keras.Model:
    from models.small import randomize

    keras.utils.set_random_seed(0)
    x = keras.Input((STEPS, FEATURES), name="x")
    mask = keras.Input((STEPS,), dtype="bool", name="mask")
    return randomize(keras.Model([x, mask], layer(x, mask=mask), name="masked"))


MASKED = [f for f in recurrent_form.all_forms() if f.masked]


@pytest.mark.parametrize("form", MASKED, ids=lambda f: f.op_type.removeprefix("Keras"))
def test_masked_layer_is_one_function_call_matching_keras(form):
    model = _masked_model(_layer(form.kind, form.direction, form.output, form.zeros))
    proto = tf2onnx_export.to_onnx(model)
    tf2onnx_export.validate(proto)
    assert [n.op_type for n in proto.graph.node] == [form.op_type]
    x = np.random.default_rng(0).standard_normal((len(MASK), STEPS, FEATURES)).astype(np.float32)
    (actual,) = ort.run(proto, {"x": x, "mask": MASK})
    expected = np.asarray(model([x, MASK]))
    result = compare("stage1", "masked", "y", expected, actual, FLOAT32_TOL)
    assert result.passed, result.describe()


def test_a_layer_that_also_returns_its_states_under_a_mask_is_refused():
    model_layer = L.GRU(4, return_state=True, name="rnn")
    with pytest.raises(UnsupportedError, match=r"'rnn' \(GRU\): it returns its states and recei"):
        tf2onnx_export.to_onnx(_masked_model(lambda x, mask: model_layer(x, mask=mask)[0]))


def test_a_layer_called_with_initial_states_and_a_mask_is_refused():
    from models.small import randomize

    x = keras.Input((STEPS, FEATURES), name="x")
    mask = keras.Input((STEPS,), dtype="bool", name="mask")
    h0 = keras.Input((4,), name="h0")
    y = L.GRU(4, name="rnn")(x, mask=mask, initial_state=[h0])
    model = randomize(keras.Model([x, mask, h0], y))
    with pytest.raises(UnsupportedError, match=r"'rnn' \(GRU\): it is called with an initial_st"):
        tf2onnx_export.to_onnx(model)


def test_a_masked_bidirectional_without_bias_is_refused():
    layer = L.Bidirectional(L.LSTM(4, use_bias=False), name="rnn")
    with pytest.raises(UnsupportedError, match=r"'rnn' \(Bidirectional\): use_bias=False"):
        tf2onnx_export.to_onnx(_masked_model(layer))
