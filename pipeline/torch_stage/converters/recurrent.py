"""Stage 1's recurrent functions (``pipeline.forms.recurrent``) as ``nn.LSTM``/``nn.GRU``/
``nn.RNN(batch_first=True)`` called by the statements that select what the Keras layer
returns (``x[:, -1]``, ``x.flip(1)``, the halves of a Bidirectional), registered in
onnx2torch's converter registry.

ONNX weights are re-ordered to torch's gate order: LSTM ONNX (i, o, f, c) -> torch
(i, f, g, o); GRU ONNX (z, r, h) -> torch (r, z, n); ONNX B's halves are torch's
``bias_ih``/``bias_hh``.
"""

from __future__ import annotations

import torch
from onnx2torch.node_converters.registry import add_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OperationConverterResult
from torch import nn

from pipeline.forms import DOMAIN, VERSION
from pipeline.forms import recurrent as recurrent_form
from pipeline.forms.recurrent import Form
from pipeline.torch_stage import masking
from pipeline.torch_stage.templates import Statements

_TO_TORCH = {"LSTM": (0, 2, 3, 1), "GRU": (1, 0, 2), "SimpleRNN": (0,)}
_CLASSES = {"LSTM": nn.LSTM, "GRU": nn.GRU, "SimpleRNN": nn.RNN}


def _reorder(tensor: torch.Tensor, kind: str) -> torch.Tensor:
    blocks = tensor.chunk(len(_TO_TORCH[kind]), dim=0)
    return torch.cat([blocks[i] for i in _TO_TORCH[kind]], dim=0)


def _module(form: Form, node: OnnxNode, graph: OnnxGraph) -> nn.Module:
    names = list(node.input_values) + [""] * (4 - len(node.input_values))
    w, r = (graph.initializers[n].to_torch() for n in names[1:3])
    b = graph.initializers[names[3]].to_torch() if names[3] else None
    hidden = int(node.attributes["hidden_size"])
    kwargs = {"batch_first": True, "bias": b is not None, "bidirectional": form.bidirectional}
    if form.kind == "SimpleRNN":
        kwargs["nonlinearity"] = node.attributes["activations"][0].lower()
    module = _CLASSES[form.kind](w.shape[-1], hidden, **kwargs)
    gates = recurrent_form.GATES[form.kind] * hidden
    with torch.no_grad():
        for d, suffix in enumerate(["", "_reverse"][: form.num_directions]):
            getattr(module, f"weight_ih_l0{suffix}").copy_(_reorder(w[d], form.kind))
            getattr(module, f"weight_hh_l0{suffix}").copy_(_reorder(r[d], form.kind))
            if b is not None:
                getattr(module, f"bias_ih_l0{suffix}").copy_(_reorder(b[d, :gates], form.kind))
                getattr(module, f"bias_hh_l0{suffix}").copy_(_reorder(b[d, gates:], form.kind))
    return module.eval()


def statements(form: Form, hidden: int) -> tuple[str, ...]:
    """What the Keras layer returns, from the torch module's (output, state)."""
    x = "{0}.flip(1)" if form.direction == "Backward" else "{0}"
    if form.masked:
        return _masked(form, hidden)
    if form.initial or form.states:
        return _stated(form, x)
    if form.output == "Sequence":
        lines = ["{out}, _ = {self}(" + x + ")"]
        if form.direction.endswith("Sum"):
            lines.append(f"{{out}} = {{out}}[..., :{hidden}] + {{out}}[..., {hidden}:]")
        return tuple(lines)
    if not form.bidirectional:
        return ("{out}, _ = {self}(" + x + ")", "{out} = {out}[:, -1]")
    state = "({out}, _)" if form.kind == "LSTM" else "{out}"
    merged = (
        "torch.cat([{out}[0], {out}[1]], dim=-1)"
        if form.direction.endswith("Concat")
        else "{out}[0] + {out}[1]"
    )
    return ("_, " + state + " = {self}({0})", "{out} = " + merged)


def _stated(form: Form, x: str) -> tuple[str, ...]:
    """A one-direction layer called with Keras' initial states (``{1}``, ``{2}``: (B, H)
    each, torch's (1, B, H)) or returning its final states, as Keras lists them after the
    output: LSTM ``[output, h, c]``, GRU and SimpleRNN ``[output, h]``."""
    count = len(form.state_names)
    args = x
    if form.initial:
        given = [f"{{{i + 1}}}.unsqueeze(0)" for i in range(count)]
        args += ", (" + ", ".join(given) + ")" if count > 1 else ", " + given[0]
    output = "{out}[0]" if form.output == "Sequence" else "{out}[0][:, -1]"
    if not form.states:
        return ("{out} = {self}(" + args + ")", "{out} = " + output)
    finals = [f"{{out}}[1][{i}][0]" for i in range(count)] if count > 1 else ["{out}[1][0]"]
    return ("{out} = {self}(" + args + ")", "{out} = " + ", ".join([output, *finals]))


def _masked(form: Form, hidden: int) -> tuple[str, ...]:
    """A layer called with Keras' mask ``{1}`` (B, T): ``keras_masked_rnn`` (``masking``)
    gives each direction's outputs in input order; a last output is the forward direction's
    step T - 1 and the backward direction's step 0."""
    args = "{0}.flip(1), {1}.flip(1)" if form.direction == "Backward" else "{0}, {1}"
    zeros = ", zeros=True" if form.zeros else ""
    lines = ["{out} = " + f"{masking.NAME}({{self}}, {args}{zeros})"]
    if not form.bidirectional:
        return (*lines, "{out} = {out}[:, -1]") if form.output == "Last" else tuple(lines)
    if form.output == "Sequence":  # concatenated as keras_masked_rnn returns them
        if form.direction.endswith("Concat"):
            return tuple(lines)
        return (*lines, f"{{out}} = {{out}}[..., :{hidden}] + {{out}}[..., {hidden}:]")
    forward, backward = f"{{out}}[:, -1, :{hidden}]", f"{{out}}[:, 0, {hidden}:]"
    if form.direction.endswith("Concat"):
        return (*lines, f"{{out}} = torch.cat([{forward}, {backward}], dim=-1)")
    return (*lines, f"{{out}} = {forward} + {backward}")


def _register(form: Form) -> None:
    @add_converter(operation_type=form.op_type, version=VERSION, domain=DOMAIN)
    def convert(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
        module = _module(form, node, graph)
        states = tuple(node.input_values[4:])  # the initial states or the mask, where given
        mapping = OnnxMapping(inputs=(node.input_values[0], *states), outputs=node.output_values)
        return OperationConverterResult(
            Statements(module, statements(form, module.hidden_size)), mapping
        )


for _form in recurrent_form.all_forms():
    _register(_form)
