"""Stage 1's own export of recurrent layers: each Keras layer is one call of its ONNX function
(no Loop, nothing else around it), onnxruntime matches Keras at two sequence lengths (and with
states in and out), and every form the function cannot hold exactly is refused, naming the
layer."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
from pipeline import ort
from pipeline.compare import FLOAT32_TOL, compare
from pipeline.errors import UnsupportedError
from pipeline.export import tf2onnx_export
from pipeline.forms import recurrent as recurrent_form

L = keras.layers
FEATURES = 5


def _model(layer, name="seq", inputs=None) -> keras.Model:
    from models.small import randomize

    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, FEATURES), name="x") if inputs is None else inputs
    return randomize(keras.Model(inputs, layer(inputs), name=name))


def _layer(kind: str, direction: str, output: str):
    cls = {"LSTM": L.LSTM, "GRU": L.GRU, "SimpleRNN": L.SimpleRNN}[kind]
    sequences = output == "Sequence"
    if direction.startswith("Bidirectional"):
        merge = direction.removeprefix("Bidirectional").lower()
        return L.Bidirectional(cls(4, return_sequences=sequences), merge_mode=merge, name="rnn")
    return cls(4, return_sequences=sequences, go_backwards=direction == "Backward", name="rnn")


FORMS = list(
    itertools.product(recurrent_form.KINDS, recurrent_form.DIRECTIONS, recurrent_form.OUTPUTS)
)


@pytest.mark.parametrize("kind,direction,output", FORMS, ids=lambda v: str(v))
def test_recurrent_layer_is_one_function_call_matching_keras(kind, direction, output):
    model = _model(_layer(kind, direction, output))
    proto = tf2onnx_export.to_onnx(model)
    tf2onnx_export.validate(proto)
    assert [n.op_type for n in proto.graph.node] == [f"Keras{kind}{direction}{output}"]
    assert [f.name for f in proto.functions] == [proto.graph.node[0].op_type]
    rng = np.random.default_rng(0)
    for steps in (6, 11):
        x = rng.standard_normal((3, steps, FEATURES)).astype(np.float32)
        (actual,) = ort.run(proto, {"x": x})
        expected = np.asarray(model(x))
        result = compare("stage1", f"T={steps}", "y", expected, actual, FLOAT32_TOL)
        assert result.passed, result.describe()


STATES = [  # (kind, direction, output, called with initial states, return_state)
    (kind, *where, initial, states)
    for kind in recurrent_form.KINDS
    for where in (("Forward", "Sequence"), ("Backward", "Last"))
    for initial, states in ((True, False), (False, True), (True, True))
]


@pytest.mark.parametrize("kind,direction,output,initial,states", STATES, ids=lambda v: str(v))
def test_states_in_and_out_are_the_function_s_inputs_and_outputs(
    kind, direction, output, initial, states
):
    """An encoder's states seeding a decoder (``initial_state=``), a layer returning its
    final states (``return_state=True``): Keras' (B, H) states are the function's."""
    cls = {"LSTM": L.LSTM, "GRU": L.GRU, "SimpleRNN": L.SimpleRNN}[kind]
    layer = cls(
        4,
        return_sequences=output == "Sequence",
        go_backwards=direction == "Backward",
        return_state=states,
        name="rnn",
    )
    x = keras.Input((None, FEATURES), name="x")
    given = [keras.Input((4,), name=n) for n in ("h0", "c0")[: 2 if kind == "LSTM" else 1]]
    found = layer(x, initial_state=given) if initial else layer(x)
    model = _model(lambda _: found, "stated", [x, *given] if initial else x)
    proto = tf2onnx_export.to_onnx(model)
    op_type = recurrent_form.Form(kind, direction, output, initial, states).op_type
    assert [n.op_type for n in proto.graph.node] == [op_type]
    rng = np.random.default_rng(0)
    sizes = {"x": (3, 6, FEATURES), "h0": (3, 4), "c0": (3, 4)}
    feeds = {i.name: rng.standard_normal(sizes[i.name]).astype(np.float32) for i in model.inputs}
    actual = ort.run(proto, feeds)
    expected = model([feeds[i.name] for i in model.inputs] if initial else feeds["x"])
    expected = expected if isinstance(expected, list | tuple) else [expected]
    assert len(actual) == len(expected) == 1 + (len(given) if states else 0)
    for got, want in zip(actual, expected, strict=True):
        result = compare("stage1", "T=6", "y", np.asarray(want), got, FLOAT32_TOL)
        assert result.passed, result.describe()


REFUSED = {  # why -> the layer (built in the test: Keras layers are used once)
    "stateful=True": lambda: L.LSTM(4, stateful=True, name="rnn"),
    "return_state=True on a Bidirectional": lambda: L.Bidirectional(
        L.LSTM(4, return_state=True), name="rnn"
    ),
    "recurrent_activation 'hard_sigmoid'": lambda: L.LSTM(
        4, recurrent_activation="hard_sigmoid", name="rnn"
    ),
    "reset_after=False": lambda: L.GRU(4, reset_after=False, name="rnn"),
    "activation 'sigmoid'": lambda: L.SimpleRNN(4, activation="sigmoid", name="rnn"),
    "merge_mode='mul'": lambda: L.Bidirectional(L.LSTM(4), merge_mode="mul", name="rnn"),
}


@pytest.mark.parametrize("why", REFUSED)
def test_recurrent_form_without_exact_equivalent_is_refused(why):
    layer = REFUSED[why]()
    inputs = keras.Input((7, FEATURES), batch_size=2, name="x")
    outputs = layer(inputs)
    model = keras.Model(inputs, outputs[0] if isinstance(outputs, list) else outputs)
    with pytest.raises(UnsupportedError, match=rf"Keras layer 'rnn' \(\w+\): .*{why}"):
        tf2onnx_export.to_onnx(model)


def test_embedding_is_one_gather():
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    model = _model(L.Embedding(20, 4, name="embed"), "embed", tokens)
    proto = tf2onnx_export.to_onnx(model)
    assert [n.op_type for n in proto.graph.node] == ["Gather"]
    ids = np.array([[0, 19, 3], [5, 5, 1]], np.int32)
    (actual,) = ort.run(proto, {"tokens": ids})
    np.testing.assert_array_equal(actual, np.asarray(model(ids)))
