"""The body of a masked recurrent form (``pipeline.forms.recurrent``): the layer called with
Keras' mask ``M`` (B, T), from an ``Embedding(mask_zero=True)`` or a ``Masking`` layer.

In Keras a masked step leaves the state as it was, so a direction's states are those of the
plain RNN run over each row's unmasked steps alone, in order. The body moves them there and
runs the standard op once per direction::

    forward:  unmasked steps to the front, in order, the op forward;
              step t reads the op's output at seen[t] - 1      (seen: unmasked steps in [0, t])
    backward: unmasked steps to the back, in order, the op in reverse;
              step t reads the op's output at T - after[t]     (after: unmasked steps in [t, T))

A step before its direction's first unmasked one reads zeros (Keras' first output); with
``zeros`` (``zero_output_for_mask``, which a Bidirectional returning sequences sets) every
masked step does. Moving steps (a ScatterElements by a permutation) and reading outputs (a
GatherElements) are exact whatever the mask: trailing padding or holes. A ``go_backwards``
layer is the forward direction over X and M reversed along time, as Keras runs it. ``Last``
is the forward direction's step T - 1 and the backward direction's step 0 (what each
direction returns last). Stage 3 computes the same with ``keras_masked_rnn`` in ``model.py``.
"""

from __future__ import annotations

import onnx
from onnx import helper

from pipeline.forms.function import attribute_ref, int_constant, reversed_in_time


def _node(op: str, inputs: list[str], output: str, **attrs) -> onnx.NodeProto:
    return helper.make_node(op, inputs, [output], **attrs)


def _common() -> list[onnx.NodeProto]:
    """seen, after (B, T), count (B, 1), steps (T,), T (1,), the shape of X, and M as int64."""
    return [
        int_constant("one", 1),
        int_constant("zero", 0),
        int_constant("time_axes", [1]),
        int_constant("last_axis", [2]),
        helper.make_node("Constant", [], ["zero_float"], value_float=0.0),
        _node("Cast", ["M"], "M_int", to=onnx.TensorProto.INT64),
        _node("CumSum", ["M_int", "one"], "seen"),
        _node("ReduceSum", ["M_int", "time_axes"], "count", keepdims=1),
        _node("Sub", ["count", "seen"], "after_excl"),
        _node("Add", ["after_excl", "M_int"], "after"),
        _node("Shape", ["X"], "x_shape"),
        _node("Shape", ["X"], "T", start=1, end=2),
        _node("Squeeze", ["T"], "T_scalar"),
        _node("Range", ["zero", "T_scalar", "one"], "steps"),
    ]


def _places(prefix: str, reverse: bool) -> list[onnx.NodeProto]:
    """Where each step of X goes (``{prefix}_dest``), and which output each step reads
    (``{prefix}_index``, valid where ``{prefix}_valid``)."""
    p = prefix
    if not reverse:  # unmasked to seen - 1, masked after all unmasked ones, in order
        return [
            _node("Sub", ["seen", "one"], f"{p}_index"),
            _node("Add", ["count", "steps"], f"{p}_masked_base"),
            _node("Sub", [f"{p}_masked_base", "seen"], f"{p}_masked_dest"),
            _node("Where", ["M", f"{p}_index", f"{p}_masked_dest"], f"{p}_dest"),
            _node("Greater", ["seen", "zero"], f"{p}_valid"),
        ]
    return [  # masked first, in order; unmasked to T - count + seen - 1
        _node("Sub", ["T", "count"], f"{p}_first"),
        _node("Add", [f"{p}_first", "seen"], f"{p}_end"),
        _node("Sub", [f"{p}_end", "one"], f"{p}_unmasked_dest"),
        _node("Sub", ["steps", "seen"], f"{p}_masked_dest"),
        _node("Where", ["M", f"{p}_unmasked_dest", f"{p}_masked_dest"], f"{p}_dest"),
        _node("Sub", ["T", "after"], f"{p}_index"),
        _node("Greater", ["after", "zero"], f"{p}_valid"),
    ]


