"""canonical_order: the nodes in one order whatever order tf2onnx wrote them in.

tf2onnx's node order varies with ``PYTHONHASHSEED`` where the graph has independent
branches (the two Unsqueezes of a Dot, the heads of a multi-output model), and the emitted
``forward`` follows the node order. Output form: a topological order that follows the Keras
layer order wherever the dependencies allow; between nodes of one layer, the node whose
earliest input comes first (graph inputs in order, then values by their producer's place),
then the op type. Names are not used (the naming pass comes after this one). A graph
already in that order is left alone.
"""

from __future__ import annotations

import heapq
import json
import math

import onnx_ir as ir

from pipeline import metadata
from pipeline.passes._base import GraphPass, Skips


class CanonicalOrder(GraphPass):
    NAME = "canonical_order"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        graph = model.graph
        layers = json.loads(model.metadata_props.get(metadata.LAYERS, "[]"))
        layer_index = {name: index for index, (name, _) in enumerate(layers)}
        nodes = list(graph)
        written = {n: i for i, n in enumerate(nodes)}  # the last tie-break: the order given
        place = {v: i - len(graph.inputs) for i, v in enumerate(graph.inputs)}
        needs = {
            n: {v.producer() for v in n.inputs if v is not None and v.producer()} for n in nodes
        }
        users: dict[ir.Node, list[ir.Node]] = {n: [] for n in nodes}
        for node, producers in needs.items():
            for producer in producers:
                users[producer].append(node)

        def key(node: ir.Node, tie: int) -> tuple:
            layer = metadata.layer_of(node.doc_string or "")
            first = min(
                (place.get(v, math.inf) for v in node.inputs if v is not None), default=math.inf
            )
            index = layer_index.get(layer[0], len(layers)) if layer else len(layers)
            return (index, first, node.op_type, tie)

        waiting = {n: len(p) for n, p in needs.items()}
        ready = [(key(n, i), i, n) for i, n in enumerate(nodes) if not waiting[n]]
        heapq.heapify(ready)
        ordered = []
        while ready:
            _, _, node = heapq.heappop(ready)
            for output in node.outputs:
                place[output] = len(ordered)
            ordered.append(node)
            for user in users[node]:
                waiting[user] -= 1
                if not waiting[user]:
                    tie = written[user]
                    heapq.heappush(ready, (key(user, tie), tie, user))
        if ordered == nodes:
            return False
        for node in ordered:
            graph.remove(node)
            graph.append(node)
        return True
