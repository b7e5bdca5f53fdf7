"""Write an onnx2torch GraphModule as readable PyTorch source, and the state_dict that goes
with it, in three steps:

1. **lower** (``lowering``): every onnx2torch wrapper becomes a ``torch.nn`` module or a plain
   torch expression;
2. **name** (``naming``): constants become parameters (Keras weights) or buffers named after
   their first user, one-element constants literals, and each value a variable (``x``,
   ``y``, ``z`` as a careful human uses them, the running value ``x``);
3. **render**: one attribute per Keras layer in ``__init__`` and one statement per node in
   ``forward`` (``printing`` says how each module is written).

torch.fx's own ``to_folder`` pickles modules and hard-codes paths; this writes what a careful
human would. A module with no writing after lowering (an onnx2torch wrapper no lowering
handles, or a torch.nn module the printer does not know) is an UnsupportedError naming the
node and its Keras layer.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import fx

from pipeline.errors import UnsupportedError
from pipeline.torch_stage import frozen as frozen_modules
from pipeline.torch_stage import inplace, lowering, printing, shared
from pipeline.torch_stage.lowering.graph import attr
from pipeline.torch_stage.naming import Naming, name_values
from pipeline.torch_stage.printing import Written
from pipeline.torch_stage.templates import Statements, fill


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
    # the modules of layers Keras freezes, and of those the BatchNorms (kept in eval mode)
    frozen: list[str] = field(default_factory=list)
    frozen_batchnorm: list[str] = field(default_factory=list)


def emit(
    gm: fx.GraphModule,
    info: Mapping[str, NodeInfo],
    weights: set[str] = frozenset(),
    output_keys: list[str] | None = None,
    frozen: frozenset[str] = frozenset(),
) -> Emitted:
    """``weights``: the ONNX initializers that hold Keras weights (metadata.KERAS_WEIGHT);
    ``output_keys``: forward returns a dict with these keys (the Keras model does);
    ``frozen``: the Keras layers with trainable=False (their modules' parameters do not
    require grad)."""
    onnx_names = _onnx_names(gm)  # before lowering: the wrappers carry the ONNX mapping
    weight_layers = frozen_modules.weight_layers(gm, info)  # ... and their Keras layers
    lowering.lower(gm)
    shared.share(gm, {name: node.layer for name, node in info.items()})
    written = inplace.activations(gm, _writings(gm, info))
    keras_weights = {node for node, name in onnx_names.items() if name in weights}
    naming = name_values(gm, written, keras_weights)
    emitted = render(gm, info, written, naming, output_keys)
    bare = {  # Keras weights forward reads as they are (a position table), by attribute
        naming.constants[n]: layer
        for n, layer in weight_layers.items()
        if n in naming.weights and n in naming.constants
    }
    return frozen_modules.freeze(emitted, gm, info, frozen, bare)


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
            "with a supported one (README, 'Supported layers'); to support it (README, 'Adding a "
            "Keras layer'), lower an onnx2torch wrapper in pipeline/torch_stage/lowering/, write "
            "a torch.nn module in pipeline/torch_stage/printing/, or rewrite the ONNX in stage 2."
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


def render(
    gm: fx.GraphModule,
    info: Mapping[str, NodeInfo],
    written: Mapping[str, Written],
    naming: Naming,
    output_keys: list[str] | None = None,
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
            if node.op == "output":
                forward.append(_return(node, naming.values, output_keys))
                continue
            init_line, lines = _statement(node, info, written, naming.values)
            init += [init_line] if init_line and init_line not in init else []  # shared: once
            forward += lines
    return Emitted(init, forward, _state(gm, written, naming))


def _return(node: fx.Node, values, keys: list[str] | None) -> str:
    result = node.args[0]
    outputs = [values[o] for o in (result if isinstance(result, tuple | list) else [result])]
    if keys is None:
        return "return " + ", ".join(outputs)
    pairs = (f"{json.dumps(k)}: {v}" for k, v in zip(keys, outputs, strict=True))
    return "return {" + ", ".join(pairs) + "}"


def _statement(node: fx.Node, info, written, values) -> tuple[str | None, list[str]]:
    """(the ``__init__`` line, the ``forward`` lines) of one node."""
    args = [values.get(a, "") if isinstance(a, fx.Node) else repr(a) for a in node.args]
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


def _state(gm: fx.GraphModule, written, naming: Naming) -> dict[str, torch.Tensor]:
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
