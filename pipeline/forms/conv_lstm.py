"""The ONNX form of Keras ``ConvLSTM1D``/``ConvLSTM2D`` on channels-first sequences, shared
by stage 1 (writes it) and stage 3 (reads it as ``model.py``'s ``KerasConvLSTM2d``). ONNX has
no convolutional LSTM and tf2onnx leaves Keras' loop as a ``Loop`` over a ``while`` body, so
stage 1 writes one call of a model-local function (domain ``keras2torch``)::

    KerasConvLSTM(X[N,T,C,*S], W[4F,C,*k], R[4F,F,*k], B[4F]) -> Y[N,F,*S']  (the last h)
    KerasConvLSTMSequences(...)                                -> Y[N,T,F,*S'] (every h)
        attributes: strides, pads, dilations (ints) of the input convolution

Body: the input convolution of every step at once (``Conv`` over ``[N*T, C, *S]``), then a
``Scan`` over time from zero states, its step Keras' ``ConvLSTMCell.call``::

    z = Z[:, t] + Conv(h, R, auto_pad=SAME_UPPER)      # TensorFlow's "same", stride 1
    i, f, g, o = Split(z, 4, axis=1)                   # Keras' gate order
    c = Sigmoid(f) * c + Sigmoid(i) * Tanh(g);  h = Sigmoid(o) * Tanh(c)

The gates stack along the output channels in Keras' order (its kernel's last axis), so W, R
and B are Keras' kernel, recurrent kernel and bias with the axes moved, no gate re-ordered.
The function is rank-generic: ``ConvLSTM1D`` and ``ConvLSTM2D`` (and 3D) share it.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pipeline.forms.function import attribute_ref, int_constant, make

LAST = "KerasConvLSTM"
SEQUENCES = "KerasConvLSTMSequences"
OP_TYPES = (LAST, SEQUENCES)
PARAM_ROLES = {
    op: (None, "input_conv.weight", "recurrent_conv.weight", "input_conv.bias") for op in OP_TYPES
}
_INTS = onnx.AttributeProto.INTS
_END = np.iinfo(np.int64).max


def _step(opset: int) -> onnx.GraphProto:
    """The Scan body: states (h, c, R), scan input z_t -> (h, c, R), scan output h."""
    nodes = [
        helper.make_node("Conv", ["h_in", "r_in"], ["recurrent"], auto_pad="SAME_UPPER"),
        helper.make_node("Add", ["z_t", "recurrent"], ["z"]),
        helper.make_node("Split", ["z"], ["zi", "zf", "zg", "zo"], axis=1),
        helper.make_node("Sigmoid", ["zi"], ["i"]),
        helper.make_node("Sigmoid", ["zf"], ["f"]),
        helper.make_node("Tanh", ["zg"], ["g"]),
        helper.make_node("Sigmoid", ["zo"], ["o"]),
        helper.make_node("Mul", ["f", "c_in"], ["kept"]),
        helper.make_node("Mul", ["i", "g"], ["added"]),
        helper.make_node("Add", ["kept", "added"], ["c_out"]),
        helper.make_node("Tanh", ["c_out"], ["c_tanh"]),
        helper.make_node("Mul", ["o", "c_tanh"], ["h_out"]),
        helper.make_node("Identity", ["r_in"], ["r_out"]),
        helper.make_node("Identity", ["h_out"], ["h_step"]),
    ]

    def tensor(name: str):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, None)

    inputs = [tensor(n) for n in ("h_in", "c_in", "r_in", "z_t")]
    outputs = [tensor(n) for n in ("h_out", "c_out", "r_out", "h_step")]
    return helper.make_graph(nodes, "conv_lstm_step", inputs, outputs)


def _conv() -> onnx.NodeProto:
    conv = helper.make_node("Conv", ["flat", "W", "B"], ["z_flat"])
    conv.attribute.extend(attribute_ref(name, _INTS) for name in ("strides", "pads", "dilations"))
    return conv


def function(op_type: str, opset: int) -> onnx.FunctionProto:
    zero = numpy_helper.from_array(np.zeros(1, np.float32), "zero")
    nodes = [
        int_constant("at0", [0]),
        int_constant("at1", [1]),
        int_constant("at2", [2]),
        int_constant("end", [_END]),
        int_constant("minus1", [-1]),
        int_constant("four", [4]),
        helper.make_node("Shape", ["X"], ["x_shape"]),
        helper.make_node("Slice", ["x_shape", "at0", "at2"], ["batch_time"]),
        helper.make_node("Slice", ["x_shape", "at0", "at1"], ["batch"]),
        helper.make_node("Slice", ["x_shape", "at2", "end"], ["frame_shape"]),
        helper.make_node("Concat", ["minus1", "frame_shape"], ["flat_shape"], axis=0),
        helper.make_node("Reshape", ["X", "flat_shape"], ["flat"]),
        _conv(),
        helper.make_node("Shape", ["z_flat"], ["z_shape"]),
        helper.make_node("Slice", ["z_shape", "at1", "end"], ["z_frame"]),
        helper.make_node("Concat", ["batch_time", "z_frame"], ["z_seq_shape"], axis=0),
        helper.make_node("Reshape", ["z_flat", "z_seq_shape"], ["Z"]),
        helper.make_node("Slice", ["z_shape", "at1", "at2"], ["gates"]),
        helper.make_node("Div", ["gates", "four"], ["filters"]),
        helper.make_node("Slice", ["z_shape", "at2", "end"], ["spatial"]),
        helper.make_node("Concat", ["batch", "filters", "spatial"], ["state_shape"], axis=0),
        helper.make_node("ConstantOfShape", ["state_shape"], ["h0"], value=zero),
        helper.make_node("Identity", ["h0"], ["c0"]),
        helper.make_node(
            "Scan",
            ["h0", "c0", "R", "Z"],
            ["h_last", "c_last", "r_last", "h_all"],
            num_scan_inputs=1,
            scan_input_axes=[1],
            scan_output_axes=[1],
            body=_step(opset),
        ),
        helper.make_node("Identity", ["h_all" if op_type == SEQUENCES else "h_last"], ["Y"]),
    ]
    return make(op_type, ["X", "W", "R", "B"], nodes, opset, ["strides", "pads", "dilations"])
