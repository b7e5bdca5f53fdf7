"""Keras' ConvLSTM1D/ConvLSTM2D in ``model.py``: a small module class written into the file
when a layer uses it (``definitions``) and built from the very same text here, so the module
the torch stage converts to is the class ``model.py`` defines, as the mask helpers are.

``KerasConvLSTM2d`` holds the layer's two convolutions as ``nn.Conv2d`` (``input_conv``:
Keras' kernel and bias, all four gates stacked in Keras' order i, f, c, o; ``recurrent_conv``:
its recurrent kernel, "same", no bias) and runs Keras' ``ConvLSTMCell`` over time from zero
states. ``KerasConvLSTM1d`` is the same over ``nn.Conv1d``."""

from __future__ import annotations

import torch
from torch import nn

CLASSES = '''

class KerasConvLSTM2d(nn.Module):
    """Keras' ConvLSTM2D over channels-first frames (N, T, C, H, W): the input convolution of
    every step at once, then per step the recurrent one, the gates (i, f, c, o as Keras
    stacks them) and the new states; returns every step's h (N, T, F, H', W') or the last."""

    conv = nn.Conv2d

    def __init__(
        self,
        in_channels: int,
        filters: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        return_sequences: bool = False,
    ) -> None:
        super().__init__()
        gates = 4 * filters  # i, f, c, o stacked, as Keras stacks them
        self.input_conv = self.conv(in_channels, gates, kernel_size, stride, padding, dilation)
        self.recurrent_conv = self.conv(filters, gates, kernel_size, padding="same", bias=False)
        self.return_sequences = return_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.input_conv(x.flatten(0, 1)).unflatten(0, x.shape[:2])
        h = z.new_zeros(z.shape[0], self.recurrent_conv.in_channels, *z.shape[3:])
        c = torch.zeros_like(h)
        steps = []
        for t in range(z.shape[1]):
            i, f, g, o = (z[:, t] + self.recurrent_conv(h)).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            steps.append(h)
        return torch.stack(steps, dim=1) if self.return_sequences else h


class KerasConvLSTM1d(KerasConvLSTM2d):
    """Keras' ConvLSTM1D over (N, T, C, L): the same over nn.Conv1d."""

    conv = nn.Conv1d
'''

NAMES = ("KerasConvLSTM2d", "KerasConvLSTM1d")
_NAMESPACE = {"torch": torch, "nn": nn, "__name__": __name__}
exec(CLASSES, _NAMESPACE)  # our own text: the classes as model.py defines them
KerasConvLSTM2d, KerasConvLSTM1d = (_NAMESPACE[name] for name in NAMES)
CLASSES_BY_RANK = {1: KerasConvLSTM1d, 2: KerasConvLSTM2d}  # by the convolutions' rank


def definitions(init: list[str]) -> str:
    """The classes' text if ``__init__``'s lines build one ("" if none)."""
    return CLASSES if any(f"{name}(" in line for line in init for name in NAMES) else ""


def constructor(module: nn.Module) -> str:
    """``KerasConvLSTM2d(2, 4, (3, 3), padding='same', return_sequences=True)``."""
    conv = module.input_conv
    args = [str(conv.in_channels), str(conv.out_channels // 4), repr(conv.kernel_size)]
    defaults = {"stride": (1,) * len(conv.stride), "dilation": (1,) * len(conv.stride)}
    for name in ("stride", "padding", "dilation"):
        value = getattr(conv, name)
        if value != defaults.get(name, (0,) * len(conv.stride)):
            args.append(f"{name}={value!r}")
    if module.return_sequences:
        args.append("return_sequences=True")
    return f"{type(module).__name__}({', '.join(args)})"
