"""BatchNorm in ``model.py``: trained as Keras trains it, and folded for inference.

**Training.** In train mode Keras and torch normalize by the same batch statistics (the
biased variance), but update the running variance differently: Keras moves it toward the
biased batch variance, ``torch.nn.BatchNorm*d`` toward the unbiased one (``n / (n - 1)`` of
it, ``n`` the values per channel: 4/3 for a BatchNorm1d on a batch of 4). So a BatchNorm
module is written as ``KerasBatchNorm2d``, a subclass of ``nn.BatchNorm2d`` defined in
``model.py`` itself: the same constructor, parameters, buffers and ``eval()`` forward; only
its train-mode forward differs, with Keras' update. ``isinstance(m, nn.BatchNorm2d)`` holds.

**Inference.** ``model.optimize_for_inference()`` folds each BatchNorm that only ever reads
one convolution's output into that convolution (``torch.nn.utils.fusion.fuse_conv_bn_eval``;
also the convolution of an ``nn.Sequential`` of pads and a convolution, TensorFlow's uneven
"same" padding),
leaving ``nn.Identity`` in its place. The fold is computed in float64 and rounded to float32
once: folded in float32, EfficientNetV2B0's ``optimized`` row was 1.21e-4 from Keras at batch
4 (2.2x Keras' own error against float64) on one machine, 4.1e-5 folded in float64. The
pairs are found here, on the graph, and written
into the method as a literal list (no tracing at run time). ``torch.fx``'s own ``fuse``
matches exact types and so would not fold a ``KerasBatchNorm2d``.
"""

from __future__ import annotations

import json
import textwrap

from torch import fx, nn

# the class model.py writes for each torch BatchNorm class
KERAS_CLASSES = {
    nn.BatchNorm1d: "KerasBatchNorm1d",
    nn.BatchNorm2d: "KerasBatchNorm2d",
}

CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
PADS = (
    nn.ZeroPad1d,
    nn.ZeroPad2d,
    nn.ZeroPad3d,
    nn.ConstantPad1d,
    nn.ConstantPad2d,
    nn.ConstantPad3d,
)

TRAIN_FORWARD = '''

def keras_batch_norm(norm: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """Train-mode BatchNorm as Keras computes it: ``x`` normalized by its batch mean and
    (biased) variance, and the running statistics moved toward those same values (torch's
    own BatchNorm moves the running variance toward the unbiased batch variance)."""
    dims = [0, *range(2, x.dim())]
    with torch.no_grad():
        var, mean = torch.var_mean(x, dim=dims, correction=0)
        norm.running_mean.lerp_(mean, norm.momentum)
        norm.running_var.lerp_(var, norm.momentum)
        norm.num_batches_tracked += 1
    return nn.functional.batch_norm(x, None, None, norm.weight, norm.bias, True, 0.0, norm.eps)
'''

CLASS = '''

class {name}(nn.{base}):
    """nn.{base} (same parameters, buffers and eval() forward) whose running variance
    follows Keras' in train(): see keras_batch_norm."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return keras_batch_norm(self, x) if self.training else super().forward(x)
'''

OPTIMIZE = """    def optimize_for_inference(self, channels_last: bool = False) -> {class_name}:
{doc}
        self.eval()
{body}{channels_last}        return self

"""

CHANNELS_LAST = """        if channels_last:  # the 4-D weights: 2-D convolutions'
            for param in self.parameters():
                if param.dim() == 4:
                    param.data = param.data.contiguous(memory_format=torch.channels_last)
"""

DOC = (
    "This module, in place, made faster for inference only (not for training): in eval "
    "mode, {folding}. With ``channels_last``, its weights in that memory format (feed "
    "``x.contiguous(memory_format=torch.channels_last)``); which format is faster depends on "
    "the net (``make bench`` times both). The check holds both ways to Keras' outputs."
)
# a module without 2-D convolutions has no 4-D weights
DOC_NO_CONV2D = (
    "This module, in place, for inference only (not for training): in eval mode, {folding}. "
    "It has no 2-D convolution, so ``channels_last`` changes nothing. The check holds it to "
    "Keras' outputs."
)

