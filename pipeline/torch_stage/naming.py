"""Step 2 of the emitter, name: what stands for each value in ``model.py``.

Constants become parameters (Keras weights) or buffers named after their first user
(``fc1_weight``, ``normalization_const``), one-element constants literals (``0.5``), and each
value a variable: ``x``, ``y``, ``z`` as a careful human uses them, the running value ``x``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import fx

from pipeline.torch_stage.lowering.graph import attr
from pipeline.torch_stage.printing import Written
from pipeline.torch_stage.templates import literal

POOL = ("x", "y", "z")  # the names a careful human uses for the running values


@dataclass(frozen=True)
class Naming:
    constants: dict[fx.Node, str]  # get_attr node -> attribute name
    weights: set[fx.Node]  # the constants that are Keras weights (nn.Parameter)
    values: dict[fx.Node, str]  # every node -> the text that stands for its value


def name_values(
    gm: fx.GraphModule, written: Mapping[str, Written], weights: set[fx.Node]
) -> Naming:
    scalars = _scalars(gm, written, weights)
    constants = _constants(gm, set(scalars), weights)
    values = _var_names(gm, {**constants, **scalars})
    values.update(scalars)
    return Naming(constants, weights, values)


def _scalars(
    gm: fx.GraphModule, written: Mapping[str, Written], weights: set[fx.Node]
) -> dict[fx.Node, str]:
    """One-element constants written inline as literals: floats (gelu's 0.044715, hard_swish's
    3 and 1/6) and integers read only by arithmetic (``positions - 1``); a wrong broadcast
    rank would show as a shape mismatch in the check."""
    scalars = {}
    for node in gm.graph.nodes:
        if node.op != "get_attr" or node in weights:
            continue
        tensor = attr(gm, node.target)
        if tensor.numel() != 1:
            continue
        if tensor.is_floating_point():
            scalars[node] = literal(float(tensor.reshape(())))
        elif tensor.dtype in (torch.int32, torch.int64) and all(
            user.op == "call_module" and written[user.target].operator for user in node.users
        ):
            scalars[node] = str(int(tensor.reshape(())))
    return scalars


def _constants(gm: fx.GraphModule, skip: set[fx.Node], weights) -> dict[fx.Node, str]:
    """Other tensors the graph reads: Keras weights as parameters named ``<first user>_weight``,
    constants as buffers named ``<first user>_const``."""
    names: dict[fx.Node, str] = {}
    for node in gm.graph.nodes:
        if node.op == "get_attr" and node not in skip:
            user = next(iter(node.users)).target
            kind = "weight" if node in weights else "const"
            base = f"{user}_{kind}" if isinstance(user, str) else f"{node.name}_{kind}"
            unique, k = base, 1
            while unique in names.values():
                k += 1
                unique = f"{base}{k}"
            names[node] = unique
    return names


def _var_names(gm: fx.GraphModule, constants: Mapping[fx.Node, str]) -> dict[fx.Node, str]:
    """A value continues its first input's variable when that input dies here (a chain);
    else it takes the first free name of ``POOL``; else its node's name."""
    order = [n for n in gm.graph.nodes if n.op != "get_attr"]
    position = {n: i for i, n in enumerate(order)}
    last_use = {n: max((position[u] for u in n.users), default=-1) for n in order}
    names: dict[fx.Node, str] = {n: f"self.{name}" for n, name in constants.items()}
    holders: dict[str, fx.Node] = {}
    for index, node in enumerate(order):
        if node.op == "placeholder":
            names[node] = node.target
            holders[node.target] = node  # an input named x keeps x while it is needed
            continue
        if node.op == "output":
            continue
        free = {name for name, held in holders.items() if last_use[held] <= index}
        first = next((a for a in node.args if isinstance(a, fx.Node) and a in names), None)
        if first is not None and first.op != "placeholder" and names[first] in free:
            name = names[first]
        else:
            name = next((n for n in POOL if n not in holders or n in free), node.name)
        names[node] = name
        holders[name] = node
    return names
