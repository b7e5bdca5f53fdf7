"""Stage 1's recurrent functions (``pipeline.recurrent_form``) as ``nn.LSTM``/``nn.GRU``/
``nn.RNN(batch_first=True)``, registered in onnx2torch's converter registry, and their writing.

ONNX weights are re-ordered to torch's gate order: LSTM ONNX (i, o, f, c) -> torch
(i, f, g, o); GRU ONNX (z, r, h) -> torch (r, z, n); ONNX B's halves are torch's
``bias_ih``/``bias_hh``. The converted modules subclass the torch ones (so their state_dict is
``nn.LSTM``'s) and add only the Keras output selection, which the emitted code writes out.
"""

from __future__ import annotations

import torch
from onnx2torch.node_converters.registry import add_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OperationConverterResult
from torch import nn

from pipeline.forms import recurrent as recurrent_form
from pipeline.forms.recurrent import Form

_TO_TORCH = {"LSTM": (0, 2, 3, 1), "GRU": (1, 0, 2), "SimpleRNN": (0,)}


class KerasOutput:
    """What the Keras layer returns, from the torch module's (output, state)."""

    form: Form

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        form, hidden = self.form, self.hidden_size
        if form.direction == "Backward":
            x = x.flip(1)
        y, state = super().forward(x)
        if form.output == "Sequence":
            return y[..., :hidden] + y[..., hidden:] if form.direction.endswith("Sum") else y
        if not form.bidirectional:
            return y[:, -1]
        h = state[0] if isinstance(state, tuple) else state
        return torch.cat([h[0], h[1]], dim=-1) if form.direction.endswith("Concat") else h[0] + h[1]


class KerasLSTM(KerasOutput, nn.LSTM):
    pass


class KerasGRU(KerasOutput, nn.GRU):
    pass


class KerasSimpleRNN(KerasOutput, nn.RNN):
    pass


_CLASSES = {"LSTM": KerasLSTM, "GRU": KerasGRU, "SimpleRNN": KerasSimpleRNN}


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
    module.form = form
    gates = recurrent_form.GATES[form.kind] * hidden
    with torch.no_grad():
        for d, suffix in enumerate(["", "_reverse"][: form.num_directions]):
            getattr(module, f"weight_ih_l0{suffix}").copy_(_reorder(w[d], form.kind))
            getattr(module, f"weight_hh_l0{suffix}").copy_(_reorder(r[d], form.kind))
            if b is not None:
                getattr(module, f"bias_ih_l0{suffix}").copy_(_reorder(b[d, :gates], form.kind))
                getattr(module, f"bias_hh_l0{suffix}").copy_(_reorder(b[d, gates:], form.kind))
    return module.eval()


def _register(form: Form) -> None:
    @add_converter(operation_type=form.op_type, version=1, domain=recurrent_form.DOMAIN)
    def convert(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
        mapping = OnnxMapping(inputs=(node.input_values[0],), outputs=node.output_values)
        return OperationConverterResult(_module(form, node, graph), mapping)


for _form in recurrent_form.all_forms():
    _register(_form)


def write(module: nn.Module) -> tuple[str, tuple[str, ...]]:
    """The constructor and the forward statements (over ``{self}``, ``{0}``, ``{out}``)."""
    form = module.form
    torch_class = type(module).__mro__[2].__name__  # KerasLSTM -> KerasOutput -> LSTM
    args = [str(module.input_size), str(module.hidden_size), "batch_first=True"]
    if not module.bias:
        args.append("bias=False")
    if form.bidirectional:
        args.append("bidirectional=True")
    if form.kind == "SimpleRNN" and module.nonlinearity != "tanh":
        args.append(f"nonlinearity={module.nonlinearity!r}")
    x = "{0}.flip(1)" if form.direction == "Backward" else "{0}"
    hidden = module.hidden_size
    if form.output == "Sequence":
        lines = ["{out}, _ = {self}(" + x + ")"]
        if form.direction.endswith("Sum"):
            lines.append(f"{{out}} = {{out}}[..., :{hidden}] + {{out}}[..., {hidden}:]")
    elif not form.bidirectional:
        lines = ["{out}, _ = {self}(" + x + ")", "{out} = {out}[:, -1]"]
    else:
        state = "({out}, _)" if form.kind == "LSTM" else "{out}"
        merged = (
            "torch.cat([{out}[0], {out}[1]], dim=-1)"
            if form.direction.endswith("Concat")
            else "{out}[0] + {out}[1]"
        )
        lines = ["_, " + state + " = {self}({0})", "{out} = " + merged]
    return f"nn.{torch_class}({', '.join(args)})", tuple(lines)
