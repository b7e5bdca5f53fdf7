"""Parameterless ``torch.nn`` activations, written as the torch expression a careful human
uses: ``torch.relu(x)``, ``nn.functional.leaky_relu(x, 0.2)``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from pipeline.torch_stage.templates import literal

EXPRESSIONS: dict[type[nn.Module], Callable[[nn.Module], str]] = {
    nn.ReLU: lambda m: "torch.relu({0})",
    nn.ReLU6: lambda m: "nn.functional.relu6({0})",
    nn.Sigmoid: lambda m: "torch.sigmoid({0})",
    nn.Tanh: lambda m: "torch.tanh({0})",
    nn.Softmax: lambda m: f"torch.softmax({{0}}, dim={m.dim})",
    nn.LogSoftmax: lambda m: f"torch.log_softmax({{0}}, dim={m.dim})",
    nn.LeakyReLU: lambda m: f"nn.functional.leaky_relu({{0}}, {literal(m.negative_slope)})",
    nn.ELU: lambda m: (
        "nn.functional.elu({0})"
        if m.alpha == 1.0
        else f"nn.functional.elu({{0}}, alpha={literal(m.alpha)})"
    ),
    nn.SELU: lambda m: "torch.selu({0})",
    nn.Softplus: lambda m: "nn.functional.softplus({0})",
    nn.Softsign: lambda m: "nn.functional.softsign({0})",
    nn.Hardswish: lambda m: "nn.functional.hardswish({0})",
    nn.Hardsigmoid: lambda m: "nn.functional.hardsigmoid({0})",
}
