"""The layers Keras freezes (``trainable=False``; stage 1 lists them in the metadata, with
their parameter count, which the check holds the module to): their modules get
``requires_grad_(False)`` at the end of ``__init__``, and a frozen BatchNorm stays in eval
mode while the model trains, as Keras runs it (``source``'s ``train`` override)."""

from __future__ import annotations

import dataclasses

from torch import fx, nn


def weight_layers(gm: fx.GraphModule, info) -> dict[fx.Node, str]:
    """Each constant input -> the Keras layer of the first module that reads it (before
    lowering, while every ONNX node is still a module)."""
    layers = {}
    for node in gm.graph.nodes:
        if node.op == "call_module" and node.target in info:
            for arg in node.args:
                if isinstance(arg, fx.Node) and arg.op == "get_attr":
                    layers.setdefault(arg, info[node.target].layer)
    return layers


def freeze(emitted, gm: fx.GraphModule, info, frozen: frozenset[str], weights=None):
    """``self.<module>.requires_grad_(False)`` after ``__init__``'s modules, for each module
    of a frozen Keras layer, and for each Keras weight ``forward`` reads bare, not through a
    module (``weights``: its attribute -> its layer), of a frozen layer (a fixed position
    table)."""
    weights = {a: layer for a, layer in (weights or {}).items() if _name(layer) in frozen}
    modules = list(
        dict.fromkeys(  # in forward's order
            node.target
            for node in gm.graph.nodes
            if node.op == "call_module"
            and node.target in info
            and _name(info[node.target].layer) in frozen
            and any(True for _ in gm.get_submodule(node.target).parameters())
        )
    )
    lines = [f"self.{m}.requires_grad_(False)  # {info[m].layer}: frozen" for m in modules]
    lines += [f"self.{a}.requires_grad_(False)  # {layer}: frozen" for a, layer in weights.items()]
    norms = [m for m in modules if isinstance(gm.get_submodule(m), nn.modules.batchnorm._BatchNorm)]
    return dataclasses.replace(
        emitted, init=emitted.init + lines, frozen=modules, frozen_batchnorm=norms
    )


def _name(layer: str) -> str:
    """The Keras layer's name in ``"fc1 (Dense)"``."""
    return layer.rsplit(" (", 1)[0]
