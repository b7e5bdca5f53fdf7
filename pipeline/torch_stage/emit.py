"""Write an onnx2torch GraphModule as readable PyTorch source, and the state_dict that goes
with it.

torch.fx's own ``to_folder`` pickles modules and hard-codes paths; this emitter writes what a
careful human would: one attribute per Keras layer (``writers`` decides how each module is
written), a ``forward`` of plain calls where the running value is ``x`` and side branches are
named after their node, and constants the graph reads as named buffers.

Anything without a native writing (an onnx2torch wrapper class with no plain-torch
equivalent) is an UnsupportedError naming the node and its Keras layer.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import fx

from pipeline.errors import UnsupportedError
from pipeline.torch_stage import constant_modules, peephole
from pipeline.torch_stage.writers import Written, literal, write


@dataclass(frozen=True)
class NodeInfo:
    """What the ONNX node behind a module was: for comments and error messages."""

    op_type: str
    where: str  # "node 'fc1' (Gemm) of Keras layer 'fc1' (Dense)"
    layer: str  # "fc1 (Dense)" or ""


@dataclass(frozen=True)
class Emitted:
    init: list[str]
    forward: list[str]
    state: dict[str, torch.Tensor] = field(default_factory=dict)


POOL = ("x", "y", "z")  # the names a careful human uses for the running values


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


def _writings(gm: fx.GraphModule, info: Mapping[str, NodeInfo]) -> dict[str, Written]:
    """Every module's writing; the ones without are reported together, grouped by kind."""
    written, bad = {}, {}
    for node in gm.graph.nodes:
        if node.op != "call_module":
            continue
        module = gm.get_submodule(node.target)
        consts = [
            _attr(gm, a.target) if isinstance(a, fx.Node) and a.op == "get_attr" else None
            for a in node.args
        ]
        writing = write(module, consts)
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
            "in stage 2 or add a writer in pipeline/torch_stage/natives.py."
        )
    return written


def _onnx_names(gm: fx.GraphModule) -> dict[fx.Node, str]:
    """The ONNX initializer behind each constant input (onnx2torch's ``onnx_mapping``)."""
    names = {}
    for node in gm.graph.nodes:
        mapping = (
            getattr(gm.get_submodule(node.target), "onnx_mapping", None)
            if (node.op == "call_module")
            else None
        )
        for arg, name in zip(node.args, mapping.inputs if mapping else (), strict=False):
            if isinstance(arg, fx.Node) and arg.op == "get_attr":
                names[arg] = name
    return names


def _scalars(gm: fx.GraphModule, weights: set[fx.Node]) -> dict[fx.Node, str]:
    """One-element constants written inline as literals: floats (gelu's 0.044715, hard_swish's
    3 and 1/6) and integers read only by arithmetic (``positions - 1``); a wrong broadcast
    rank would show as a shape mismatch in the check."""
    scalars = {}
    for node in gm.graph.nodes:
        if node.op == "get_attr" and node not in weights:
            tensor = _attr(gm, node.target)
            if tensor.numel() != 1:
                continue
            if tensor.is_floating_point():
                scalars[node] = literal(float(tensor.reshape(())))
            elif tensor.dtype in (torch.int32, torch.int64) and all(
                _is_arithmetic(gm, user) for user in node.users
            ):
                scalars[node] = str(int(tensor.reshape(())))
    return scalars


def _is_arithmetic(gm: fx.GraphModule, node: fx.Node) -> bool:
    if node.op != "call_module":
        return False
    return type(gm.get_submodule(node.target)).__name__ == "OnnxBinaryMathOperation"


def _absorbed(gm: fx.GraphModule, written: Mapping[str, Written]) -> set[fx.Node]:
    """Constants only ever read as inputs a writing folds into its text (beyond its arity)."""
    used: set[fx.Node] = set()
    for node in gm.graph.nodes:
        arity = written[node.target].arity if node.op == "call_module" else None
        args = node.args if arity is None else node.args[:arity]
        fx.node.map_arg((args, node.kwargs), used.add)
    return {n for n in gm.graph.nodes if n.op == "get_attr" and n not in used}


