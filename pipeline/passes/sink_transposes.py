"""sink_transposes: a region of the graph that runs in Keras' channels-last layout between
layout Transposes is rewritten to run channels-first, and its Transposes disappear.

Pattern: a *region* of values, each ``transpose(base, p)`` of a base value, entered only
through ``Transpose(p)`` nodes and left only through Transposes that undo ``p`` or through a
Reduce (keepdims=0) whose remaining axes keep their order. Every op inside is one of:

- unary element-wise ops (activations, Erf of an exact GELU);
- Mul/Add/Sub/Div/PRelu whose operands are region values or constants (PReLU's alpha,
  LayerScale's gamma, a Dense's bias), the residual Add of two region values included;
- ReduceMean/ReduceMax with keepdims=1 (a squeeze-and-excitation mean);
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
- LayerNormalization becomes ``keras2torch.KerasChannelLayerNorm`` (``channel_norm_form``);
- MatMul by W[Cin, Cout] becomes a 1x1 ``Conv`` with weight ``W.T[:, :, None, None]``, taking
  a following Add of a [Cout] constant as its bias.

Left alone: a region that reaches anything else (a graph output, a non-constant operand from
outside, an op not listed); its Transposes stay, and passes.json lists each with a reason.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from pipeline.forms import DOMAIN, VERSION
from pipeline.forms import channel_norm as channel_norm_form
from pipeline.passes._base import GraphPass, add_initializer, const, replace_nodes
from pipeline.passes.layout_math import compose, is_identity

_UNARY = ("Relu", "Sigmoid", "Tanh", "Neg", "Abs", "Exp", "Elu", "Selu", "LeakyRelu", "Erf")
_BINARY = ("Mul", "Add", "Sub", "Div", "PRelu")
_REDUCE = ("ReduceMean", "ReduceMax")


class _Abort(Exception):
    """The region reaches something it cannot be rewritten with."""


def _perm(node: ir.Node) -> tuple[int, ...]:
    return tuple(node.attributes.get_ints("perm", ()))


def _reduce_axes(node: ir.Node) -> list[int] | None:
    if len(node.inputs) > 1 and node.inputs[1] is not None:
        array = const(node.inputs[1])
        return None if array is None else [int(a) for a in array.reshape(-1)]
    return list(node.attributes.get_ints("axes", ())) or None


class _Region:
    """The values in layout ``p`` reachable from one entry Transpose, and their nodes."""

    def __init__(self, p: tuple[int, ...]) -> None:
        self.p = p
        self.values: set[ir.Value] = set()
        self.entries: list[ir.Node] = []
        self.exits: list[ir.Node] = []
        self.ends: list[ir.Node] = []  # Reduce(keepdims=0) nodes the region leaves through
        self.nodes: list[ir.Node] = []
        self._pending: list[ir.Value] = []

    # growth ------------------------------------------------------------------------------
    def grow(self, entry: ir.Node) -> None:
        self._enter(entry)
        while self._pending:
            value = self._pending.pop()
            if value.is_graph_output():
                raise _Abort
            for consumer in value.consumers():
                self._take(consumer)

    def _add_value(self, value: ir.Value) -> None:
        if value.shape is not None and len(value.shape) != len(self.p):
            raise _Abort
        if value not in self.values:
            self.values.add(value)
            self._pending.append(value)

    def _enter(self, entry: ir.Node) -> None:
        if entry not in self.entries:
            self.entries.append(entry)
            self._add_value(entry.outputs[0])

    def _pull(self, value: ir.Value) -> None:
        """A non-constant operand of a region op must be a region value: bring it in."""
        if value in self.values:
            return
        producer = value.producer()
        if producer is None:
            raise _Abort
        if producer.op_type == "Transpose" and _perm(producer) == self.p:
            self._enter(producer)
        else:
            self._take(producer)
        if value not in self.values:  # e.g. a Reduce's keepdims=0 output: not in layout p
            raise _Abort

    def _take(self, node: ir.Node) -> None:
        if node in self.nodes or node in self.exits or node in self.ends:
            return
        rank = len(self.p)
        if node.op_type == "Transpose":
            if not is_identity(compose(self.p, _perm(node))):
                raise _Abort
            self.exits.append(node)
            return
        if node.op_type in _REDUCE and node.attributes.get_int("keepdims", 1) == 0:
            axes = _reduce_axes(node)
            if axes is None:
                raise _Abort
            axes = [a % rank for a in axes]
            kept = [self.p[a] for a in range(rank) if a not in axes]
            if kept != sorted(kept):
                raise _Abort
            self.ends.append(node)
            self._pull(node.inputs[0])
            return
        self._check(node)
        self.nodes.append(node)
        for value in node.inputs:
            if value is not None and const(value) is None:
                self._pull(value)
        for value in node.outputs:
            self._add_value(value)

    def _check(self, node: ir.Node) -> None:
        """Raise unless ``node`` has a channels-first form (given its constants)."""
        rank, op = len(self.p), node.op_type
        channels_last = self.p[rank - 1] == channel_norm_form.AXIS
        if all(value is None or const(value) is not None for value in node.inputs):
            raise _Abort  # nothing of the region flows in: no base layout to speak of
        if op in _UNARY:
            return
        if op in _BINARY and len(node.inputs) == 2:
            if op == "PRelu" and const(node.inputs[0]) is not None:
                raise _Abort
            return
        if op in _REDUCE and _reduce_axes(node) is not None:
            return
        if op == "LayerNormalization" and channels_last and len(node.outputs) == 1:
            axis = node.attributes.get_int("axis", -1) % rank
            constants = [const(v) for v in node.inputs[1:]]
            if axis == rank - 1 and len(constants) == 2 and all(c is not None for c in constants):
                return
        if op == "MatMul" and channels_last and rank in (3, 4):
            kernel = const(node.inputs[1])
            if kernel is not None and kernel.ndim == 2 and const(node.inputs[0]) is None:
                return
        raise _Abort


class SinkTransposes(GraphPass):
    NAME = "sink_transposes"

    def rewrite(self, model: ir.Model) -> bool:
        modified, tried = False, set()
        for start in list(model.graph):
            if start.op_type != "Transpose" or start.graph is None or start in tried:
                continue
            region = _Region(_perm(start))
            try:
                region.grow(start)
            except _Abort:
                tried.update(region.entries)
                continue
            self._rewrite(model, region)
            modified = True
        return modified

    def _rewrite(self, model: ir.Model, region: _Region) -> None:
        graph, p = model.graph, region.p
        q = tuple(p.index(axis) for axis in range(len(p)))
        base = {entry.outputs[0]: entry.inputs[0] for entry in region.entries}
        for node in [*region.nodes, *region.ends, *region.exits]:
            for index, value in enumerate(node.inputs):
                if value in base:
                    node.replace_input_with(index, base[value])
        for value in region.values:
            if value not in base and value.shape is not None:
                value.shape = ir.Shape([value.shape[axis] for axis in q])
        for node in [n for n in region.nodes if n.op_type == "MatMul"]:
            self._to_conv(graph, node, region)  # first: it may take over a bias Add
        for node in list(region.nodes):
            if node.op_type == "LayerNormalization":
                self._to_channel_norm(model, node, q)
            elif node.op_type in _REDUCE:
                self._set_axes(graph, node, p)
            elif node.op_type in _BINARY:
                self._move_constants(graph, node, q)
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
    def _moved(graph: ir.Graph, name: str, value: ir.Value, q: tuple[int, ...]) -> ir.Value:
        array = const(value)
        full = array.reshape((1,) * (len(q) - array.ndim) + array.shape)
        return add_initializer(graph, f"{name}_nchw", np.transpose(full, q), like=value)

    def _move_constants(self, graph: ir.Graph, node: ir.Node, q: tuple[int, ...]) -> None:
        for index, value in enumerate(node.inputs):
            array = const(value)
            if array is not None and array.size > 1:
                node.replace_input_with(index, self._moved(graph, node.name, value, q))

    def _to_channel_norm(self, model: ir.Model, node: ir.Node, q: tuple[int, ...]) -> None:
        graph = model.graph
        inputs = [node.inputs[0]] + [self._moved(graph, node.name, v, q) for v in node.inputs[1:]]
        epsilon = node.attributes.get_float("epsilon", 1e-5)
        op_type, attributes = channel_norm_form.OP_TYPE, {"epsilon": epsilon}
        replace_nodes(graph, [node], op_type, inputs, attributes, domain=DOMAIN)
        key = (DOMAIN, channel_norm_form.OP_TYPE, "")
        if key not in model.functions:
            opset = model.opset_imports.get("", 17)
            proto = channel_norm_form.function(opset)
            model.functions[key] = ir.serde.deserialize_function(proto)
        model.opset_imports.setdefault(DOMAIN, VERSION)

    @staticmethod
    def _to_conv(graph: ir.Graph, node: ir.Node, region: _Region) -> None:
        kernel = const(node.inputs[1])
        rank = len(region.p)
        weight = kernel.T.reshape(kernel.shape[1], kernel.shape[0], *(1,) * (rank - 2))
        weight_value = add_initializer(graph, f"{node.name}_conv", weight, like=node.inputs[1])
        inputs, nodes = [node.inputs[0], weight_value], [node]
        consumers = node.outputs[0].consumers()
        if len(consumers) == 1 and consumers[0].op_type == "Add" and consumers[0] in region.nodes:
            add = consumers[0]
            other = add.inputs[1] if add.inputs[0] is node.outputs[0] else add.inputs[0]
            bias = const(other)
            if bias is not None and bias.size == kernel.shape[1] and bias.shape[-1] == bias.size:
                inputs.append(add_initializer(graph, f"{node.name}_bias", bias.reshape(-1), other))
                nodes.append(add)
                region.nodes.remove(add)
        replace_nodes(graph, nodes, "Conv", inputs, {})

    @staticmethod
    def _set_axes(graph: ir.Graph, node: ir.Node, p: tuple[int, ...]) -> None:
        """A Reduce's axes, from the region's layout to the base's."""
        axes = sorted(p[a % len(p)] for a in _reduce_axes(node))
        if len(node.inputs) > 1 and node.inputs[1] is not None:
            value = add_initializer(graph, f"{node.name}_axes", np.array(axes, np.int64))
            node.replace_input_with(1, value)
        else:
            node.attributes["axes"] = ir.AttrInt64s("axes", axes)
