"""Activations computed in place where that is safe, as torchvision writes them
(``nn.ReLU(inplace=True)``): ``x = torch.relu_(x)`` rather than ``x = torch.relu(x)``. An
out-of-place activation allocates a new tensor and writes all of it: on MobileNetV2 at batch
8 its 35 ReLU6s cost 28 ms of 214 per 20 calls out of place against 14 ms in place
(``python -m pipeline.bench.torch_side.profile``, docs/performance.md).

Safe means the value is read by nothing else (one reader: this activation; not an output)
and was made by an op whose backward does not need its own output (a convolution, Linear,
BatchNorm, a sum), so training through the module computes the same gradients
(``tests/e2e/test_gradients.py`` holds them to Keras')."""

from __future__ import annotations

import operator

from torch import fx, nn

from pipeline.torch_stage.printing import Written

INPLACE = {
    nn.ReLU: "torch.relu_({0})",
    nn.ReLU6: "nn.functional.relu6({0}, inplace=True)",
}
# what may make the value an activation overwrites: their backward reads only their inputs
PRODUCERS = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Linear,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
)
SUMS = (operator.add, operator.sub)
SUM_TEXTS = ("{0} + {1}", "{0} - {1}")  # the lowered sums (lowering/elementwise.py)


def _safe(gm: fx.GraphModule, node: fx.Node, written: dict[str, Written]) -> bool:
    source = node.args[0] if node.args else None
    if not isinstance(source, fx.Node) or len(source.users) != 1:
        return False
    if source.op == "call_module":
        maker = written.get(source.target)
        summed = maker is not None and maker.kind == "expr" and maker.text in SUM_TEXTS
        return summed or type(gm.get_submodule(source.target)) in PRODUCERS
    return source.op == "call_function" and source.target in SUMS


def activations(gm: fx.GraphModule, written: dict[str, Written]) -> dict[str, Written]:
    """``written`` with each activation module that every call may run in place so written."""
    calls: dict[str, list[fx.Node]] = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            calls.setdefault(node.target, []).append(node)
    changed = dict(written)
    for target, nodes in calls.items():
        text = INPLACE.get(type(gm.get_submodule(target)))
        if text and all(_safe(gm, node, written) for node in nodes):
            changed[target] = Written("expr", text)
    return changed
