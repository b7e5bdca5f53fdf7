"""sink_transposes: a region of the graph that runs in Keras' channels-last layout between
layout Transposes is rewritten to run channels-first, and its Transposes disappear.

Pattern: a *region* of values, each ``transpose(base, p)`` of a base value, entered only
through ``Transpose(p)`` nodes and left only through Transposes that undo ``p`` or through a
Reduce (keepdims=0) whose remaining axes keep their order. Every op inside is one of:

- unary element-wise ops (activations, Erf of an exact GELU);
- Mul/Add/Sub/Div/PRelu whose operands are region values or constants (PReLU's alpha,
  LayerScale's gamma, a Dense's bias), the residual Add of two region values included;
- ReduceMean/ReduceMax with keepdims=1 (a squeeze-and-excitation mean);
- Split and Concat along one axis, which becomes the base's (CSPNet's halves of the
  channels: ``x.chunk(2, dim=1)``);
- ``LayerNormalization`` over the last axis with constant scale and bias, when that axis is
  the base's axis 1 (Keras' LayerNormalization on channels);
- ``MatMul`` by a constant 2-D kernel on rank 3 or 4 data, same condition (a Dense on the
  channels of an image: ConvNeXt's pointwise convs).

tf2onnx leaves such regions around ops it does not own (stage 1's PRelu) and wherever Keras
works on the channel axis (ConvNeXt: LayerNorm and Dense between its depthwise convs, and the
residual stream itself).

Output form: the region's ops run on the base values (NCHW), so the region's Transposes go:

- each constant is broadcast to the full rank and transposed back: ``transpose(c[None..], q)``;
- a Reduce reduces over ``p``'s image of its axes;
- a LayerNormalization or MatMul on the channels keeps computing on them, between a local
  ``Transpose(p)`` and ``Transpose(q)``: the passes that follow make it channels-first
  (``channel_layer_norm``: ``KerasChannelLayerNorm``; ``pointwise_conv``: a 1x1 ``Conv``).

A region that reaches a graph output in the channels-last layout (PReLU as the model's last
layer) gives it a ``Transpose(p)``, which ``nchw_output`` then removes, declaring the output
channels-first. Left alone: a region that reaches anything else (a graph output in another
layout, a non-constant operand from outside, an op not listed); its Transposes stay, and
passes.json lists each with a reason.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from pipeline.names import unique_name
from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import add_initializer, const, perm
from pipeline.passes.regions import (
    AXIS_OPS,
    BINARY,
    ON_CHANNELS,
    REDUCE,
    Abort,
    Region,
    reduce_axes,
)


class SinkTransposes(GraphPass):
    NAME = "sink_transposes"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        modified, tried = False, set()
        for start in list(model.graph):
            if start.op_type != "Transpose" or start.graph is None or start in tried:
                continue
            region = Region(perm(start))
            try:
                region.grow(start)
            except Abort:
                tried.update(region.entries)
                continue
            self._rewrite(model.graph, region)
            modified = True
        return modified

    def _rewrite(self, graph: ir.Graph, region: Region) -> None:
        p = region.p
        q = tuple(p.index(axis) for axis in range(len(p)))
        base = {entry.outputs[0]: entry.inputs[0] for entry in region.entries}
        for node in [*region.nodes, *region.ends, *region.exits]:
            for index, value in enumerate(node.inputs):
                if value in base:
                    node.replace_input_with(index, base[value])
        for value in region.values:
            if value not in base and value.shape is not None:
                value.shape = ir.Shape([value.shape[axis] for axis in q])
        for value in region.outputs:  # first: a sandwich or an exit may read an output value
            self._output_channels_last(graph, value, p)
        for node in list(region.nodes):
            if node.op_type in ON_CHANNELS:
                self._sandwich(graph, node, p, q)
            elif node.op_type in REDUCE:
                self._set_axes(graph, node, p)
            elif node.op_type in BINARY:
                self._move_constants(graph, node, q)
            elif node.op_type in AXIS_OPS:
                axis = node.attributes.get_int("axis", 0) % len(p)
                node.attributes["axis"] = ir.AttrInt64("axis", p[axis])
        for node in region.ends:
            self._set_axes(graph, node, p)
        for node in region.exits:
            source, out = node.inputs[0], node.outputs[0]
            keep_name = out.is_graph_output() and not source.is_graph_input()
            keep_name = keep_name and not source.is_graph_output()
            out.replace_all_uses_with(source, replace_graph_outputs=True)
            graph.remove(node, safe=True)
            if keep_name:  # the model's output keeps its name (the reference is keyed by it)
                source.name = out.name
        for entry in region.entries:
            if not entry.outputs[0].uses():
                graph.remove(entry, safe=True)

    @staticmethod
    def _output_channels_last(graph: ir.Graph, value: ir.Value, p: tuple[int, ...]) -> None:
        """The graph output ``value`` (now channels-first) is the model's channels-last output
        again through ``Transpose(p)``, under its name (the second nchw_output removes it)."""
        name, producer = value.name, value.producer()
        node = ir.node("Transpose", [value], {"perm": list(p)}, name=f"{producer.name}_output")
        node.doc_string = producer.doc_string
        graph.insert_after(producer, node)
        out = node.outputs[0]
        out.type = value.type
        if value.shape is not None:
            out.shape = ir.Shape([value.shape[axis] for axis in p])
        index = list(graph.outputs).index(value)
        taken = {v.name for n in graph for v in n.outputs} | set(graph.initializers)
        value.name = unique_name(f"{name}_channels_first", taken)
        graph.outputs[index] = out
        out.name = name

    @staticmethod
    def _moved(graph: ir.Graph, name: str, value: ir.Value, q: tuple[int, ...]) -> ir.Value:
        array = const(value)
        full = array.reshape((1,) * (len(q) - array.ndim) + array.shape)
        return add_initializer(graph, f"{name}_nchw", np.transpose(full, q), like=value)

    def _move_constants(self, graph: ir.Graph, node: ir.Node, q: tuple[int, ...]) -> None:
        for index, value in enumerate(node.inputs):
            array = const(value)
            if array is not None and array.size > 1:
                node.replace_input_with(index, self._moved(graph, node.name, value, q))

    @staticmethod
    def _sandwich(graph: ir.Graph, node: ir.Node, p: tuple[int, ...], q: tuple[int, ...]) -> None:
        """``node`` (now fed channels-first data) computes channels-last between
        ``Transpose(p)`` and ``Transpose(q)``, as before the region's rewrite."""
        data, out, doc = node.inputs[0], node.outputs[0], node.doc_string
        to_last = ir.node("Transpose", [data], {"perm": list(p)}, name=f"{node.name}_in")
        to_first = ir.node("Transpose", [None], {"perm": list(q)}, name=f"{node.name}_out")
        to_last.doc_string = to_first.doc_string = doc
        graph.insert_before(node, to_last)
        graph.insert_after(node, to_first)
        if data.shape is not None:
            to_last.outputs[0].shape = ir.Shape([data.shape[axis] for axis in p])
        to_last.outputs[0].type = data.type
        node.replace_input_with(0, to_last.outputs[0])
        out.replace_all_uses_with(to_first.outputs[0])
        to_first.replace_input_with(0, out)
        to_first.outputs[0].shape, to_first.outputs[0].type = out.shape, out.type
        if out.shape is not None:
            out.shape = ir.Shape([out.shape[axis] for axis in p])

    @staticmethod
    def _set_axes(graph: ir.Graph, node: ir.Node, p: tuple[int, ...]) -> None:
        """A Reduce's axes, from the region's layout to the base's."""
        axes = sorted(p[a % len(p)] for a in reduce_axes(node))
        if len(node.inputs) > 1 and node.inputs[1] is not None:
            value = add_initializer(graph, f"{node.name}_axes", np.array(axes, np.int64))
            node.replace_input_with(1, value)
        else:
            node.attributes["axes"] = ir.AttrInt64s("axes", axes)
