"""``torch.nn`` modules written as their constructor with only the non-default arguments:
``nn.Conv2d(1, 6, kernel_size=5, padding=2)``, ``nn.MaxPool2d(2)``, ``nn.Linear(784, 84)``;
a BatchNorm as ``model.py``'s own subclass (``batchnorm``): ``KerasBatchNorm2d(8, eps=0.001)``."""

from __future__ import annotations

import inspect

from torch import nn

from pipeline.torch_stage.batchnorm import KERAS_CLASSES
from pipeline.torch_stage.templates import literal

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
_CONV_TRANSPOSE_ARGS = (
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
)
_BATCH_NORM = ("num_features", "eps", "momentum", "affine", "track_running_stats")
_POOL_MAX = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
_POOL_AVG = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")

# torch.nn class -> its constructor arguments read back from an instance, in order; the
# first ``positional`` are written positionally (as the PyTorch docs do).
CONSTRUCTORS: dict[type[nn.Module], tuple[tuple[str, ...], int]] = {
    nn.Conv1d: (_CONV_ARGS, 2),
    nn.Conv2d: (_CONV_ARGS, 2),
    nn.Conv3d: (_CONV_ARGS, 2),
    nn.ConvTranspose2d: (_CONV_TRANSPOSE_ARGS, 2),
    nn.Linear: (("in_features", "out_features", "bias"), 2),
    nn.MaxPool1d: (_POOL_MAX, 1),
    nn.MaxPool2d: (_POOL_MAX, 1),
    nn.MaxPool3d: (_POOL_MAX, 1),
    nn.AvgPool1d: (_POOL_AVG, 1),
    nn.AvgPool2d: (_POOL_AVG, 1),
    nn.AvgPool3d: (_POOL_AVG, 1),
    nn.BatchNorm1d: (_BATCH_NORM, 1),
    nn.BatchNorm2d: (_BATCH_NORM, 1),
    nn.Flatten: (("start_dim", "end_dim"), 0),
    nn.Dropout: (("p",), 0),
    nn.Dropout1d: (("p",), 0),
    nn.Dropout2d: (("p",), 0),
    nn.Dropout3d: (("p",), 0),
    nn.Identity: ((), 0),
    nn.Embedding: (("num_embeddings", "embedding_dim", "padding_idx", "max_norm"), 2),
    nn.PReLU: (("num_parameters",), 1),
    nn.LayerNorm: (("normalized_shape", "eps", "elementwise_affine", "bias"), 1),
    nn.GroupNorm: (("num_groups", "num_channels", "eps", "affine"), 2),
    nn.AdaptiveAvgPool1d: (("output_size",), 1),
    nn.AdaptiveAvgPool2d: (("output_size",), 1),
    nn.AdaptiveAvgPool3d: (("output_size",), 1),
    nn.AdaptiveMaxPool1d: (("output_size",), 1),
    nn.AdaptiveMaxPool2d: (("output_size",), 1),
    nn.ZeroPad1d: (("padding",), 1),
    nn.ZeroPad2d: (("padding",), 1),
    nn.ZeroPad3d: (("padding",), 1),
    nn.ConstantPad1d: (("padding", "value"), 2),
    nn.ConstantPad2d: (("padding", "value"), 2),
    nn.ConstantPad3d: (("padding", "value"), 2),
}


def _argument(module: nn.Module, name: str, default) -> str | None:
    """``name=value`` unless it is the default (None: leave it out)."""
    value = module.bias is not None if name == "bias" else getattr(module, name)
    if name == "stride" and default is None and literal(value) == literal(module.kernel_size):
        return None  # pooling's default stride is the kernel size
    if name == "count_include_pad" and literal(module.padding) == "0":
        return None  # without padding it changes nothing
    if default is inspect.Parameter.empty or literal(value) != literal(default):
        return f"{name}={literal(value)}"
    return None


def constructor(module: nn.Module) -> str | None:
    """``nn.Conv2d(1, 6, kernel_size=5, padding=2)``; None if there is no native form."""
    if type(module) not in CONSTRUCTORS:
        return None
    names, positional = CONSTRUCTORS[type(module)]
    params = inspect.signature(type(module).__init__).parameters
    args = []
    for index, name in enumerate(names):
        if index < positional:
            value = getattr(module, name)
            if name == "normalized_shape" and len(value) > 1:  # a shape: never collapsed
                args.append(repr(tuple(value)))
            else:
                args.append(literal(value))
            continue
        default = params[name].default if name in params else inspect.Parameter.empty
        if (text := _argument(module, name, default)) is not None:
            args.append(text)
    name = KERAS_CLASSES.get(type(module), f"nn.{type(module).__name__}")  # model.py's own
    return f"{name}({', '.join(args)})"
