"""The ONNX form of a Keras recurrent layer, shared by stage 1 (writes it) and stage 3 (reads it).

tf2onnx turns a Keras 3 GRU or SimpleRNN into an ONNX ``Loop`` that no importer can map back
to ``nn.GRU``, and its LSTM comes with shape plumbing around it. Stage 1 therefore writes each
recurrent layer itself, from the Keras layer's config and weights, as one call of a model-local
ONNX function (domain ``keras2torch``) named after what it computes::

    KerasLSTMForwardLast(X[B,T,F], W, R, B) -> Y[B,H]
    KerasGRUBidirectionalConcatSequence(X[B,T,F], W, R, B) -> Y[B,T,2H]

``W``, ``R``, ``B`` are the standard ONNX ``LSTM``/``GRU``/``RNN`` weights (ONNX gate order)
as initializers; the function body is the standard op between the time-major transposes
onnxruntime needs (it runs only ``layout=0``) and the Keras output selection. onnxruntime
inlines the body; stage 2 sees one opaque node; Netron shows one node per Keras layer; stage 3
maps each op type to one ``nn.LSTM``/``nn.GRU``/``nn.RNN(batch_first=True)``.

Body, for X batch-first (B, T, F) (onnxruntime runs recurrent ops only time-major)::

    [Backward: X reversed along time]
    Xt = Transpose(X, [1, 0, 2])                        # (T, B, F)
    Y, Y_h = LSTM|GRU|RNN(Xt, W, R, B)                  # (T, D, B, H), (D, B, H)
    Forward/Backward  Sequence: Transpose(Squeeze(Y, 1), [1, 0, 2])          (B, T, H)
                      Last:     Squeeze(Y_h, 0)                              (B, H)
    BidirectionalConcat Sequence: Reshape(Transpose(Y, [2, 0, 1, 3]), [0, 0, -1])  (B, T, 2H)
                        Last:     Reshape(Transpose(Y_h, [1, 0, 2]), [0, -1])      (B, 2H)
    BidirectionalSum  Sequence: Transpose(ReduceSum(Y, 1), [1, 0, 2])        (B, T, H)
                      Last:     ReduceSum(Y_h, 0)                            (B, H)

A layer called with Keras' mask (``Embedding(mask_zero=True)``, ``Masking``) takes it as one
more input, ``M`` (B, T), and its op type ends in ``Masked`` (``MaskedZeros`` where masked
steps output zeros): its body runs the op over each row's unmasked steps alone
(``pipeline.forms.recurrent_masked``).

Keras' backward layer of a Bidirectional returns its sequence re-reversed to input order, as
ONNX's ``reverse`` direction does; a ``go_backwards`` layer returns it in processing order,
which is the forward op on the reversed input.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from onnx import helper

from pipeline.forms import recurrent_masked
from pipeline.forms.function import attribute_ref, int_constant, make, reversed_in_time

KINDS = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}  # Keras layer -> ONNX op
GATES = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}
DIRECTIONS = ("Forward", "Backward", "BidirectionalConcat", "BidirectionalSum")
OUTPUTS = ("Sequence", "Last")


@dataclass(frozen=True)
class Form:
    kind: str  # LSTM, GRU or SimpleRNN (the Keras class)
    direction: str  # one of DIRECTIONS
    output: str  # Sequence (return_sequences=True) or Last
    initial: bool = False  # called with initial_state: inputs H0 (and C0), each (B, H)
    states: bool = False  # return_state=True: outputs H (and C) after Y, each (B, H)
    masked: bool = False  # called with Keras' mask: input M (B, T) after B (recurrent_masked)
    zeros: bool = False  # masked, a masked step outputs zeros (Keras' zero_output_for_mask)

    @property
    def op_type(self) -> str:
        initial = "FromStates" if self.initial else ""
        states = "AndStates" if self.states else ""
        masked = ("MaskedZeros" if self.zeros else "Masked") if self.masked else ""
        return f"Keras{self.kind}{self.direction}{self.output}{initial}{states}{masked}"

    @property
    def state_names(self) -> tuple[str, ...]:
        """Keras' states of one direction, in its order: LSTM (h, c), GRU and SimpleRNN h."""
        return ("H", "C") if self.kind == "LSTM" else ("H",)

    @property
    def bidirectional(self) -> bool:
        return self.direction.startswith("Bidirectional")

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1


