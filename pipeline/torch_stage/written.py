"""What a writing is: the shared vocabulary of ``writers`` and ``natives``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Written:
    """``kind`` "module": ``text`` is a constructor; "expr": a format string over the args
    (``{0}``, ``{1}``, or ``{*}`` for all of them, comma-separated).
    ``arity``: how many leading inputs the writing takes (the rest, constants such as a
    Slice's bounds, are folded into ``text``); None for all."""

    kind: str
    text: str
    arity: int | None = None
    lines: tuple[str, ...] = ()  # "module": forward statements over {self}, {0}, {out}


Consts = Sequence["torch.Tensor | None"]  # per input: its value if constant, else None


def literal(value) -> str:
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return literal(value[0])  # kernel_size=(5, 5) -> 5
    if isinstance(value, float) and not np.isfinite(value):
        return f"float('{value}')"
    if isinstance(value, float):
        # the shortest text that is the same float32: eps=0.001, not 0.0010000000474974513
        return np.format_float_positional(np.float32(value), trim="-")
    return repr(value)
