"""Sequence modules whose constructor the generic table cannot read back (``nn.LSTM``'s
``__init__`` takes ``*args``): ``nn.LSTM(3, 4, batch_first=True, bidirectional=True)``,
``nn.MultiheadAttention(16, 2, batch_first=True)``; and ``nn.Upsample`` with its mode."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from pipeline.torch_stage.templates import literal


def _recurrent(module: nn.RNNBase) -> str:
    args = [str(module.input_size), str(module.hidden_size), "batch_first=True"]
    if not module.bias:
        args.append("bias=False")
    if module.bidirectional:
        args.append("bidirectional=True")
    if isinstance(module, nn.RNN) and module.nonlinearity != "tanh":
        args.append(f"nonlinearity={module.nonlinearity!r}")
    return f"nn.{type(module).__name__}({', '.join(args)})"


def _attention(module: nn.MultiheadAttention) -> str:
    args = [str(module.embed_dim), str(module.num_heads)]
    if not module._qkv_same_embed_dim:
        args += [f"kdim={module.kdim}", f"vdim={module.vdim}"]
    args.append("batch_first=True")
    return f"nn.MultiheadAttention({', '.join(args)})"


def _upsample(module: nn.Upsample) -> str:
    if module.size is not None:
        return f"nn.Upsample(size={literal(tuple(module.size))}, mode={module.mode!r})"
    factors = tuple(int(f) if float(f).is_integer() else f for f in module.scale_factor)
    recompute = ", recompute_scale_factor=True" if module.recompute_scale_factor else ""
    return f"nn.Upsample(scale_factor={literal(factors)}, mode={module.mode!r}{recompute})"


CONSTRUCTORS: dict[type[nn.Module], Callable[[nn.Module], str]] = {
    nn.LSTM: _recurrent,
    nn.GRU: _recurrent,
    nn.RNN: _recurrent,
    nn.MultiheadAttention: _attention,
    nn.Upsample: _upsample,
}
