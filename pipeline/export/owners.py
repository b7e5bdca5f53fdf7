"""Which Keras layer a node tf2onnx made up (``Transpose__36``, ``Resize__14``) belongs to,
for ``annotate``: the one layer with no node between its neighbours' layers, else a
neighbour's that computes such an op, else a consumer's, else the producer's."""

from __future__ import annotations

import onnx


def _orphan_regions(graph: onnx.GraphProto, owner: dict[int, str], producer) -> list[list[int]]:
    """The nodes no layer owns, in connected groups (the ops of one Keras operation)."""
    parent = {i: i for i in range(len(graph.node)) if i not in owner}

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in parent:
        for name in graph.node[i].input:
            if producer.get(name) in parent:
                parent[root(i)] = root(producer[name])
    regions: dict[int, list[int]] = {}
    for i in parent:
        regions.setdefault(root(i), []).append(i)
    return list(regions.values())


def _layer_between(region, graph, owner, order, operations, producer, consumers) -> str | None:
    """The one Keras layer that owns no node yet and sits, in model order, between the
    layers feeding this group of unowned nodes and the layers it feeds: tf2onnx renamed its
    ops (Resize__14). Or, for a group that leads to the graph's output, the one Keras
    operation outside any layer after its producers (``keras.ops.argmax``: Bitcast, ArgMax,
    ...; not a layer that computes nothing at inference, such as a GaussianNoise before the
    end)."""
    inside = set(region)
    outs = [out for i in region for out in graph.node[i].output]
    ins = [name for i in region for name in graph.node[i].input]
    before = [owner[producer[n]] for n in ins if producer.get(n) in owner]
    after = [owner[c] for out in outs for c in consumers.get(out, []) if c not in inside]
    if not before:
        return None
    low = max(order.index(name) for name in before)
    high = min((order.index(name) for name in after), default=len(order))
    owned = set(owner.values())
    between = [name for name in order[low + 1 : high] if name not in owned]
    if len(between) != 1 or (not after and between[0] not in operations):
        return None
    return between[0]


# an op tf2onnx made up that only these layers compute (a Conv it merged with a Pad and a
# Transpose, Conv__435, is the Conv2D's even though a BatchNormalization reads it)
_COMPUTED_BY = {"Conv": "Conv", "ConvTranspose": "Conv", "MatMul": "Dense", "Gemm": "Dense"}


def inherit_owners(graph: onnx.GraphProto, owner: dict[int, str], order, operations, classes):
    """Nodes tf2onnx made up (Transpose__36, Shape__38) take a layer: the one layer with no
    node between their neighbours' layers if there is exactly one (for a connected group of
    such nodes at once), else a neighbour's that computes such an op (``_COMPUTED_BY``), else
    a consumer's (the layout transpose before Flatten belongs to 'flatten'), else the
    producer's."""
    producer = {out: i for i, node in enumerate(graph.node) for out in node.output}
    consumers: dict[str, list[int]] = {}
    for i, node in enumerate(graph.node):
        for name in node.input:
            consumers.setdefault(name, []).append(i)
    for region in _orphan_regions(graph, owner, producer):
        layer = _layer_between(region, graph, owner, order, operations, producer, consumers)
        if layer:
            owner.update(dict.fromkeys(region, layer))
    changed = True
    while changed:
        changed = False
        for i, node in enumerate(graph.node):
            if i in owner:
                continue
            near = [c for out in node.output for c in consumers.get(out, []) if c in owner]
            near += [producer[n] for n in node.input if producer.get(n) in owner]
            kind = _COMPUTED_BY.get(node.op_type, "\0")
            fitting = [n for n in near if kind in classes[owner[n]]]
            if near:
                owner[i] = owner[(fitting or near)[0]]
                changed = True
