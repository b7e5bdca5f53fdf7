"""Activations in place only where nothing else reads their input and its maker's backward
does not need its own output (pipeline/torch_stage/inplace.py)."""

from __future__ import annotations

import torch
from pipeline.torch_stage import inplace
from pipeline.torch_stage.printing import Written
from torch import fx, nn

OUT_OF_PLACE = Written("expr", "torch.relu({0})")


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.after_conv = nn.Conv2d(2, 2, 1), nn.ReLU()
        self.read_twice = nn.ReLU()
        self.sig, self.after_sigmoid = nn.Sigmoid(), nn.ReLU()
        self.on_input = nn.ReLU()
        self.after_sum = nn.ReLU6()

    def forward(self, x):
        y = self.after_conv(self.conv(x))  # in place
        z = self.read_twice(y) + y  # y is read twice: not in place
        w = self.after_sigmoid(self.sig(z))  # sigmoid's backward reads its output: no
        v = self.after_sum(w + z)  # a sum: in place
        return self.on_input(x) + v  # a graph input: no


def test_only_the_safe_activations_are_written_in_place():
    gm = fx.symbolic_trace(_Net())
    names = ("after_conv", "read_twice", "after_sigmoid", "on_input", "after_sum")
    written = inplace.activations(gm, dict.fromkeys(names, OUT_OF_PLACE))
    assert written["after_conv"].text == "torch.relu_({0})"
    assert written["after_sum"].text == "nn.functional.relu6({0}, inplace=True)"
    for name in ("read_twice", "after_sigmoid", "on_input"):
        assert written[name] is OUT_OF_PLACE, name


def test_a_shared_activation_goes_in_place_only_if_every_call_may():
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.relu = nn.Conv2d(2, 2, 1), nn.ReLU()

        def forward(self, x):
            return self.relu(self.conv(x)), self.relu(torch.sigmoid(x))  # the second: no

    gm = fx.symbolic_trace(Shared())
    assert inplace.activations(gm, {"relu": OUT_OF_PLACE})["relu"] is OUT_OF_PLACE


def test_after_a_lowered_sum_module_it_goes_in_place():
    """The emitter's residual add is a module written ``{0} + {1}`` (lowering/elementwise)."""

    class Add(nn.Module):
        def forward(self, a, b):
            return a + b

    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.add, self.out = nn.Conv2d(2, 2, 1), Add(), nn.ReLU()

        def forward(self, x):
            return self.out(self.add(self.conv(x), x))

    class Leaves(fx.Tracer):  # Add stays a module call, as in the emitter's lowered graph
        def is_leaf_module(self, module, name) -> bool:
            return isinstance(module, Add) or super().is_leaf_module(module, name)

    root = Residual()
    gm = fx.GraphModule(root, Leaves().trace(root))
    written = {"add": Written("expr", "{0} + {1}", operator=True), "out": OUT_OF_PLACE}
    assert inplace.activations(gm, written)["out"].text == "torch.relu_({0})"
    written["add"] = Written("expr", "{0} * {1}", operator=True)  # a product keeps its inputs
    assert inplace.activations(gm, written)["out"] is OUT_OF_PLACE
