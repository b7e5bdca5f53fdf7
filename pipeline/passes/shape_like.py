"""shape_like: a Tile, Expand or Slice whose sizes are computed from another tensor's shape
-> one call of ``KerasExpandLike``/``KerasSliceLike`` (``pipeline.forms.shape_like``).

Pattern (after ``fold_shapes`` has folded what is static): the node's repeats, shape or ends
evaluate (``symbolic``) to ints and unknown dims, each unknown dim found as one axis of one
tensor, its *source*: any axis of a graph input of rank 1 or 2 (a sequence length of token
ids), or any unknown axis of a value whose ``Shape`` the graph reads (a batch size; the
length of a sequence a strided Conv1D made, Whisper's encoder: its positions are cut to
it). Not an image input, whose only use must stay its change to NCHW. This pass runs before
the layout passes, which rewrite a value's consumers only where its layout stays, so the
axis stays right downstream; the checks after the passes run two sequence lengths.

- ``Expand(X, shape)`` read only by Add/Sub/Mul/Div whose other operand already has that
  shape: the Expand goes (the operation broadcasts X itself);
- ``Expand(X, shape)``, or ``Tile(X, repeats)`` with X of size 1 wherever the repeats are
  unknown (a class token tiled to the batch) -> ``KerasExpandLike(X, source)``;
- ``Slice(X, starts, ends, axes)``, static starts and unit steps, unknown ends ->
  ``KerasSliceLike(X, source)`` (position embeddings cut to the input's length);
- ``Range(start, limit, delta)``, constant start and delta, the limit one unknown dim ->
  ``KerasRangeLike(source)`` (keras-hub's causal mask counts positions to the length).

Left alone (reason recorded): sizes from more than one source, or from none found. Needs
shapes: runs after shape inference.
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline.forms import DOMAIN
from pipeline.forms import shape_like as form
from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import const, replace_nodes, use_function
from pipeline.passes.symbolic import SymVec, dims, evaluate_graph

_BROADCASTING = ("Add", "Sub", "Mul", "Div")


Sources = dict[str, list[tuple[ir.Value, int]]]  # unknown dim -> every (tensor, axis) with it


def _sources(graph: ir.Graph) -> Sources:
    """Each unknown dim -> the (tensor, axis) pairs that have it, as the module docstring
    says, graph inputs first."""
    found: Sources = {}
    for value in graph.inputs:  # not an image's: its layout change to NCHW must be its only use
        shape = dims(value) or ()
        for axis, dim in enumerate(shape):
            if isinstance(dim, str) and len(shape) <= 2:
                found.setdefault(dim, []).append((value, axis))
    for node in graph:
        shape = dims(node.inputs[0]) if node.op_type == "Shape" else None
        for axis, dim in enumerate(shape or ()):
            if isinstance(dim, str):
                found.setdefault(dim, []).append((node.inputs[0], axis))
    return found


class ShapeLike(GraphPass):
    NAME = "shape_like"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        graph = model.graph
        known, sources = evaluate_graph(graph), _sources(graph)
        modified = False
        for node in list(graph):
            computed = {"Expand": 1, "Tile": 1, "Slice": 2, "Range": 1}.get(node.op_type)
            if computed is None or len(node.inputs) <= computed:
                continue
            sizes = known.get(node.inputs[computed])
            if sizes is None or sizes.known:
                continue
            if node.op_type == "Expand":
                modified |= self._expand(model, node, sizes.items, sources, skips)
            elif node.op_type == "Range":
                modified |= self._range(model, node, sizes.items, sources, skips)
            elif node.op_type == "Tile":
                modified |= self._tile(model, node, sizes.items, sources, skips)
            else:
                modified |= self._slice(model, node, known, sources, skips)
        return modified

    def _tile(self, model, node, repeats, sources, skips) -> bool:
        shape = dims(node.inputs[0])
        if shape is None or len(shape) != len(repeats):
            skips.add(node, "the tiled value's rank is unknown")
            return False
        if any(isinstance(r, str) and d != 1 for r, d in zip(repeats, shape, strict=True)):
            skips.add(node, "an unknown repeat of an axis of size other than 1")
            return False
        target = [r if isinstance(r, str) else d * r for r, d in zip(repeats, shape, strict=True)]
        return self._call_expand(model, node, target, sources, skips)

    def _expand(self, model, node, target, sources, skips) -> bool:
        output = node.outputs[0]
        consumers = output.consumers()
        if (
            consumers
            and not output.is_graph_output()
            and all(
                c.op_type in _BROADCASTING and self._other_has(c, output, target) for c in consumers
            )
        ):
            output.replace_all_uses_with(node.inputs[0])
            model.graph.remove(node, safe=True)
            return True
        return self._call_expand(model, node, list(target), sources, skips)

    @staticmethod
    def _other_has(consumer: ir.Node, value: ir.Value, target) -> bool:
        others = [v for v in consumer.inputs if v is not value]
        return len(others) == 1 and dims(others[0]) == tuple(target)

    def _call_expand(self, model, node, target, sources, skips) -> bool:
        found = _like(target, sources)
        if found is None:
            skips.add(node, f"sizes {target} are not one tensor's dims")
            return False
        sizes = [t if isinstance(t, int) else 1 for t in target]
        like, like_axes = found
        axes = [like_axes[t] if isinstance(t, str) else -1 for t in target]
        attrs = {"sizes": sizes, "like_axes": axes}
        self._call(model, node, form.EXPAND, [node.inputs[0], like], attrs)
        return True

    def _slice(self, model, node, known, sources, skips) -> bool:
        bounds = [known.get(v) if v is not None else None for v in node.inputs[1:]]
        starts, ends = bounds[0], bounds[1]
        axes = bounds[2] if len(bounds) > 2 else SymVec(tuple(range(len(ends.items))))
        steps = bounds[3] if len(bounds) > 3 else None
        if starts is None or axes is None or not (starts.known and axes.known):
            skips.add(node, "starts or axes computed")
            return False
        if steps is not None and set(steps.items) != {1}:
            skips.add(node, "a step other than 1")
            return False
        shape = dims(node.inputs[0]) or ()
        rank = len(shape)
        cuts = [  # (axis, start, end), the whole-axis ones left out
            (a % rank if rank else a, s, e)
            for a, s, e in zip(axes.items, starts.items, ends.items, strict=True)
            if not (s == 0 and isinstance(e, int) and rank and e >= shape[a % rank])
        ]
        found = _like([e for _, _, e in cuts], sources)
        if found is None or any(isinstance(e, int) for _, _, e in cuts):
            skips.add(node, f"ends {list(ends.items)} are not one tensor's dims")
            return False
        like, like_axes = found
        attrs = {
            "axes": [a for a, _, _ in cuts],
            "starts": [s for _, s, _ in cuts],
            "like_axes": [like_axes[e] for _, _, e in cuts],
        }
        self._call(model, node, form.SLICE, [node.inputs[0], like], attrs)
        return True

    def _range(self, model, node, limit, sources, skips) -> bool:
        bounds = [const(node.inputs[i]) for i in (0, 2)]
        found = _like(limit, sources)
        if found is None:
            skips.add(node, f"a range to {list(limit)}, not one tensor's dim")
            return False
        if any(b is None or b.size != 1 for b in bounds):
            skips.add(node, "a range with a computed start or step")
            return False
        like, like_axes = found
        start, delta = (float(b.reshape(())) for b in bounds)
        attrs = {"start": start, "delta": delta, "like_axis": like_axes[limit[0]]}
        attrs["to"] = node.outputs[0].dtype.value
        self._call(model, node, form.RANGE, [like], attrs)
        return True

    @staticmethod
    def _call(model: ir.Model, node: ir.Node, op_type: str, inputs, attrs: dict) -> None:
        replace_nodes(model.graph, [node], op_type, inputs, attrs, DOMAIN)
        use_function(model, op_type, form.FUNCTIONS[op_type])


def _like(sizes, sources: Sources) -> tuple[ir.Value, dict[str, int]] | None:
    """The first tensor that has every unknown dim of ``sizes``, and the axis of each; None
    if no one tensor has them all."""
    unknown = list(dict.fromkeys(s for s in sizes if isinstance(s, str)))
    if not unknown or any(s not in sources for s in unknown):
        return None
    for tensor, _ in sources[unknown[0]]:
        axes = {}
        for dim in unknown:
            axes[dim] = next((a for t, a in sources[dim] if t is tensor), None)
        if all(a is not None for a in axes.values()):
            return tensor, axes
    return None
