"""The layers Keras freezes (``trainable=False``; stage 1 lists them in the metadata, with
their parameter count, which the check holds the module to): their modules get
``requires_grad_(False)`` at the end of ``__init__``, and a frozen BatchNorm stays in eval
mode while the model trains, as Keras runs it (``source``'s ``train`` override)."""

from __future__ import annotations

import dataclasses

from torch import fx, nn


def freeze(emitted, gm: fx.GraphModule, info, frozen: frozenset[str]):
    """``self.<module>.requires_grad_(False)`` after ``__init__``'s modules, for each module
    of a frozen Keras layer."""
    modules = list(
        dict.fromkeys(  # in forward's order
            node.target
            for node in gm.graph.nodes
            if node.op == "call_module"
            and node.target in info
            and info[node.target].layer.rsplit(" (", 1)[0] in frozen
            and any(True for _ in gm.get_submodule(node.target).parameters())
        )
    )
    lines = [f"self.{m}.requires_grad_(False)  # {info[m].layer}: frozen" for m in modules]
    norms = [m for m in modules if isinstance(gm.get_submodule(m), nn.modules.batchnorm._BatchNorm)]
    return dataclasses.replace(
        emitted, init=emitted.init + lines, frozen=modules, frozen_batchnorm=norms
    )
