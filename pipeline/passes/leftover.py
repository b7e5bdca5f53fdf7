"""The Transposes stage 2 leaves, each with why it is there (``passes.json``)."""

from __future__ import annotations

import onnx_ir as ir

from pipeline import metadata


def _between(node: ir.Node) -> str:
    """Why a Transpose no pass has a reason for is there: what it sits between."""

    def describe(other: ir.Node | None) -> str:
        if other is None:
            return "the graph input"
        layer = metadata.layer_of(other.doc_string or "")
        return f"'{layer[0]}' ({layer[1]})" if layer else f"node '{other.name}'"

    own = metadata.layer_of(node.doc_string or "")
    if own and own[1] == "Permute":
        return f"the Keras model's own Permute layer '{own[0]}' (a transposing layer)"
    if own and own[1] == "Reshape":
        return (
            f"Keras layer '{own[0]}' (Reshape) reshapes in Keras' channels-last order "
            "(H, W, C): the channels-first data is put back in that order first"
        )
    before = describe(node.inputs[0].producer())
    after = ", ".join(describe(c) for c in node.outputs[0].consumers()) or "the graph output"
    return (
        f"a layout change between {before} and {after}: no pass could move it out, so the "
        "layers on its two sides compute in different layouts (e.g. nn.Conv1d channels-first, "
        "a Dense on the last axis channels-last)"
    )


def transposes_left(model: ir.Model, records) -> list[dict]:
    """Each remaining Transpose and why it is there: the skip reasons about a Transpose of
    the same Keras layer (names changed since, the layer did not)."""
    left = []
    for node in model.graph:
        if node.op_type == "Transpose":
            layer = metadata.layer_of(node.doc_string or "")
            key = f"Keras layer '{layer[0]}'" if layer else f"'{node.name}'"
            reasons = [s for r in records for s in r.skipped if key in s and "Transpose" in s]
            left.append(
                {
                    "node": node.name,
                    "doc": node.doc_string or "",
                    "why": reasons or [_between(node)],
                }
            )
    return left
