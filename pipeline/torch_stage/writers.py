"""How each torch module onnx2torch produces is written as PyTorch source.

A module is written either as an attribute built by a ``torch.nn`` constructor with only its
non-default arguments (``nn.Conv2d(1, 6, kernel_size=5, padding=2)``), or, when it has no
parameters and a plain expression says it better, as that expression in ``forward``
(``torch.relu(x)``, ``x + y``). onnx2torch's own wrapper classes that compute a plain torch
operation are written as that operation (``natives.NATIVES``); any other wrapper has no writer, and
the emitter reports it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from torch import nn

from pipeline.torch_stage import attention, channel_norm, recurrent
from pipeline.torch_stage.natives import NATIVES
from pipeline.torch_stage.written import Consts, Written, literal

_CONV_ARGS = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "bias",
    "padding_mode",
)

# torch.nn class -> its constructor arguments read back from an instance, in order; the
# first ``positional`` are written positionally (as the PyTorch docs do).
CONSTRUCTORS: dict[type[nn.Module], tuple[tuple[str, ...], int]] = {
    nn.Conv1d: (_CONV_ARGS, 2),
    nn.Conv2d: (_CONV_ARGS, 2),
    nn.ConvTranspose2d: (
        (
            "in_channels",
            "out_channels",
            "kernel_size",
            "stride",
            "padding",
            "output_padding",
            "groups",
            "bias",
            "dilation",
            "padding_mode",
        ),
        2,
    ),
    nn.Linear: (("in_features", "out_features", "bias"), 2),
    nn.MaxPool1d: (("kernel_size", "stride", "padding", "dilation", "ceil_mode"), 1),
    nn.MaxPool2d: (("kernel_size", "stride", "padding", "dilation", "ceil_mode"), 1),
    nn.AvgPool1d: (("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"), 1),
    nn.AvgPool2d: (("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"), 1),
    nn.BatchNorm2d: (("num_features", "eps", "momentum", "affine", "track_running_stats"), 1),
    nn.Flatten: (("start_dim", "end_dim"), 0),
    nn.Dropout: (("p",), 0),
    nn.Identity: ((), 0),
    nn.Embedding: (("num_embeddings", "embedding_dim", "padding_idx", "max_norm"), 2),
    nn.PReLU: (("num_parameters",), 1),
    nn.LayerNorm: (("normalized_shape", "eps", "elementwise_affine", "bias"), 1),
    nn.AdaptiveAvgPool2d: (("output_size",), 1),
    nn.AdaptiveMaxPool2d: (("output_size",), 1),
}

# Parameterless torch.nn modules, written as torch expressions (a careful human's torch.relu).
EXPRESSIONS: dict[type[nn.Module], Callable[[nn.Module], str]] = {
    nn.ReLU: lambda m: "torch.relu({0})",
    nn.ReLU6: lambda m: "nn.functional.relu6({0})",
    nn.Sigmoid: lambda m: "torch.sigmoid({0})",
    nn.Tanh: lambda m: "torch.tanh({0})",
    nn.Softmax: lambda m: f"torch.softmax({{0}}, dim={m.dim})",
    nn.LeakyReLU: lambda m: f"nn.functional.leaky_relu({{0}}, {literal(m.negative_slope)})",
    nn.ELU: lambda m: (
        "nn.functional.elu({0})"
        if m.alpha == 1.0
        else f"nn.functional.elu({{0}}, alpha={literal(m.alpha)})"
    ),
    nn.SELU: lambda m: "torch.selu({0})",
    nn.Softplus: lambda m: "nn.functional.softplus({0})",
    nn.Hardswish: lambda m: "nn.functional.hardswish({0})",
    nn.Hardsigmoid: lambda m: "nn.functional.hardsigmoid({0})",
}


def constructor(module: nn.Module) -> str | None:
    """``nn.Conv2d(1, 6, kernel_size=5, padding=2)``; None if there is no native form."""
    if type(module) is nn.Sequential:
        parts = [write(m, ()) for m in module]
        if any(p is None or p.kind != "module" for p in parts):
            return None
        return "nn.Sequential(" + ", ".join(p.text for p in parts) + ")"
    if type(module) not in CONSTRUCTORS:
        return None
    names, positional = CONSTRUCTORS[type(module)]
    params = inspect.signature(type(module).__init__).parameters
    args = []
    for index, name in enumerate(names):
        value = module.bias is not None if name == "bias" else getattr(module, name)
        default = params[name].default if name in params else inspect.Parameter.empty
        if index < positional:
            args.append(literal(value))
        elif name == "stride" and default is None and literal(value) == literal(module.kernel_size):
            continue  # pooling's default stride is the kernel size
        elif name == "count_include_pad" and literal(module.padding) == "0":
            continue  # without padding it changes nothing
        elif default is inspect.Parameter.empty or literal(value) != literal(default):
            args.append(f"{name}={literal(value)}")
    return f"nn.{type(module).__name__}({', '.join(args)})"


def write(module: nn.Module, consts: Consts) -> Written | None:
    """How to write ``module`` given which of its inputs are constants; None if this
    pipeline has no native form for it."""
    if type(module) in EXPRESSIONS:
        return Written("expr", EXPRESSIONS[type(module)](module))
    if isinstance(module, recurrent.KerasOutput):
        text, lines = recurrent.write(module)
        return Written("module", text, lines=lines)
    if isinstance(module, attention.KerasMultiHeadAttention):
        text, lines = attention.write(module)
        return Written("module", text, lines=lines)
    if isinstance(module, channel_norm.KerasChannelLayerNorm):
        text, lines = channel_norm.write(module)
        return Written("module", text, lines=lines)
    text = constructor(module)
    if text is not None:
        return Written("module", text)
    native = NATIVES.get(type(module).__name__)
    return native(module, consts) if native else None