FOLD = """        for conv, norm in (
{pairs}
        ):
            # folded in float64, rounded to float32 once (the check holds it to Keras)
            conv_double = self.get_submodule(conv).double()
            folded = fuse_conv_bn_eval(conv_double, getattr(self, norm).double())
            self.set_submodule(conv, folded.float())
            setattr(self, norm, nn.Identity())
"""


def definitions(init: list[str]) -> str:
    """The ``KerasBatchNorm*d`` classes ``__init__``'s lines use, with their train-mode
    function ("" if none)."""
    used = [
        (name, cls.__name__)
        for cls, name in KERAS_CLASSES.items()
        if any(f"= {name}(" in line for line in init)
    ]
    if not used:
        return ""
    return TRAIN_FORWARD + "".join(CLASS.format(name=n, base=b) for n, b in used)


def fold_pairs(gm: fx.GraphModule) -> list[tuple[str, str]]:
    """(convolution, BatchNorm) module names, in forward's order, where every call of the
    BatchNorm reads a call of that convolution and every call of the convolution is read by
    that BatchNorm alone (a shared pair, called twice, folds too)."""
    calls: dict[str, list[fx.Node]] = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            calls.setdefault(node.target, []).append(node)
    pairs = []
    for target, nodes in calls.items():
        norm = gm.get_submodule(target)
        if type(norm) not in KERAS_CLASSES or not norm.track_running_stats:
            continue
        sources = {n.args[0].target if _is_module_call(n.args[0]) else None for n in nodes}
        conv = sources.pop() if len(sources) == 1 else None
        inner = _conv_in(gm.get_submodule(conv)) if conv is not None else None
        if inner is None:
            continue
        if all(list(c.users) in ([n] for n in nodes) for c in calls[conv]):
            pairs.append((conv + inner, target))
    return pairs


def _conv_in(module: nn.Module) -> str | None:
    """Where the convolution is in ``module``: "" for a convolution, ".1" for
    ``nn.Sequential(nn.ZeroPad2d(...), nn.Conv2d(...))`` (TensorFlow's uneven "same" padding
    of a strided conv: MobileNetV2's and EfficientNet's), None for anything else."""
    if type(module) in CONVS:
        return ""
    if type(module) is nn.Sequential and len(module) > 1 and type(module[-1]) in CONVS:
        if all(isinstance(m, PADS) for m in list(module)[:-1]):
            return f".{len(module) - 1}"
    return None


def _is_module_call(value) -> bool:
    return isinstance(value, fx.Node) and value.op == "call_module"


def method(class_name: str, pairs: list[tuple[str, str]], conv2d: bool = True) -> str:
    """The text of ``optimize_for_inference`` (``conv2d``: the module has 4-D weights)."""
    if pairs:
        folding = (
            f"its {len(pairs)} BatchNorm{'s' if len(pairs) > 1 else ''} folded into the "
            "convolution before each (nn.Identity in their place)"
        )
        lines = "\n".join(f"            ({json.dumps(c)}, {json.dumps(n)})," for c, n in pairs)
        body = FOLD.format(pairs=lines)
    else:
        folding = "with nothing to fold (no BatchNorm reads a convolution alone)"
        body = ""
    doc = textwrap.fill(
        '"""' + (DOC if conv2d else DOC_NO_CONV2D).format(folding=folding) + '"""',
        width=88,
        initial_indent=" " * 8,
        subsequent_indent=" " * 8,
        break_on_hyphens=False,
    )
    channels_last = CHANNELS_LAST if conv2d else ""
    return OPTIMIZE.format(class_name=class_name, doc=doc, body=body, channels_last=channels_last)
