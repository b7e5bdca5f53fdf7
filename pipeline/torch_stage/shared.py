"""A Keras layer called more than once (a siamese encoder, a shared nested model) is one
torch module called at each site, as in Keras: its weights are one set of parameters,
trained together.

onnx2torch makes one module per ONNX node, so each call of a shared layer gets its own copy
of the weights. Two modules become one when their nodes come from the same Keras layer
(their provenance) and they are the same module: same class, same constructor text, the
same state bit for bit. Calls the passes left different (one call's Dense kernel permuted
after a Flatten, the other's not) stay apart, and the parameter count check then names the
difference (Keras counts the layer once)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import fx, nn

from pipeline.torch_stage.lowering.graph import finish


def _same(a: nn.Module, b: nn.Module) -> bool:
    if type(a) is not type(b) or repr(a) != repr(b):
        return False
    left, right = a.state_dict(), b.state_dict()
    return left.keys() == right.keys() and all(
        left[k].shape == right[k].shape and torch.equal(left[k], right[k]) for k in left
    )


def share(gm: fx.GraphModule, layers: Mapping[str, str]) -> int:
    """Each call of a shared Keras layer calls its first call's module (``layers``: module
    name -> its Keras layer, "" for none); how many calls now share a module."""
    first: dict[str, list[str]] = {}  # Keras layer -> the module names kept for it
    shared = 0
    for node in gm.graph.nodes:
        if node.op != "call_module" or not layers.get(node.target):
            continue
        module = gm.get_submodule(node.target)
        kept = first.setdefault(layers[node.target], [])
        match = next((t for t in kept if _same(gm.get_submodule(t), module)), None)
        if match is None:
            kept.append(node.target)
        else:
            node.target = match
            shared += 1
    return finish(gm, shared)