def all_forms() -> list[Form]:
    """Every form; states in or out only one way (a Bidirectional's are refused)."""
    plain = [Form(k, d, o) for k in KINDS for d in DIRECTIONS for o in OUTPUTS]
    stated = [
        Form(k, d, o, initial, states)
        for k in KINDS
        for d in DIRECTIONS[:2]
        for o in OUTPUTS
        for initial, states in ((True, False), (False, True), (True, True))
    ]
    masked = [
        Form(k, d, o, masked=True, zeros=zeros)
        for k in KINDS
        for d in DIRECTIONS
        for o in OUTPUTS
        for zeros in (False, True)
        # a last output is never a masked step's zeros; a Bidirectional's sequence always is
        if not (zeros and o == "Last") and not (d.startswith("Bi") and zeros != (o == "Sequence"))
    ]
    return plain + stated + masked


# Every form keeps ONNX's weight names (torch splits them per gate and bias in stage 3).
PARAM_ROLES = {form.op_type: (None, "W", "R", "B") for form in all_forms()}


def inputs(form: Form) -> list[str]:
    if form.masked:  # a go_backwards layer's body reverses X and M first
        given = "_given" if form.direction == "Backward" else ""
        return [f"X{given}", "W", "R", "B", f"M{given}"]
    return ["X", "W", "R", "B", *(f"{n}0" for n in form.state_names if form.initial)]


def outputs(form: Form) -> tuple[str, ...]:
    return ("Y", *(form.state_names if form.states else ()))


def _outputs(form: Form) -> list[onnx.NodeProto]:
    source = "Y_all" if form.output == "Sequence" else "Y_h"
    sequence = form.output == "Sequence"
    if form.direction == "BidirectionalConcat":
        perm, shape = ([2, 0, 1, 3], [0, 0, -1]) if sequence else ([1, 0, 2], [0, -1])
        return [
            helper.make_node("Transpose", [source], ["batch_first"], perm=perm),
            int_constant("merged_shape", shape),
            helper.make_node("Reshape", ["batch_first", "merged_shape"], ["Y"]),
        ]
    reduce = "ReduceSum" if form.direction == "BidirectionalSum" else "Squeeze"
    axis = 1 if sequence else 0
    nodes = [int_constant("direction_axis", [axis])]
    attrs = {"keepdims": 0} if reduce == "ReduceSum" else {}
    if not sequence:
        return [*nodes, helper.make_node(reduce, [source, "direction_axis"], ["Y"], **attrs)]
    return [
        *nodes,
        helper.make_node(reduce, [source, "direction_axis"], ["time_major"], **attrs),
        helper.make_node("Transpose", ["time_major"], ["Y"], perm=[1, 0, 2]),
    ]


def function(form: Form, opset: int) -> onnx.FunctionProto:
    attributes = ["hidden_size"] + (["activations"] if form.kind == "SimpleRNN" else [])
    if form.masked:
        nodes = recurrent_masked.body(form, KINDS[form.kind])
        return make(form.op_type, inputs(form), nodes, opset, attributes)
    nodes = []
    x = "X"
    if form.direction == "Backward":
        nodes += reversed_in_time([("X", "X_rev")])
        x = "X_rev"
    nodes.append(helper.make_node("Transpose", [x], ["X_tbf"], perm=[1, 0, 2]))
    op_inputs, op_outputs = ["X_tbf", "W", "R", "B"], ["Y_all", "Y_h", "Y_c"][: 2 + form.states]
    if form.initial:  # Keras' (B, H) states, ONNX's (directions, B, H)
        nodes.append(int_constant("state_axis", [0]))
        for name in form.state_names:
            nodes.append(helper.make_node("Unsqueeze", [f"{name}0", "state_axis"], [f"{name}0_d"]))
        op_inputs += ["", *(f"{name}0_d" for name in form.state_names)]  # no sequence_lens
    op = helper.make_node(
        KINDS[form.kind],
        op_inputs,
        op_outputs if form.kind == "LSTM" else op_outputs[:2],
        direction="bidirectional" if form.bidirectional else "forward",
    )
    op.attribute.append(attribute_ref("hidden_size", onnx.AttributeProto.INT))
    if form.kind == "GRU":
        op.attribute.append(helper.make_attribute("linear_before_reset", 1))
    if form.kind == "SimpleRNN":
        op.attribute.append(attribute_ref("activations", onnx.AttributeProto.STRINGS))
    nodes += [op, *_outputs(form)]
    if form.states:  # each final state, (1, B, H) -> (B, H)
        nodes.append(int_constant("final_axis", [0]))
        for name, source in zip(form.state_names, ("Y_h", "Y_c"), strict=False):
            nodes.append(helper.make_node("Squeeze", [source, "final_axis"], [name]))
    return make(form.op_type, inputs(form), nodes, opset, attributes, outputs(form))
