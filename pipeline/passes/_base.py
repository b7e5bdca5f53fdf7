"""The pass framework: the base class, the result with its skip reasons, op-count diffs.
The graph edits passes share are in ``_ir``."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterator

import onnx_ir as ir
from onnx_ir.passes import common

from pipeline import metadata

log = logging.getLogger("pipeline.passes")


@dataclasses.dataclass
class PassOutcome(ir.passes.PassResult):
    """onnx-ir's result plus why candidates were left alone (one line each)."""

    skipped: tuple[str, ...] = ()


class Skips:
    """Why one run of a pass left candidates alone, one line each (to the report and the log)."""

    def __init__(self, pass_name: str) -> None:
        self.pass_name = pass_name
        self.reasons: list[str] = []

    def add(self, node: ir.Node, reason: str) -> None:
        message = f"{where(node)}: {reason}"
        log.info("%s: left alone: %s", self.pass_name, message)
        self.reasons.append(message)


class GraphPass(ir.passes.InPlacePass):
    """A pass over the main graph: subclasses implement ``rewrite(model, skips) -> bool``
    (modified or not) and keep no state between runs, so one instance serves every model.

    A candidate the pass must leave alone is recorded with ``skips.add(node, reason)``: the
    model stays valid and correct, the reason reaches the report and the log.
    """

    @property
    def name(self) -> str:
        return getattr(self, "NAME", type(self).__name__)

    def call(self, model: ir.Model) -> PassOutcome:
        skips = Skips(self.name)
        modified = self.rewrite(model, skips)
        return PassOutcome(model, modified, tuple(skips.reasons))

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        raise NotImplementedError


def nodes_of(graph: ir.Graph, op_type: str) -> Iterator[ir.Node]:
    """The ``op_type`` nodes of ``graph``, each while it is still in the graph (a rewrite of
    an earlier one may have removed it)."""
    return (node for node in list(graph) if node.op_type == op_type and node.graph is not None)


def where(node: ir.Node) -> str:
    return metadata.describe_node(node.name or "", node.op_type, node.doc_string or "")


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
