"""The torch.fx edits every lowering makes: read a constant argument, tell a wrapper's class,
put a module in a node's place."""

from __future__ import annotations

import torch
from torch import fx, nn


def attr(gm: fx.GraphModule, target: str) -> torch.Tensor:
    owner, _, name = target.rpartition(".")
    return getattr(gm.get_submodule(owner) if owner else gm, name)


def constant(gm: fx.GraphModule, arg) -> torch.Tensor | None:
    """The tensor behind a constant (get_attr) argument, else None."""
    if isinstance(arg, fx.Node) and arg.op == "get_attr":
        return attr(gm, arg.target)
    return None


def scalar(gm: fx.GraphModule, arg) -> float | None:
    """The value of a one-element constant argument, else None."""
    value = constant(gm, arg)
    return float(value.reshape(())) if value is not None and value.numel() == 1 else None


def module_of(gm: fx.GraphModule, node) -> nn.Module | None:
    if not isinstance(node, fx.Node) or node.op != "call_module":
        return None
    return gm.get_submodule(node.target)


def is_a(gm: fx.GraphModule, node, cls: type) -> bool:
    return isinstance(module_of(gm, node), cls)


def replace(gm: fx.GraphModule, node: fx.Node, module: nn.Module, args: tuple) -> None:
    """``node`` now calls ``module`` (under the same name) on ``args``; constants no one reads
    any more go."""
    old = node.args
    gm.delete_submodule(node.target)
    gm.add_submodule(node.target, module)
    node.args = args
    for arg in old:
        if isinstance(arg, fx.Node) and arg.op == "get_attr" and not arg.users:
            gm.graph.erase_node(arg)


def finish(gm: fx.GraphModule, count: int) -> int:
    """After a lowering that changed ``count`` nodes: drop the dead nodes and the modules no
    node calls any more, check, recompile."""
    if count:
        gm.graph.eliminate_dead_code()
        gm.delete_all_unused_submodules()
        gm.graph.lint()
        gm.recompile()
    return count
