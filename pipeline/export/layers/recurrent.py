"""LSTM, GRU, SimpleRNN and Bidirectional: each layer becomes a call of its ONNX function
(the form: ``pipeline.forms.recurrent``; the mechanism: ``pipeline.export.own_layers``), its
weights converted from Keras to ONNX gate order:

- Keras LSTM gates are (i, f, c, o), ONNX's (i, o, f, c); GRU and ONNX both (z, r, h);
- Keras kernels are (in, gates*H), ONNX's W is (directions, gates*H, in);
- ONNX B is (input bias, recurrent bias): Keras LSTM/SimpleRNN have one bias (the recurrent
  half is zero); a ``reset_after`` GRU has both, exactly ONNX's ``linear_before_reset=1``.

A layer this form cannot hold exactly is refused before tf2onnx runs, naming it (``check``).
"""

from __future__ import annotations

import keras
import numpy as np
import onnx
import tensorflow as tf
from onnx import helper

from pipeline.errors import UnsupportedError
from pipeline.export.layers import onnx_edit
from pipeline.export.layers.registry import register
from pipeline.forms import DOMAIN
from pipeline.forms import recurrent as recurrent_form
from pipeline.forms.recurrent import Form

_LSTM_TO_ONNX = (0, 3, 1, 2)  # ONNX (i, o, f, c) from Keras (i, f, c, o)
_RECURRENT = (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)


def _name(fn) -> str:
    return getattr(fn, "__name__", str(fn))


def _refuse(layer, why: str) -> UnsupportedError:
    return UnsupportedError(
        f"Keras layer '{layer.name}' ({type(layer).__name__}): {why}. It has no exact "
        "nn.LSTM/nn.GRU/nn.RNN equivalent; change the layer's configuration (README, "
        "'Supported layers') and convert again."
    )


def _check_cell(layer, top) -> None:
    kind = type(layer).__name__
    if layer.stateful:
        raise _refuse(top, "stateful=True keeps state between calls")
    if layer.return_state and top is not layer:
        raise _refuse(top, "return_state=True on a Bidirectional (one direction's converts)")
    activation = _name(layer.cell.activation)
    if kind == "SimpleRNN":
        if activation not in ("tanh", "relu"):
            raise _refuse(top, f"activation '{activation}' (nn.RNN has tanh and relu)")
        return
    recurrent = _name(layer.cell.recurrent_activation)
    if (activation, recurrent) != ("tanh", "sigmoid"):
        raise _refuse(
            top,
            f"activation '{activation}' / recurrent_activation '{recurrent}' (nn.{kind} "
            "computes tanh / sigmoid)",
        )
    if kind == "GRU" and not layer.cell.reset_after:
        raise _refuse(top, "reset_after=False (nn.GRU applies the reset gate after the matmul)")


def form_of(layer, initial: bool = False, masked: bool = False) -> Form:
    """The ONNX form of a recurrent layer (``initial``: called with initial states;
    ``masked``: with Keras' mask), or an UnsupportedError naming it."""
    if masked:
        return _masked_form(layer)
    if isinstance(layer, keras.layers.Bidirectional):
        inner = layer.forward_layer
        if type(inner) not in _RECURRENT or type(layer.backward_layer) is not type(inner):
            raise _refuse(layer, f"it wraps a {type(inner).__name__}")
        _check_cell(inner, layer)
        _check_cell(layer.backward_layer, layer)
        if inner.go_backwards:
            raise _refuse(layer, "its forward layer has go_backwards=True")
        if layer.merge_mode not in ("concat", "sum"):
            raise _refuse(layer, f"merge_mode={layer.merge_mode!r} (concat and sum convert)")
        direction = "Bidirectional" + layer.merge_mode.capitalize()
        output = "Sequence" if inner.return_sequences else "Last"
        return Form(type(inner).__name__, direction, output)
    _check_cell(layer, layer)
    direction = "Backward" if layer.go_backwards else "Forward"
    output = "Sequence" if layer.return_sequences else "Last"
    return Form(type(layer).__name__, direction, output, initial, layer.return_state)


def _masked_form(layer) -> Form:
    """A layer called with a mask (``pipeline.forms.recurrent_masked``)."""
    plain = form_of(layer)
    if getattr(layer, "return_state", False):
        raise _refuse(
            layer, "it returns its states and receives a mask (one or the other converts)"
        )
    if plain.bidirectional and not layer.forward_layer.cell.use_bias:
        raise _refuse(layer, "use_bias=False on a Bidirectional that receives a mask")
    inner = layer.forward_layer if plain.bidirectional else layer
    zeros = plain.output == "Sequence" and bool(inner.zero_output_for_mask)
    return Form(plain.kind, plain.direction, plain.output, masked=True, zeros=zeros)


