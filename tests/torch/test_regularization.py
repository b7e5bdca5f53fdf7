"""regularization_loss(): each Keras regularizer term on the torch parameter holding its
weight's values, and a NotImplementedError naming what has no torch form, never a wrong
penalty (Keras models end to end: tests/e2e/test_small_models.py, bn_block)."""

from __future__ import annotations

import pytest
import torch
from pipeline.metadata import values_digest
from pipeline.torch_stage import regularization
from pipeline.torch_stage.emit import NodeInfo
from torch import fx, nn


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.rnn = nn.LSTM(3, 2, batch_first=True)
        self.head = nn.Linear(2, 4)
        with torch.no_grad():
            self.rnn.bias_hh_l0.zero_()  # as stage 3 writes Keras' one LSTM bias

    def forward(self, x):
        x, _ = self.rnn(x)
        return self.head(x)


def _term(layer: str, weight: torch.Tensor, l1: float = 0.0, l2: float = 0.0) -> dict:
    digest = values_digest(weight.detach().numpy())
    return {"layer": layer, "weight": "w", "l1": l1, "l2": l2, "digest": digest}


def _module(spec: dict) -> nn.Module:
    net = _Net()
    gm = fx.symbolic_trace(net)
    info = {"rnn": NodeInfo("", "lstm (LSTM)"), "head": NodeInfo("", "head (Dense)")}
    namespace = {"torch": torch}
    source = "class M:\n" + regularization.method(gm, info, spec)
    exec(source, namespace)  # the method as model.py holds it, on the same parameters
    net.regularization_loss = namespace["M"].regularization_loss.__get__(net)
    return net


def test_each_term_is_found_by_its_values_and_gives_keras_penalty():
    net = _Net()
    kernel = net.head.weight.detach().T.flip(0)  # Keras' layout: transposed, in another order
    spec = {"terms": [_term("head", kernel, l1=0.01, l2=0.02)], "unsupported": []}
    spec["keras_loss"] = float(0.01 * kernel.abs().sum() + 0.02 * kernel.square().sum())
    module = _module(spec)
    assert regularization.check(module, spec)["passed"]
    spec["keras_loss"] *= 1.001
    assert not regularization.check(module, spec)["passed"]


@pytest.mark.parametrize(
    ("terms", "unsupported", "named"),
    [
        ([], ["layer 'head': activity_regularizer (a penalty on its output)"], "activity"),
        ([("head", torch.zeros(3))], [], "'head' weight 'w': no parameter of its modules"),
        ([("lstm", "bias_ih_l0")], [], "torch splits the bias in two"),
        ([("lstm", "bias_hh_l0")], [], "2 parameters of its modules"),  # zeros, and Keras'
    ],
)
def test_what_has_no_torch_form_raises_naming_it(terms, unsupported, named):
    net = _Net()
    made = []
    for layer, weight in terms:
        value = getattr(net.rnn, weight) if isinstance(weight, str) else weight
        made.append(_term(layer, value, l2=0.1))
    if terms and terms[0][1] == "bias_hh_l0":
        with torch.no_grad():
            net.rnn.bias_ih_l0.zero_()  # two zero biases: which one is Keras' is unknown
    spec = {"terms": made, "unsupported": unsupported, "keras_loss": 1.0}
    gm = fx.symbolic_trace(net)
    info = {"rnn": NodeInfo("", "lstm (LSTM)"), "head": NodeInfo("", "head (Dense)")}
    text = regularization.method(gm, info, spec)
    assert "raise NotImplementedError(" in text and named in text
