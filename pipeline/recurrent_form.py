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
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOMAIN = "keras2torch"
VERSION = 1
KINDS = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}  # Keras layer -> ONNX op
GATES = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}
DIRECTIONS = ("Forward", "Backward", "BidirectionalConcat", "BidirectionalSum")
OUTPUTS = ("Sequence", "Last")
_NAME = re.compile(rf"Keras({'|'.join(KINDS)})({'|'.join(DIRECTIONS)})({'|'.join(OUTPUTS)})$")


@dataclass(frozen=True)
class Form:
    kind: str  # LSTM, GRU or SimpleRNN (the Keras class)
    direction: str  # one of DIRECTIONS
    output: str  # Sequence (return_sequences=True) or Last

    @property
    def op_type(self) -> str:
        return f"Keras{self.kind}{self.direction}{self.output}"

    @property
    def bidirectional(self) -> bool:
        return self.direction.startswith("Bidirectional")

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1


def parse(op_type: str) -> Form | None:
    match = _NAME.match(op_type)
    return Form(*match.groups()) if match else None


def all_forms() -> list[Form]:
    return [Form(k, d, o) for k in KINDS for d in DIRECTIONS for o in OUTPUTS]
