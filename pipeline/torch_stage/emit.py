"""Write an onnx2torch GraphModule as readable PyTorch source.

torch.fx's own ``to_folder`` pickles modules and hard-codes paths; this emitter writes what
a careful human would: one attribute per Keras layer built from ``torch.nn`` constructors
with only their non-default arguments (``nn.Conv2d(1, 6, kernel_size=5, padding=2)``), and a
``forward`` of plain calls, parameterless activations as ``torch`` functions, the running
value called ``x`` and side branches named after their node.

Anything that is not a ``torch.nn`` module from ``CONSTRUCTORS`` (an onnx2torch wrapper
class, a constant the graph reads) is an UnsupportedError naming the node and Keras layer.
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from torch import fx, nn

from pipeline.errors import UnsupportedError

_CONV_ARGS = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "bias",
    "padding_mode",
)

# torch.nn class -> its constructor arguments read back from an instance, in order; the
# first ``positional`` are written positionally (as the PyTorch docs do).
CONSTRUCTORS: dict[type[nn.Module], tuple[tuple[str, ...], int]] = {
    nn.Conv1d: (_CONV_ARGS, 2),
    nn.Conv2d: (_CONV_ARGS, 2),
    nn.Linear: (("in_features", "out_features", "bias"), 2),
    nn.MaxPool2d: (("kernel_size", "stride", "padding", "dilation", "ceil_mode"), 1),
    nn.AvgPool2d: (("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"), 1),
    nn.BatchNorm2d: (("num_features", "eps", "momentum", "affine", "track_running_stats"), 1),
    nn.Flatten: (("start_dim", "end_dim"), 0),
    nn.Dropout: (("p",), 0),
    nn.Identity: ((), 0),
}

# Parameterless activations, written as torch functions (a careful human's ``torch.relu``).
FUNCTIONS: dict[type[nn.Module], Callable[[nn.Module, str], str]] = {
    nn.ReLU: lambda m, x: f"torch.relu({x})",
    nn.ReLU6: lambda m, x: f"nn.functional.relu6({x})",
    nn.Sigmoid: lambda m, x: f"torch.sigmoid({x})",
    nn.Tanh: lambda m, x: f"torch.tanh({x})",
    nn.Softmax: lambda m, x: f"torch.softmax({x}, dim={m.dim})",
}


@dataclass(frozen=True)
class NodeInfo:
    """What the ONNX node behind a module was: for comments and error messages."""

    op_type: str
    where: str  # "node 'fc1' (Gemm) of Keras layer 'fc1' (Dense)"
    layer: str  # "fc1 (Dense)" or ""


def _literal(value) -> str:
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return repr(value[0])  # kernel_size=(5, 5) -> 5
    return repr(value)


def constructor(module: nn.Module) -> str:
    """``nn.Conv2d(1, 6, kernel_size=5, padding=2)`` for a module in CONSTRUCTORS."""
    if type(module) is nn.Sequential:
        return "nn.Sequential(" + ", ".join(constructor(m) for m in module) + ")"
    names, positional = CONSTRUCTORS[type(module)]
    params = inspect.signature(type(module).__init__).parameters
    args = []
    for index, name in enumerate(names):
        value = module.bias is not None if name == "bias" else getattr(module, name)
        default = params[name].default if name in params else inspect.Parameter.empty
        if index < positional:
            args.append(_literal(value))
        elif (
            name == "stride" and default is None and _literal(value) == _literal(module.kernel_size)
        ):
            continue  # pooling's default stride is the kernel size
        elif default is inspect.Parameter.empty or _literal(value) != _literal(default):
            args.append(f"{name}={_literal(value)}")
    return f"nn.{type(module).__name__}({', '.join(args)})"


def supported(module: nn.Module) -> bool:
    if type(module) is nn.Sequential:
        return all(supported(m) for m in module)
    return type(module) in CONSTRUCTORS or type(module) in FUNCTIONS


def _var_names(gm: fx.GraphModule) -> dict[fx.Node, str]:
    """The running value is ``x`` whenever ``x`` is free; a value still needed when the
    next one is made (a residual branch) keeps its node's name."""
    order = list(gm.graph.nodes)
    last_use = {n: max((order.index(u) for u in n.users), default=-1) for n in order}
    names: dict[fx.Node, str] = {}
    holder: fx.Node | None = None
    for index, node in enumerate(order):
        if node.op == "placeholder":
            names[node] = node.target
        elif node.op != "output":
            if holder is None or last_use[holder] <= index:
                names[node], holder = "x", node
            else:
                names[node] = node.name
    return names


def _arg(value, names: Mapping[fx.Node, str]) -> str:
    return names[value] if isinstance(value, fx.Node) else repr(value)


def forward_lines(gm: fx.GraphModule, info: Mapping[str, NodeInfo]) -> tuple[list[str], list]:
    names = _var_names(gm)
    lines, outputs = [], []
    for node in gm.graph.nodes:
        if node.op in ("placeholder",):
            continue
        if node.op == "output":
            result = node.args[0]
            outputs = list(result) if isinstance(result, tuple | list) else [result]
            lines.append("return " + ", ".join(_arg(o, names) for o in outputs))
            continue
        args = ", ".join(_arg(a, names) for a in node.args)
        if node.op == "call_module":
            module = gm.get_submodule(node.target)
            node_info = info.get(node.target)
            if type(module) in FUNCTIONS:
                comment = f"  # {node_info.layer}" if node_info and node_info.layer else ""
                lines.append(f"{names[node]} = {FUNCTIONS[type(module)](module, args)}{comment}")
            else:
                lines.append(f"{names[node]} = self.{node.target}({args})")
        elif node.op == "call_function" and node.target is operator.getitem:
            lines.append(f"{names[node]} = {_arg(node.args[0], names)}[{node.args[1]!r}]")
        else:
            raise UnsupportedError(
                f"the torch graph reads {node.op} '{node.target}' (a constant tensor or a "
                "function call) that the emitter cannot write as plain PyTorch yet; "
                "report the model"
            )
    return lines, outputs


def check_native(gm: fx.GraphModule, info: Mapping[str, NodeInfo]) -> None:
    """Every module must be a torch.nn module the emitter knows; name each that is not,
    grouped by what onnx2torch made of it (three examples per kind)."""
    bad: dict[str, list[str]] = {}
    for node in gm.graph.nodes:
        if node.op != "call_module":
            continue
        module = gm.get_submodule(node.target)
        if not supported(module):
            kind = f"{type(module).__module__}.{type(module).__name__}"
            where = info[node.target].where if node.target in info else f"'{node.target}'"
            bad.setdefault(kind, []).append(where)
    if bad:
        groups = [
            f"{len(wheres)} node(s) became {kind}: {'; '.join(wheres[:3])}"
            + (f"; and {len(wheres) - 3} more" if len(wheres) > 3 else "")
            for kind, wheres in bad.items()
        ]
        raise UnsupportedError(
            "no native PyTorch form for: " + " | ".join(groups) + ". Replace the Keras layer "
            "with a supported one (README, 'Supported layers'); to support it, rewrite the ONNX "
            "in stage 2 or register a converter with onnx2torch's add_converter in the torch "
            "stage, and teach emit.py to write the module."
        )


def module_init_lines(gm: fx.GraphModule) -> list[str]:
    lines = []
    for node in gm.graph.nodes:
        if node.op == "call_module":
            module = gm.get_submodule(node.target)
            if type(module) not in FUNCTIONS:
                lines.append(f"self.{node.target} = {constructor(module)}")
    return lines
