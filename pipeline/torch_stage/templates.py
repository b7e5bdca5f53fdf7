"""Modules whose behaviour *is* their source text: what ``model.py`` says is what runs.

Lowering turns every onnx2torch wrapper into a ``torch.nn`` module or one of these two; the
printer writes their text into ``model.py``, and their ``forward`` compiles the very same
text, so a lowered GraphModule computes exactly what the emitted module will (tested).

- ``Expression(text)``: a plain torch expression over the node's inputs, ``{0}``, ``{1}``, ...
  or ``{*}`` for all of them: ``"{0} + {1}"``, ``"torch.cat([{*}], dim=1)"``,
  ``"{0}[:, :, 1:]"``. Written inline in ``forward``. ``operator`` marks ``+ - * /``
  (integer scalars read only by them are written as literals).
- ``Statements(inner, lines)``: a ``torch.nn`` module (``inner``) called by ``forward``
  statements over ``{self}`` (the module), ``{0}``, ... (the inputs) and ``{out}`` (the result):
  ``("{out}, _ = {self}({0})", "{out} = {out}[:, -1]")``. Written as ``self.<name> =`` the
  inner module's constructor, and the statements.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from pipeline.torch_stage import masking

_NAMESPACE = {"torch": torch, "nn": nn}
for _helper in masking.HELPERS.values():  # our own text: model.py's mask helpers, as written
    exec(_helper, _NAMESPACE)


def fill(text: str, args: Sequence[str]) -> str:
    """``text`` with ``{*}`` and ``{0}``, ``{1}``, ... replaced by ``args``."""
    return text.replace("{*}", ", ".join(args)).format(*args)


class Expression(nn.Module):
    def __init__(self, text: str, operator: bool = False) -> None:
        super().__init__()
        self.text, self.operator = text, operator
        self._compiled: dict[int, Callable] = {}

    def forward(self, *args):  # noqa: D102
        if len(args) not in self._compiled:
            names = [f"_a{i}" for i in range(len(args))]
            source = f"lambda {', '.join(names)}: {fill(self.text, names)}"
            self._compiled[len(args)] = eval(source, dict(_NAMESPACE))  # our own text
        return self._compiled[len(args)](*args)

    def extra_repr(self) -> str:
        return repr(self.text)


class Statements(nn.Module):
    def __init__(self, inner: nn.Module, lines: Sequence[str]) -> None:
        super().__init__()
        self.inner, self.lines = inner, tuple(lines)
        self._compiled: dict[int, Callable] = {}

    def forward(self, *args):  # noqa: D102
        if len(args) not in self._compiled:
            names = [f"_a{i}" for i in range(len(args))]
            body = [line.format(*names, self="_self", out="_out") for line in self.lines]
            source = "\n    ".join([f"def run(_self, {', '.join(names)}):", *body, "return _out"])
            namespace = dict(_NAMESPACE)
            exec(source, namespace)  # our own text
            self._compiled[len(args)] = namespace["run"]
        return self._compiled[len(args)](self.inner, *args)


def literal(value) -> str:
    """A value as source text: ``(5, 5)`` -> ``5``, ``0.0010000000474974513`` -> ``0.001``."""
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