def _output_shape(layer, sequences, form: Form) -> tuple | list[tuple]:
    """The output's shape; with ``return_state``, a list: the output's, then each state's."""
    inner = layer.forward_layer if form.bidirectional else layer
    units = inner.units * (2 if form.direction == "BidirectionalConcat" else 1)
    steps = sequences.shape[1]
    shape = (None, steps, units) if form.output == "Sequence" else (None, units)
    return [shape, *[(None, units)] * len(form.state_names)] if form.states else shape


def _gates(matrix: np.ndarray, kind: str) -> np.ndarray:
    """Keras (in, gates*H) -> ONNX (gates*H, in), gates in ONNX order."""
    if kind == "LSTM":
        blocks = np.split(matrix, 4, axis=-1)
        matrix = np.concatenate([blocks[i] for i in _LSTM_TO_ONNX], axis=-1)
    return matrix.T


def _direction_weights(layer) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    kind, cell = type(layer).__name__, layer.cell
    w = _gates(cell.kernel.numpy(), kind)
    r = _gates(cell.recurrent_kernel.numpy(), kind)
    if not cell.use_bias:
        return w, r, None
    bias = cell.bias.numpy()
    if kind == "GRU":  # reset_after: (input bias, recurrent bias), each (z, r, h)
        return w, r, np.concatenate([bias[0], bias[1]])
    bias = _gates(bias[None, :], kind)[:, 0]
    return w, r, np.concatenate([bias, np.zeros_like(bias)])


def weights(layer) -> dict[str, np.ndarray | None]:
    """ONNX W (D, G*H, in), R (D, G*H, H) and B (D, 2*G*H) or None, for either direction."""
    if isinstance(layer, keras.layers.Bidirectional):
        parts = [_direction_weights(layer.forward_layer), _direction_weights(layer.backward_layer)]
    else:
        parts = [_direction_weights(layer)]
    stacked = {}
    for key, arrays in zip("WRB", zip(*parts, strict=True), strict=True):
        stacked[key] = None if arrays[0] is None else np.stack(arrays).astype(np.float32)
    return stacked


def _activation(layer) -> str:
    inner = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) else layer
    return _name(inner.cell.activation).capitalize()


@register
class RecurrentHandler:
    CLASSES = (*_RECURRENT, keras.layers.Bidirectional)

    @staticmethod
    def check(layer) -> None:
        form_of(layer)  # raises, naming the layer, for a form it cannot hold

    @staticmethod
    def trace(layer, sequences, initial_state=None, mask=None, training=False, **kwargs):
        """While tf2onnx traces (see own_layers): the placeholder's inputs and output shape."""
        states = [] if initial_state is None else list(tf.nest.flatten(initial_state))
        if states and isinstance(layer, keras.layers.Bidirectional):
            raise _refuse(layer, "a Bidirectional is called with an initial_state")
        mask = tf.nest.flatten(mask)[0] if mask is not None else None
        if states and mask is not None:
            raise _refuse(layer, "it is called with an initial_state and a mask")
        form = form_of(layer, bool(states), mask is not None)
        shape = _output_shape(layer, sequences, form)
        masks = [] if mask is None else [tf.cast(mask, tf.bool)]
        return [sequences, *states, *masks], shape, {"initial": bool(states), "masked": bool(masks)}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        """The placeholder ``node`` becomes a call of ``layer``'s function (in place)."""
        form = form_of(layer, info.get("initial", False), info.get("masked", False))
        arrays = weights(layer)
        inputs = [node.input[0]]
        for key in "WRB":
            array = arrays[key]
            name = f"{info['weights']}.{key}"
            inputs.append("" if array is None else onnx_edit.initializer(proto.graph, name, array))
        onnx_edit.become(node, form.op_type, DOMAIN, [*inputs, *node.input[1:]])
        node.attribute.append(helper.make_attribute("hidden_size", arrays["R"].shape[-1]))
        if form.kind == "SimpleRNN":
            count = 1 if form.masked else form.num_directions  # masked: one op per direction
            activations = [_activation(layer)] * count
            node.attribute.append(helper.make_attribute("activations", activations))
        return recurrent_form.function(form, onnx_edit.opset(proto))