def _constants(gm: fx.GraphModule, skip: set[fx.Node], weights) -> dict[fx.Node, str]:
    """Other tensors the graph reads: Keras weights as parameters named ``<first user>_weight``,
    constants as buffers named ``<first user>_const``."""
    names: dict[fx.Node, str] = {}
    for node in gm.graph.nodes:
        if node.op == "get_attr" and node not in skip:
            user = next(iter(node.users)).target
            kind = "weight" if node in weights else "const"
            base = f"{user}_{kind}" if isinstance(user, str) else f"{node.name}_{kind}"
            name, k = base, 1
            while name in names.values():
                k += 1
                name = f"{base}{k}"
            names[node] = name
    return names


def emit(
    gm: fx.GraphModule, info: Mapping[str, NodeInfo], weights: set[str] = frozenset()
) -> Emitted:
    """``weights``: the ONNX initializers that hold Keras weights (provenance.KERAS_WEIGHT)."""
    layers = {name: i.layer for name, i in info.items()}
    peephole.fuse_swish(gm, layers)
    peephole.fuse_gelu(gm, layers)
    constant_modules.embeddings(gm)
    constant_modules.prelus(gm)
    constant_modules.linears(gm)
    written = _writings(gm, info)
    onnx_names = _onnx_names(gm)
    keras_weights = {node for node, name in onnx_names.items() if name in weights}
    scalars = _scalars(gm, keras_weights)
    absorbed = _absorbed(gm, written)
    constants = _constants(gm, set(scalars) | absorbed, keras_weights)
    names = _var_names(gm, {**constants, **scalars})
    names.update(scalars)
    init, forward = [], []
    inline = tuple(f"{t}." for t, w in written.items() if w.kind == "expr")  # no attribute
    state = {
        k: v
        for k, v in gm.state_dict().items()
        if not k.startswith("initializers.") and not k.startswith(inline)
    }
    for node, name in constants.items():
        tensor = _attr(gm, node.target)
        empty = f"torch.empty({list(tensor.shape)}, dtype={tensor.dtype})"
        if node in keras_weights:
            init.append(f"self.{name} = nn.Parameter({empty})  # a Keras weight")
        else:
            init.append(f"self.register_buffer({name!r}, {empty})")
        state[name] = tensor
    for node in gm.graph.nodes:
        if node.op in ("placeholder", "get_attr"):
            continue
        if node.op == "output":
            result = node.args[0]
            outputs = list(result) if isinstance(result, tuple | list) else [result]
            forward.append("return " + ", ".join(names[o] for o in outputs))
            continue
        args = [names.get(a, "") if isinstance(a, fx.Node) else repr(a) for a in node.args]
        if node.op == "call_module":
            writing = written[node.target]
            args = args if writing.arity is None else args[: writing.arity]
            if writing.kind == "expr":
                layer = info[node.target].layer if node.target in info else ""
                comment = f"  # {layer}" if layer else ""
                text = writing.text.replace("{*}", ", ".join(args)).format(*args)
                text = text.replace(" + -", " - ")  # x + -0.5 -> x - 0.5 (args are names)
                forward.append(f"{names[node]} = {text}{comment}")
            elif writing.lines:
                init.append(f"self.{node.target} = {writing.text}")
                layer = info[node.target].layer if node.target in info else ""
                for k, line in enumerate(writing.lines):
                    text = line.format(*args, self=f"self.{node.target}", out=names[node])
                    forward.append(text + (f"  # {layer}" if layer and not k else ""))
            else:
                init.append(f"self.{node.target} = {writing.text}")
                forward.append(f"{names[node]} = self.{node.target}({', '.join(args)})")
        elif node.op == "call_function" and node.target in peephole.FUNCTIONS:
            layer = node.meta.get("layer", "")
            comment = f"  # {layer}" if layer else ""
            forward.append(
                f"{names[node]} = {peephole.FUNCTIONS[node.target].format(*args)}{comment}"
            )
        elif node.op == "call_function" and node.target is operator.getitem:
            forward.append(f"{names[node]} = {args[0]}[{args[1]}]")
        else:
            raise UnsupportedError(
                f"the torch graph calls {node.op} '{node.target}', which the emitter cannot "
                "write as plain PyTorch yet; report the model"
            )
    return Emitted(init, forward, {k: v.detach().clone().contiguous() for k, v in state.items()})


def _attr(gm: fx.GraphModule, target: str) -> torch.Tensor:
    owner, _, name = target.rpartition(".")
    return getattr(gm.get_submodule(owner) if owner else gm, name)
