"""Stage 1's own export of ConvLSTM1D/ConvLSTM2D: each layer is one call of its ONNX function
between two Transposes (no Loop), onnxruntime matches Keras (every step's map or the last,
"same" and "valid", strides, dilation), and every form the function cannot hold is refused,
naming the layer."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from pipeline import ort
from pipeline.compare import FLOAT32_TOL, compare
from pipeline.errors import UnsupportedError
from pipeline.export import tf2onnx_export
from pipeline.forms import conv_lstm as form

L = keras.layers

CASES = {  # name -> (input shape without the batch, the layer)
    "2d same, every step": (
        (3, 7, 7, 2),
        lambda: L.ConvLSTM2D(3, 3, padding="same", return_sequences=True),
    ),
    "2d valid, dilated, the last": ((3, 8, 8, 2), lambda: L.ConvLSTM2D(2, 2, dilation_rate=2)),
    "2d even kernel same": ((2, 6, 6, 1), lambda: L.ConvLSTM2D(2, 2, padding="same")),
    "1d strided": ((4, 9, 3), lambda: L.ConvLSTM1D(3, 3, strides=2, return_sequences=True)),
}


@pytest.mark.parametrize("case", CASES)
def test_conv_lstm_is_one_call_matching_keras(case):
    from models.small import randomize

    shape, make = CASES[case]
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape, name="x")
    model = randomize(keras.Model(inputs, make()(inputs)))
    proto = tf2onnx_export.to_onnx(model)
    layer = model.layers[1]
    op_type = form.SEQUENCES if layer.return_sequences else form.LAST
    assert [n.op_type for n in proto.graph.node] == ["Transpose", op_type, "Transpose"]
    x = np.random.default_rng(1).standard_normal((2, *shape)).astype(np.float32)
    (actual,) = ort.run(proto, {"x": x})
    result = compare("stage1", case, "y", np.asarray(model(x)), actual, FLOAT32_TOL)
    assert result.passed, result.describe()


REFUSED = {  # why -> the layer (built in the test: Keras layers are used once)
    "return_state=True": lambda: L.ConvLSTM2D(2, 3, return_state=True, name="clstm"),
    "go_backwards=True": lambda: L.ConvLSTM2D(2, 3, go_backwards=True, name="clstm"),
    "use_bias=False": lambda: L.ConvLSTM2D(2, 3, use_bias=False, name="clstm"),
    "activation 'relu'": lambda: L.ConvLSTM2D(2, 3, activation="relu", name="clstm"),
    "recurrent_activation 'hard_sigmoid'": lambda: L.ConvLSTM2D(
        2, 3, recurrent_activation="hard_sigmoid", name="clstm"
    ),
    r"padding='same' with strides=\(2, 2\)": lambda: L.ConvLSTM2D(
        2, 3, strides=2, padding="same", name="clstm"
    ),
}


@pytest.mark.parametrize("why", REFUSED)
def test_a_conv_lstm_form_without_an_exact_equivalent_is_refused(why):
    inputs = keras.Input((3, 8, 8, 2), batch_size=2, name="x")
    outputs = REFUSED[why]()(inputs)
    model = keras.Model(inputs, outputs[0] if isinstance(outputs, list) else outputs)
    with pytest.raises(UnsupportedError, match=rf"Keras layer 'clstm' \(ConvLSTM2D\): {why}"):
        tf2onnx_export.to_onnx(model)


def test_a_conv_lstm_called_with_initial_states_is_refused():
    inputs = keras.Input((3, 6, 6, 2), name="x")
    state = keras.Input((4, 4, 2), name="h")
    outputs = L.ConvLSTM2D(2, 3, name="clstm")(inputs, initial_state=[state, state])
    model = keras.Model([inputs, state], outputs)
    with pytest.raises(UnsupportedError, match="'clstm' .*called with an initial_state"):
        tf2onnx_export.to_onnx(model)


def test_conv_lstm_3d_is_refused_naming_the_layer():
    inputs = keras.Input((2, 4, 4, 4, 1), name="x")
    model = keras.Model(inputs, L.ConvLSTM3D(2, 3, name="clstm3")(inputs))
    with pytest.raises(UnsupportedError, match="'clstm3' \\(ConvLSTM3D\\): a 3-D convolutional"):
        tf2onnx_export.to_onnx(model)
