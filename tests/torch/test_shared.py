"""pipeline.torch_stage.shared: the calls of one shared Keras layer become one module."""

from __future__ import annotations

import torch
from pipeline.torch_stage.shared import share
from torch import fx, nn


class _TwoCalls(nn.Module):
    def __init__(self, second: nn.Linear) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.first = nn.Linear(3, 3)
        self.second = second

    def forward(self, x):
        return self.second(self.first(x))


def _traced(copy_weights: bool) -> fx.GraphModule:
    torch.manual_seed(0)
    first = nn.Linear(3, 3)
    second = nn.Linear(3, 3)
    if copy_weights:
        second.load_state_dict(first.state_dict())
    model = _TwoCalls(second)
    model.first.load_state_dict(first.state_dict())
    return fx.symbolic_trace(model)


def _targets(gm: fx.GraphModule) -> list[str]:
    return [n.target for n in gm.graph.nodes if n.op == "call_module"]


def test_two_calls_of_one_layer_with_equal_weights_share_a_module():
    gm = _traced(copy_weights=True)
    x = torch.randn(2, 3)
    expected = gm(x)
    assert share(gm, {"first": "dense (Dense)", "second": "dense (Dense)"}) == 1
    assert _targets(gm) == ["first", "first"]
    assert not hasattr(gm, "second")
    assert sum(p.numel() for p in gm.parameters()) == 12
    torch.testing.assert_close(gm(x), expected, rtol=0, atol=0)


def test_modules_of_two_layers_stay_apart_even_with_equal_weights():
    gm = _traced(copy_weights=True)
    assert share(gm, {"first": "a (Dense)", "second": "b (Dense)"}) == 0
    assert _targets(gm) == ["first", "second"]


def test_calls_of_one_layer_with_different_weights_stay_apart():
    """Parameter counts then differ from Keras', which the torch stage reports."""
    gm = _traced(copy_weights=False)
    assert share(gm, {"first": "dense (Dense)", "second": "dense (Dense)"}) == 0
    assert _targets(gm) == ["first", "second"]
