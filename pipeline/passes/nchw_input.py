"""nchw_input: an NHWC (or NWC) graph input that is only ever transposed to channels-first
becomes NCHW (NCW).

Pattern: graph input ``x`` declared ``NHWC`` by stage 1 (``keras.input_layout.x``), every
consumer of which is a layout change to NCHW: ``Transpose(perm=[0,3,1,2])`` (tf2onnx's
``Reshape`` for it when C == 1 is one since ``reshape_as_transpose``).

Output form: ``x`` has shape [N, C, H, W], the layout nodes are gone, and the interface
change is declared in ``metadata_props`` as ``pipeline.input_perm.x = 0,3,1,2`` so every
check feeds ``np.transpose(keras_input, (0, 3, 1, 2))``.

The layout change may come after a chain of layout-free ops (Keras' Rescaling and
Normalization: Mul/Add/Sub/Div by a scalar or a per-channel constant, unary activations);
the chain then runs on NCHW data, its per-channel constants reshaped from [..., C] to
[C, 1, 1]; a constant ``Pad`` (Conv1D's causal padding) in the chain has its pads permuted.

The same holds for a rank-3 ``NWC`` input (Conv1D models) with ``Transpose(perm=[0,2,1])``
and a rank-5 ``NDHWC`` input (Conv3D models) with ``Transpose(perm=[0,4,1,2,3])``; a rank-5
video input read only as channels-first frames (``TimeDistributed(Conv2D)``: a Reshape of
the frames into the batch, then ``Transpose(perm=[0,3,1,2])``; ``ConvLSTM2D``:
``Transpose(perm=[0,1,4,2,3])``) becomes [N, T, C, H, W]
(``pipeline.input_perm.x = 0,1,4,2,3``), each Reshape taking [-1, C, H, W]; a rank-4 input
read only as a channels-first sequence of signals (``ConvLSTM1D``:
``Transpose(perm=[0,1,3,2])``) becomes [N, T, C, L].

Left alone (reason recorded): an input with a consumer that needs NHWC.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from pipeline import metadata
from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import add_initializer, const, only_consumer, other_operand, perm
from pipeline.passes.layout_math import channels_first
from pipeline.passes.regions import UNARY
from pipeline.passes.sequence_input import frames_to_nchw, signals_to_ncl

_LAYOUTS = {"NHWC": metadata.NHWC_TO_NCHW, "NWC": (0, 2, 1), "NDHWC": (0, 4, 1, 2, 3)}


def _to_nchw_node(node: ir.Node, nhwc: tuple) -> bool:
    """Is ``node`` a pure channels-last -> channels-first layout change of its first input?
    (tf2onnx's Reshape for one on a single channel is a Transpose since reshape_as_transpose.)"""
    return node.op_type == "Transpose" and perm(node) == channels_first(len(nhwc))


_BINARY = ("Mul", "Add", "Sub", "Div")
# element-wise, so free of layout (also the ones sink_transposes moves a Transpose through)
_UNARY = (*UNARY, "Log", "Sqrt", "Clip", "Identity")


def _const_pad(node: ir.Node) -> bool:
    mode = node.attributes.get_string("mode", "constant")
    return mode == "constant" and all(const(v) is not None for v in node.inputs[1:3] if v)


def _channel_const(node: ir.Node, data: ir.Value, channels: int) -> np.ndarray | None | bool:
    """The per-channel constant of a layout-free binary op (None: scalar; False: not one)."""
    array = const(other_operand(node, data))
    if array is None:
        return False
    if array.size == 1:
        return None
    if array.shape[-1] == channels and array.size == channels and array.ndim <= 4:
        return array
    return False


def _chain_to_nchw(value: ir.Value, nhwc: tuple) -> tuple[list[ir.Node], ir.Node] | None:
    """input -> [layout-free ops] -> Transpose(0,3,1,2), each value used once."""
    chain, current = [], value
    while (node := only_consumer(current)) is not None:
        if _to_nchw_node(node, nhwc):
            return chain, node
        if node.op_type in _BINARY:
            if _channel_const(node, current, nhwc[-1]) is False:
                return None
        elif node.op_type == "Pad" and _const_pad(node) and len(node.inputs) < 4:
            pass
        elif node.op_type not in _UNARY or any(const(v) is None for v in node.inputs[1:]):
            return None
        chain.append(node)
        current = node.outputs[0]
    return None


class NchwInput(GraphPass):
    NAME = "nchw_input"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        modified = False
        for value in model.graph.inputs:
            key = metadata.INPUT_LAYOUT_PREFIX + value.name
            declared = model.metadata_props.get(key)
            if declared not in _LAYOUTS or value.shape is None or len(value.shape) != len(declared):
                continue
            if declared == "NDHWC" and frames_to_nchw(model, value):
                modified = True
                continue
            if declared == "NHWC" and signals_to_ncl(model, value):
                modified = True
                continue
            consumers = value.consumers()
            nhwc = tuple(value.shape)
            bad = [n for n in consumers if not _to_nchw_node(n, nhwc)]
            if not consumers or value.is_graph_output():
                continue
            if bad and (found := _chain_to_nchw(value, nhwc)) is not None:
                self._through_chain(model, value, *found)
                modified = True
                continue
            if bad:
                skips.add(
                    bad[0], f"graph input '{value.name}' is used in NHWC here; the input stays NHWC"
                )
                continue
            for node in consumers:
                node.outputs[0].replace_all_uses_with(value, replace_graph_outputs=True)
                model.graph.remove(node, safe=True)
            _declare_nchw(model, value, nhwc)
            modified = True
        return modified

    @staticmethod
    def _through_chain(model: ir.Model, value: ir.Value, chain: list[ir.Node], last: ir.Node):
        graph = model.graph
        nhwc = tuple(value.shape)
        order = channels_first(len(nhwc))
        channels = nhwc[-1]
        for node in chain:
            if node.op_type == "Pad":
                pads = const(node.inputs[1]).reshape(-1)
                rank = len(nhwc)
                permuted = [pads[p] for p in order] + [pads[rank + p] for p in order]
                new = add_initializer(graph, f"{node.name}_nchw", np.array(permuted, np.int64))
                node.replace_input_with(1, new)
                if (shape := node.outputs[0].shape) is not None:
                    node.outputs[0].shape = ir.Shape([shape[p] for p in order])
                continue
            data = (
                node.inputs[0]
                if node.op_type not in _BINARY
                else next(v for v in node.inputs if const(v) is None)
            )
            if (
                node.op_type in _BINARY
                and (array := _channel_const(node, data, channels)) is not None
            ):
                index = 1 if node.inputs[0] is data else 0
                shape = (channels,) + (1,) * (len(nhwc) - 2)
                reshaped = add_initializer(graph, f"{node.name}_nchw", array.reshape(shape))
                node.replace_input_with(index, reshaped)
            node.outputs[0].shape = ir.Shape([nhwc[p] for p in order])
        last.outputs[0].replace_all_uses_with(last.inputs[0], replace_graph_outputs=True)
        graph.remove(last, safe=True)
        _declare_nchw(model, value, nhwc)


def _declare_nchw(model: ir.Model, value: ir.Value, nhwc: tuple) -> None:
    order = channels_first(len(nhwc))
    value.shape = ir.Shape([nhwc[p] for p in order])
    model.metadata_props[metadata.perm_key(value.name)] = metadata.format_perm(order)
