"""The graph edits passes make again and again, written once: read a constant, a Transpose's
perm, the other operand of a binary op, the bias Add after an op; add an initializer under
a free name; put new nodes in place of old ones, a new value in place of an old one."""

from __future__ import annotations

import keyword
import re

import numpy as np
import onnx_ir as ir

from pipeline.forms import DOMAIN, VERSION
from pipeline.names import unique_name


def const(value: ir.Value | None) -> np.ndarray | None:
    """The array of an initializer (or Constant-lifted) value, else None."""
    if value is None or value.const_value is None:
        return None
    return value.const_value.numpy()


def perm(node: ir.Node | None) -> tuple[int, ...] | None:
    """A Transpose's permutation; None for anything else."""
    if node is None or node.op_type != "Transpose":
        return None
    return tuple(node.attributes.get_ints("perm", ()))


def other_operand(node: ir.Node, value: ir.Value) -> ir.Value:
    """The input of a binary ``node`` that is not ``value``."""
    return node.inputs[1] if node.inputs[0] is value else node.inputs[0]


def only_consumer(value: ir.Value) -> ir.Node | None:
    consumers = value.consumers()
    if len(consumers) == 1 and not value.is_graph_output():
        return consumers[0]
    return None


def static_dims(value: ir.Value) -> tuple[int | None, ...] | None:
    """The value's shape with unknown or symbolic dims as None; None if the rank is unknown."""
    if value.shape is None:
        return None
    return tuple(d if isinstance(d, int) else None for d in value.shape)


def bias_add(value: ir.Value, size: int, spatial: int = 0) -> tuple[ir.Node, np.ndarray] | None:
    """(the Add, its bias as [size]) when ``value``'s only consumer adds a constant with one
    entry per channel: shape [..., size] (``spatial=0``, channels last) or [..., size, 1, ...]
    with ``spatial`` trailing 1s (channels first); else None."""
    add = only_consumer(value)
    if add is None or add.op_type != "Add":
        return None
    bias = const(other_operand(add, value))
    if bias is None or bias.size != size:
        return None
    if size == 1:
        return add, bias.reshape(1)
    if bias.ndim <= spatial:
        return None
    return (add, bias.reshape(size)) if bias.shape[bias.ndim - 1 - spatial] == size else None


_UNSAFE = re.compile(r"[^0-9A-Za-z_]")


def identifier(name: str) -> str:
    """A Python identifier (and so a torch module name) made from ``name``."""
    safe = _UNSAFE.sub("_", name).strip("_") or "node"
    if safe[0].isdigit():
        safe = f"n_{safe}"
    if keyword.iskeyword(safe):
        safe += "_"
    return safe


def add_initializer(
    graph: ir.Graph, name: str, array: np.ndarray, like: ir.Value | None = None
) -> ir.Value:
    """Register a new initializer under a name not used yet in ``graph`` (carrying over the
    doc_string of the initializer it is made from, ``like``: whether it is a Keras weight)."""
    unique = unique_name(name, set(graph.initializers) | {v.name for n in graph for v in n.outputs})
    doc = like.const_value.doc_string if like is not None and like.const_value is not None else None
    tensor = ir.tensor(np.ascontiguousarray(array), name=unique, doc_string=doc)
    value = ir.Value(name=unique, const_value=tensor)
    value.shape = ir.Shape(array.shape)
    value.type = ir.TensorType(value.const_value.dtype)
    graph.register_initializer(value)
    return value


def take_over(old: ir.Value, new: ir.Value) -> None:
    """``new`` replaces ``old`` everywhere, graph outputs included, with its name, shape and
    type (the model's interface and the reference are keyed by the name)."""
    new.shape, new.type = old.shape, old.type
    old.replace_all_uses_with(new, replace_graph_outputs=True)
    new.name = old.name


def replace_nodes(
    graph: ir.Graph,
    nodes: list[ir.Node],
    op_type: str,
    inputs: list[ir.Value],
    attributes: dict,
    domain: str = "",
) -> ir.Node:
    """Put one new ``op_type`` node in place of ``nodes`` (a chain; the first gives the name
    and provenance, the last's output is taken over)."""
    first, last = nodes[0], nodes[-1]
    new = ir.node(
        op_type, inputs, attributes, domain=domain, name=first.name, doc_string=first.doc_string
    )
    graph.insert_before(first, new)
    take_over(last.outputs[0], new.outputs[0])
    graph.remove(list(reversed(nodes)), safe=True)
    return new


def use_function(model: ir.Model, op_type: str, function) -> None:
    """Make our domain's function ``op_type`` part of ``model`` (``function(opset)``: its
    FunctionProto, made once per model) for a node of it that a pass just wrote."""
    key = (DOMAIN, op_type, "")
    if key not in model.functions:
        proto = function(model.opset_imports.get("", 17))
        model.functions[key] = ir.serde.deserialize_function(proto)
    model.opset_imports.setdefault(DOMAIN, VERSION)
