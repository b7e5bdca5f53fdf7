"""ConvLSTM1D and ConvLSTM2D: one call of their ONNX function (the form:
``pipeline.forms.conv_lstm``), channels-first between two Transposes (as tf2onnx writes
every conv; stage 2 cancels them against the layers around it). Keras' kernels
``(*k, in, 4F)`` become ``(4F, in, *k)``, its gates staying in Keras' order (i, f, c, o).

What the form (and ``model.py``'s ``KerasConvLSTM2d``) cannot compute exactly is refused
before tf2onnx runs, naming the layer."""

from __future__ import annotations

import keras
import numpy as np
import onnx
from keras.src import backend
from onnx import helper

from pipeline.errors import UnsupportedError
from pipeline.export.layers import onnx_edit
from pipeline.export.layers.registry import register
from pipeline.forms import DOMAIN
from pipeline.forms import conv_lstm as form


def _refuse(layer, why: str) -> UnsupportedError:
    return UnsupportedError(
        f"Keras layer '{layer.name}' ({type(layer).__name__}): {why}; the converted "
        "KerasConvLSTM2d computes sigmoid/tanh gates over channels_last sequences from zero "
        "states. Change the layer's configuration (docs/layers.md, ConvLSTM) and convert again."
    )


def _name(fn) -> str:
    return getattr(fn, "__name__", str(fn))


def check_conv_lstm(layer) -> None:
    cell = layer.cell
    refusals = [
        (layer.return_state, "return_state=True"),
        (layer.go_backwards, "go_backwards=True"),
        (layer.stateful, "stateful=True keeps state between calls"),
        (cell.data_format != "channels_last", f"data_format={cell.data_format!r}"),
        (not cell.use_bias, "use_bias=False"),
        (_name(cell.activation) != "tanh", f"activation '{_name(cell.activation)}'"),
        (
            _name(cell.recurrent_activation) != "sigmoid",
            f"recurrent_activation '{_name(cell.recurrent_activation)}'",
        ),
        (
            cell.padding == "same" and max(cell.strides) > 1,
            f"padding='same' with strides={cell.strides} (same with stride 1, or valid)",
        ),
    ]
    for refused, why in refusals:
        if refused:
            raise _refuse(layer, why)


def _pads(cell) -> list[int]:
    """ONNX pads (begins, then ends): TensorFlow's "same" at stride 1, the smaller half first."""
    if cell.padding != "same":
        return [0] * (2 * cell.rank)
    totals = [(k - 1) * d for k, d in zip(cell.kernel_size, cell.dilation_rate, strict=True)]
    return [t // 2 for t in totals] + [t - t // 2 for t in totals]


@register
class ConvLSTMHandler:
    CLASSES = (keras.layers.ConvLSTM1D, keras.layers.ConvLSTM2D)

    check = staticmethod(check_conv_lstm)

    @staticmethod
    def trace(layer, sequences, initial_state=None, mask=None, training=False, **kwargs):
        if initial_state is not None:
            raise _refuse(layer, "it is called with an initial_state")
        if mask is not None or backend.get_keras_mask(sequences) is not None:
            raise _refuse(layer, "it receives a mask")
        shape = layer.compute_output_shape(tuple(sequences.shape))
        shape = shape[0] if isinstance(shape, list) else shape
        return [sequences], tuple(shape), {"sequences": layer.return_sequences}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        cell = layer.cell
        rank = cell.rank
        to_gates_first = (rank + 1, rank, *range(rank))  # (*k, in, 4F) -> (4F, in, *k)
        arrays = {
            "W": np.transpose(cell.kernel.numpy(), to_gates_first),
            "R": np.transpose(cell.recurrent_kernel.numpy(), to_gates_first),
            "B": cell.bias.numpy(),
        }
        weights = [
            onnx_edit.initializer(proto.graph, f"{info['weights']}.{key}", array)
            for key, array in arrays.items()
        ]
        # (N, T, *S, C) -> (N, T, C, *S), the call, then back to channels last
        first = onnx_edit.precede(
            proto.graph, node, [("Transpose", [], {"perm": [0, 1, rank + 2, *range(2, rank + 2)]})]
        )
        op_type = form.SEQUENCES if info["sequences"] else form.LAST
        called = f"{node.name}_{op_type.lower()}"
        call = helper.make_node(op_type, [first, *weights], [called], name=called, domain=DOMAIN)
        conv = {"strides": cell.strides, "pads": _pads(cell), "dilations": cell.dilation_rate}
        call.attribute.extend(helper.make_attribute(k, list(v)) for k, v in conv.items())
        proto.graph.node.insert(list(proto.graph.node).index(node), call)
        onnx_edit.become(node, "Transpose", "", [called])
        if info["sequences"]:
            back = [0, 1, *range(3, rank + 3), 2]
        else:
            back = [0, *range(2, rank + 2), 1]
        node.attribute.append(helper.make_attribute("perm", back))
        return form.function(op_type, onnx_edit.opset(proto))
