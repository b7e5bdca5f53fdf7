"""What every pass shares: the base class, the result with its skip reasons, small helpers."""

from __future__ import annotations

import dataclasses
import keyword
import logging
import re
from collections import Counter

import numpy as np
import onnx_ir as ir
from onnx_ir.passes import common

from pipeline import metadata

log = logging.getLogger("pipeline.passes")


@dataclasses.dataclass
class PassOutcome(ir.passes.PassResult):
    """onnx-ir's result plus why candidates were left alone (one line each)."""

    skipped: tuple[str, ...] = ()


class GraphPass(ir.passes.InPlacePass):
    """A pass over the main graph: subclasses implement ``rewrite(model) -> bool``.

    A candidate the pass must leave alone is recorded with ``skip(node, reason)``: the model
    stays valid and correct, the reason reaches the report and the log.
    """

    def __init__(self) -> None:
        self._skipped: list[str] = []

    @property
    def name(self) -> str:
        return getattr(self, "NAME", type(self).__name__)

    def call(self, model: ir.Model) -> PassOutcome:
        self._skipped = []
        modified = self.rewrite(model)
        return PassOutcome(model, modified, tuple(self._skipped))

    def rewrite(self, model: ir.Model) -> bool:
        raise NotImplementedError

    def skip(self, node: ir.Node, reason: str) -> None:
        message = f"{where(node)}: {reason}"
        log.info("%s: left alone: %s", self.name, message)
        self._skipped.append(message)


def where(node: ir.Node) -> str:
    return metadata.describe_node(node.name or "", node.op_type, node.doc_string or "")


def const(value: ir.Value | None) -> np.ndarray | None:
    """The array of an initializer (or Constant-lifted) value, else None."""
    if value is None or value.const_value is None:
        return None
    return value.const_value.numpy()


def add_initializer(
    graph: ir.Graph, name: str, array: np.ndarray, like: ir.Value | None = None
) -> ir.Value:
    """Register a new initializer under a name not used yet in ``graph`` (carrying over the
    doc_string of the initializer it is made from, ``like``: whether it is a Keras weight)."""
    taken = set(graph.initializers) | {v.name for n in graph for v in n.outputs}
    unique, k = name, 1
    while unique in taken:
        k += 1
        unique = f"{name}_{k}"
    doc = like.const_value.doc_string if like is not None and like.const_value is not None else None
    tensor = ir.tensor(np.ascontiguousarray(array), name=unique, doc_string=doc)
    value = ir.Value(name=unique, const_value=tensor)
    value.shape = ir.Shape(array.shape)
    value.type = ir.TensorType(value.const_value.dtype)
    graph.register_initializer(value)
    return value


def replace_nodes(
    graph: ir.Graph,
    nodes: list[ir.Node],
    op_type: str,
    inputs: list[ir.Value],
    attributes: dict,
    domain: str = "",
) -> ir.Node:
    """Put one new ``op_type`` node in place of ``nodes`` (a chain; the first gives the name
    and provenance, the last's output is taken over, with its name, shape and type)."""
    first, last = nodes[0], nodes[-1]
    new = ir.node(
        op_type, inputs, attributes, domain=domain, name=first.name, doc_string=first.doc_string
    )
    graph.insert_before(first, new)
    old = last.outputs[0]
    new.outputs[0].shape, new.outputs[0].type = old.shape, old.type
    old.replace_all_uses_with(new.outputs[0], replace_graph_outputs=True)
    new.outputs[0].name = old.name
    graph.remove(list(reversed(nodes)), safe=True)
    return new


def static_dims(value: ir.Value) -> tuple[int | None, ...] | None:
    """The value's shape with unknown or symbolic dims as None; None if the rank is unknown."""
    if value.shape is None:
        return None
    return tuple(d if isinstance(d, int) else None for d in value.shape)


def only_consumer(value: ir.Value) -> ir.Node | None:
    consumers = value.consumers()
    if len(consumers) == 1 and not value.is_graph_output():
        return consumers[0]
    return None


def op_histogram(graph: ir.Graph) -> Counter:
    return Counter(node.op_type for node in graph)


def histogram_diff(before: Counter, after: Counter) -> str:
    """tf2onnx's style: 'Transpose -1 (2->1), Gemm +2 (0->2)'."""
    parts = []
    for op in sorted(set(before) | set(after)):
        b, a = before.get(op, 0), after.get(op, 0)
        if a != b:
            parts.append(f"{op} {a - b:+d} ({b}->{a})")
    return ", ".join(parts) or "no change"


_UNSAFE = re.compile(r"[^0-9A-Za-z_]")


def identifier(name: str) -> str:
    """A Python identifier (and so a torch module name) made from ``name``."""
    safe = _UNSAFE.sub("_", name).strip("_") or "node"
    if safe[0].isdigit():
        safe = f"n_{safe}"
    if keyword.iskeyword(safe):
        safe += "_"
    return safe


class RemoveUnusedNodes(common.RemoveUnusedNodesPass):
    """onnx-ir's dead-code removal on the main graph only: the bodies of stage 1's recurrent
    functions stay as written (it would unname a body's unused ``Y`` output)."""

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        functions = dict(model.functions)
        model.functions.clear()
        try:
            return super().call(model)
        finally:
            model.functions.update(functions)
