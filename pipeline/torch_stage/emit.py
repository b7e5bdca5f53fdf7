"""Write an onnx2torch GraphModule as readable PyTorch source, and the state_dict that goes
with it, in three steps:

1. **lower** (``lowering``): every onnx2torch wrapper becomes a ``torch.nn`` module or a plain
   torch expression;
2. **name**: constants become parameters (Keras weights) or buffers named after their first
   user, one-element constants literals, and each value a variable (``x``, ``y``, ``z`` as a
   careful human uses them, the running value ``x``);
3. **render**: one attribute per Keras layer in ``__init__`` and one statement per node in
   ``forward`` (``printing`` says how each module is written).

torch.fx's own ``to_folder`` pickles modules and hard-codes paths; this writes what a careful
human would. A module with no writing after lowering (an onnx2torch wrapper no lowering
handles, or a torch.nn module the printer does not know) is an UnsupportedError naming the
node and its Keras layer.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import fx

from pipeline.errors import UnsupportedError
from pipeline.torch_stage import lowering, printing
from pipeline.torch_stage.lowering.graph import attr
from pipeline.torch_stage.printing import Written
from pipeline.torch_stage.templates import Statements, fill, literal


@dataclass(frozen=True)
class NodeInfo:
    """What the ONNX node behind a module was: for comments and error messages."""

    where: str  # "node 'fc1' (Gemm) of Keras layer 'fc1' (Dense)"
    layer: str  # "fc1 (Dense)" or ""


@dataclass(frozen=True)
class Emitted:
    init: list[str]
    forward: list[str]
    state: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class Naming:
    constants: dict[fx.Node, str]  # get_attr node -> attribute name
    weights: set[fx.Node]  # the constants that are Keras weights (nn.Parameter)
    values: dict[fx.Node, str]  # every node -> the text that stands for its value


POOL = ("x", "y", "z")  # the names a careful human uses for the running values


def emit(
    gm: fx.GraphModule, info: Mapping[str, NodeInfo], weights: set[str] = frozenset()
) -> Emitted:
    """``weights``: the ONNX initializers that hold Keras weights (metadata.KERAS_WEIGHT)."""
    onnx_names = _onnx_names(gm)  # before lowering: the wrappers carry the ONNX mapping
    lowering.lower(gm)
    written = _writings(gm, info)
    keras_weights = {node for node, name in onnx_names.items() if name in weights}
    naming = name(gm, written, keras_weights)
    return render(gm, info, written, naming)


def _writings(gm: fx.GraphModule, info: Mapping[str, NodeInfo]) -> dict[str, Written]:
    """Every module's writing; the ones without are reported together, grouped by kind."""
    written, bad = {}, {}
    for node in gm.graph.nodes:
        if node.op != "call_module":
            continue
        module = gm.get_submodule(node.target)
        writing = printing.write(module)
        if writing is None:
            kind = f"{type(module).__module__}.{type(module).__name__}"
            where = info[node.target].where if node.target in info else f"'{node.target}'"
            bad.setdefault(kind, []).append(where)
        written[node.target] = writing
    if bad:
        groups = [
            f"{len(wheres)} node(s) became {kind}: {'; '.join(wheres[:3])}"
            + (f"; and {len(wheres) - 3} more" if len(wheres) > 3 else "")
            for kind, wheres in bad.items()
        ]
        raise UnsupportedError(
            "no native PyTorch form for: " + " | ".join(groups) + ". Replace the Keras layer "
            "with a supported one (README, 'Supported layers'); to support it, rewrite the ONNX "
            "in stage 2 or add a lowering in pipeline/torch_stage/lowering/."
        )
    return written


def _onnx_names(gm: fx.GraphModule) -> dict[fx.Node, str]:
    """The ONNX initializer behind each constant input (onnx2torch's ``onnx_mapping``)."""
    names = {}
    for node in gm.graph.nodes:
        module = gm.get_submodule(node.target) if node.op == "call_module" else None
        mapping = getattr(module, "onnx_mapping", None)
        for arg, name in zip(node.args, mapping.inputs if mapping else (), strict=False):
            if isinstance(arg, fx.Node) and arg.op == "get_attr":
                names[arg] = name
    return names


# 2. name --------------------------------------------------------------------------------------
def name(gm: fx.GraphModule, written: Mapping[str, Written], weights: set[fx.Node]) -> Naming:
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


# 3. render ------------------------------------------------------------------------------------
def render(
    gm: fx.GraphModule, info: Mapping[str, NodeInfo], written: Mapping[str, Written], naming: Naming
) -> Emitted:
    init = []
    for node, attribute in naming.constants.items():
        tensor = attr(gm, node.target)
        empty = f"torch.empty({list(tensor.shape)}, dtype={tensor.dtype})"
        if node in naming.weights:
            init.append(f"self.{attribute} = nn.Parameter({empty})  # a Keras weight")
        else:
            init.append(f"self.register_buffer({attribute!r}, {empty})")
    forward = []
    for node in gm.graph.nodes:
        if node.op not in ("placeholder", "get_attr"):
            init_line, lines = _statement(node, info, written, naming.values)
            init += [init_line] if init_line else []
            forward += lines
    return Emitted(init, forward, _state(gm, written, naming, init))


def _statement(node: fx.Node, info, written, values) -> tuple[str | None, list[str]]:
    """(the ``__init__`` line, the ``forward`` lines) of one node."""
    args = [values.get(a, "") if isinstance(a, fx.Node) else repr(a) for a in node.args]
    if node.op == "output":
        result = node.args[0]
        outputs = list(result) if isinstance(result, tuple | list) else [result]
        return None, ["return " + ", ".join(values[o] for o in outputs)]
    if node.op == "call_function" and node.target is operator.getitem:
        return None, [f"{values[node]} = {args[0]}[{args[1]}]"]
    if node.op != "call_module":
        raise UnsupportedError(
            f"the torch graph calls {node.op} '{node.target}', which the emitter cannot "
            "write as plain PyTorch yet; report the model"
        )
    writing, out = written[node.target], values[node]
    layer = info[node.target].layer if node.target in info else ""
    comment = f"  # {layer}" if layer else ""
    if writing.kind == "expr":
        text = fill(writing.text, args).replace(" + -", " - ")  # x + -0.5 -> x - 0.5
        return None, [f"{out} = {text}{comment}"]
    init = f"self.{node.target} = {writing.text}"
    if not writing.lines:
        return init, [f"{out} = self.{node.target}({', '.join(args)})"]
    lines = [line.format(*args, self=f"self.{node.target}", out=out) for line in writing.lines]
    return init, [lines[0] + comment, *lines[1:]]


def _state(gm: fx.GraphModule, written, naming: Naming, init) -> dict[str, torch.Tensor]:
    """The emitted module's state_dict: the modules' own (a ``Statements`` module's inner
    module's under its own name) and the named constants."""
    inline = tuple(f"{t}." for t, w in written.items() if w.kind == "expr")  # no attribute
    renames = {f"{t}.inner.": f"{t}." for t, m in gm.named_modules() if isinstance(m, Statements)}
    state = {}
    for key, value in gm.state_dict().items():
        if key.startswith("initializers.") or key.startswith(inline):
            continue
        prefix = next((p for p in renames if key.startswith(p)), None)
        state[key if prefix is None else renames[prefix] + key[len(prefix) :]] = value
    for node, attribute in naming.constants.items():
        state[attribute] = attr(gm, node.target)
    return {k: v.detach().clone().contiguous() for k, v in state.items()}
