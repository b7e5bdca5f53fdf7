"""How each module of a lowered GraphModule is written in ``model.py``: one registry keyed
by module type, filled from one file per op family.

After lowering (``pipeline.torch_stage.lowering``) a GraphModule holds only

- ``torch.nn`` modules: written as an attribute built by their constructor
  (``constructors``, ``sequence``) or, for parameterless activations, as an expression in
  ``forward`` (``activations``);
- ``templates.Expression``: its text, inline in ``forward``;
- ``templates.Statements``: its inner module's constructor, and its statements.

A module with no writing has no native form: the emitter reports it, naming the node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from pipeline.torch_stage import conv_lstm
from pipeline.torch_stage.conv_lstm import KerasConvLSTM1d, KerasConvLSTM2d
from pipeline.torch_stage.printing import activations, constructors, sequence
from pipeline.torch_stage.templates import Expression, Statements

CONV_LSTMS = (KerasConvLSTM1d, KerasConvLSTM2d)  # model.py's own classes

__all__ = ["WRITERS", "Written", "constructor", "write"]


@dataclass(frozen=True)
class Written:
    """``kind`` "module": ``text`` is a constructor, called with the inputs, or by ``lines``
    (statements over ``{self}``, ``{0}``, ``{out}``); "expr": ``text`` is an expression
    over the inputs (``{0}``, ``{1}``, or ``{*}`` for all of them)."""

    kind: str
    text: str
    lines: tuple[str, ...] = ()
    operator: bool = False  # an expr of + - * / (integer scalars it reads become literals)


def _generic(module: nn.Module) -> Written | None:
    text = constructors.constructor(module)
    return None if text is None else Written("module", text)


def _sequential(module: nn.Sequential) -> Written | None:
    parts = [constructor(m) for m in module]
    return None if None in parts else Written("module", f"nn.Sequential({', '.join(parts)})")


WRITERS: dict[type[nn.Module], Callable[[nn.Module], Written | None]] = {
    nn.Sequential: _sequential,
    **{cls: _generic for cls in constructors.CONSTRUCTORS},
    **{cls: (lambda m, f=f: Written("module", f(m))) for cls, f in sequence.CONSTRUCTORS.items()},
    **{cls: (lambda m, f=f: Written("expr", f(m))) for cls, f in activations.EXPRESSIONS.items()},
    Expression: lambda m: Written("expr", m.text, operator=m.operator),
    **{cls: (lambda m: Written("module", conv_lstm.constructor(m))) for cls in CONV_LSTMS},
}


def constructor(module: nn.Module) -> str | None:
    """The constructor text of a ``torch.nn`` module, or None."""
    written = write(module)
    return written.text if written is not None and written.kind == "module" else None


def write(module: nn.Module) -> Written | None:
    """How ``module`` is written; None if it has no native form."""
    if isinstance(module, Statements):
        inner = constructor(module.inner)
        return None if inner is None else Written("module", inner, lines=module.lines)
    writer = WRITERS.get(type(module))
    return writer(module) if writer is not None else None
