"""Lowering: every onnx2torch wrapper in the GraphModule becomes a ``torch.nn`` module or a
plain torch expression (``templates.Expression``/``Statements``), which the printer writes.
This is the one place that decides a node's torch form after conversion: ``LOWERINGS`` is
the ordered list of rewrites, each ``(gm) -> how many nodes it changed``. What still has no
writing afterwards is unsupported (the emitter names it).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import fx, nn

from pipeline.torch_stage.lowering import (
    constant_modules,
    elementwise,
    fusions,
    spatial,
    tensors,
)
from pipeline.torch_stage.lowering.graph import attr, finish, replace

# onnx2torch wrapper class -> (its module or expression, how many leading inputs it takes; the
# rest, constants such as a Slice's bounds, are folded into it) or None if it has no form
WRAPPERS: dict[type, Callable] = {
    **elementwise.LOWERINGS,
    **tensors.LOWERINGS,
    **spatial.LOWERINGS,
}


def _consts(gm: fx.GraphModule, node: fx.Node) -> list:
    return [
        attr(gm, a.target) if isinstance(a, fx.Node) and a.op == "get_attr" else None
        for a in node.args
    ]


def wrappers(gm: fx.GraphModule) -> int:
    """Each remaining wrapper with a plain form, by its class (``WRAPPERS``); also the
    wrappers nested in an ``nn.Sequential`` (onnx2torch's pad + conv), which take no
    constant inputs."""
    lowered = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_module":
            continue
        module = gm.get_submodule(node.target)
        rule = WRAPPERS.get(type(module))
        if rule is not None and (found := rule(module, _consts(gm, node))) is not None:
            new, arity = found
            replace(gm, node, new, node.args if arity is None else node.args[:arity])
            lowered += 1
        elif isinstance(module, nn.Sequential):
            lowered += _nested(module)
    return finish(gm, lowered)


def _nested(sequential: nn.Sequential) -> int:
    lowered = 0
    for index, child in enumerate(sequential):
        rule = WRAPPERS.get(type(child))
        if rule is not None and (found := rule(child, [])) is not None and found[1] is None:
            sequential[index] = found[0]
            lowered += 1
    return lowered


LOWERINGS: tuple[Callable[[fx.GraphModule], int], ...] = (
    # Patterns over several wrappers first: they match onnx2torch's classes, which the
    # single-node lowering below replaces.
    fusions.swish,  # x * sigmoid(x) -> nn.functional.silu(x)
    fusions.gelu,  # the erf formula -> nn.functional.gelu(x)
    # Ops on a constant weight that are a torch.nn module with that weight as parameter.
    constant_modules.embeddings,  # Gather from a table -> nn.Embedding
    constant_modules.prelus,  # PRelu, one alpha per channel -> nn.PReLU
    constant_modules.linears,  # MatMul [+ Add] by constants -> nn.Linear
    # Every other wrapper, one node at a time, by its class.
    wrappers,
)


def lower(gm: fx.GraphModule) -> dict[str, int]:
    """Run ``LOWERINGS`` in order (in place); how many nodes each changed."""
    return {rule.__name__: rule(gm) for rule in LOWERINGS}