def _direction(form, prefix: str, reverse: bool, op: str) -> list[onnx.NodeProto]:
    """One direction's output (B, T, H), in input order: ``{prefix}_out``. A Bidirectional's
    direction takes its slice of W, R and B (which a masked Bidirectional must have)."""
    p, d = prefix, int(reverse)
    nodes = _places(p, reverse)
    weights = ["W", "R", "B"]
    if form.bidirectional:  # this direction's weights: W[d:d+1], ...
        nodes += [int_constant(f"{p}_start", [d]), int_constant(f"{p}_stop", [d + 1])]
        nodes += [int_constant(f"{p}_axis", [0])]
        weights = [f"{p}_{w}" for w in "WRB"]
        for w in "WRB":
            bounds = [f"{p}_start", f"{p}_stop", f"{p}_axis"]
            nodes.append(_node("Slice", [w, *bounds], f"{p}_{w}"))
    nodes += [
        _node("Unsqueeze", [f"{p}_dest", "last_axis"], f"{p}_dest3"),
        _node("Expand", [f"{p}_dest3", "x_shape"], f"{p}_dest_all"),
        _node("ScatterElements", ["X", f"{p}_dest_all", "X"], f"{p}_moved", axis=1),
        _node("Transpose", [f"{p}_moved"], f"{p}_tbf", perm=[1, 0, 2]),
    ]
    call = helper.make_node(
        op,
        [f"{p}_tbf", *weights],
        [f"{p}_all"],
        direction="reverse" if reverse else "forward",
    )
    call.attribute.append(attribute_ref("hidden_size", onnx.AttributeProto.INT))
    if form.kind == "GRU":
        call.attribute.append(helper.make_attribute("linear_before_reset", 1))
    if form.kind == "SimpleRNN":
        call.attribute.append(attribute_ref("activations", onnx.AttributeProto.STRINGS))
    keep = f"{p}_valid"
    nodes += [
        call,
        _node("Squeeze", [f"{p}_all", "time_axes"], f"{p}_time_major"),
        _node("Transpose", [f"{p}_time_major"], f"{p}_y", perm=[1, 0, 2]),
        _node("Shape", [f"{p}_y"], f"{p}_y_shape"),
        _node("Where", [f"{p}_valid", f"{p}_index", "zero"], f"{p}_read"),
        _node("Unsqueeze", [f"{p}_read", "last_axis"], f"{p}_read3"),
        _node("Expand", [f"{p}_read3", f"{p}_y_shape"], f"{p}_read_all"),
        _node("GatherElements", [f"{p}_y", f"{p}_read_all"], f"{p}_gathered", axis=1),
    ]
    if form.zeros:
        nodes.append(_node("And", [f"{p}_valid", "M"], f"{p}_keep"))
        keep = f"{p}_keep"
    nodes += [
        _node("Unsqueeze", [keep, "last_axis"], f"{p}_keep3"),
        _node("Where", [f"{p}_keep3", f"{p}_gathered", "zero_float"], f"{p}_out"),
    ]
    return nodes


def body(form, op: str) -> list[onnx.NodeProto]:
    """The nodes from inputs X (or X_given, M_given for Backward), W, R, B, M to output Y."""
    given = [("X_given", "X"), ("M_given", "M")]  # a go_backwards layer: X and M reversed
    nodes = reversed_in_time(given) if form.direction == "Backward" else []
    nodes += _common() + _direction(form, "fw", False, op)
    last = [int_constant("last_step", -1), int_constant("first_step", 0)]
    if not form.bidirectional:
        if form.output == "Sequence":
            return [*nodes, _node("Identity", ["fw_out"], "Y")]
        return [*nodes, *last, _node("Gather", ["fw_out", "last_step"], "Y", axis=1)]
    nodes += _direction(form, "bw", True, op)
    parts = ["fw_out", "bw_out"]
    if form.output == "Last":
        nodes += last
        nodes += [_node("Gather", ["fw_out", "last_step"], "fw_last", axis=1)]
        nodes += [_node("Gather", ["bw_out", "first_step"], "bw_last", axis=1)]
        parts = ["fw_last", "bw_last"]
    if form.direction == "BidirectionalSum":
        return [*nodes, _node("Add", parts, "Y")]
    return [*nodes, _node("Concat", parts, "Y", axis=-1)]
