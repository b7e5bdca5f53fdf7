"""The torch side of the gradient check (``pipeline.gradients``): ``model.py`` in ``eval()``,
the same linear loss on the same ``batch4`` inputs (Keras' loss weights, its outputs put back
in Keras' layout), every parameter's gradient; then one SGD step and the outputs on
``batch1`` after it. Then a fresh module in ``train()`` (``train_mode``), dropout off.

``python -m pipeline.torch_stage.gradients OUT_DIR LR KERAS.npz DST.npz``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import torch

from pipeline import artifacts, metadata
from pipeline import reference as ref
from pipeline.torch_stage.verify import load_module

# torch's second recurrent bias (nn.LSTM/nn.RNN bias_hh, zero after conversion): Keras has one
# bias, so SGD on both would move their sum twice as far; the step and the comparison leave
# it out. A GRU's is Keras' recurrent bias (reset_after): it has a twin and is kept.
SECOND_BIAS = "bias_hh"


def twinless(model: torch.nn.Module) -> set[str]:
    """The parameters with no Keras twin: the second bias of each nn.LSTM and nn.RNN."""
    return {
        f"{prefix}.{name}"
        for prefix, module in model.named_modules()
        if isinstance(module, torch.nn.LSTM | torch.nn.RNN)
        for name, _ in module.named_parameters(recurse=False)
        if name.startswith(SECOND_BIAS)
    }


def _outputs(model, inputs: dict[str, np.ndarray], names, perms) -> list[torch.Tensor]:
    result = model(**{k: torch.from_numpy(v) for k, v in inputs.items()})
    if isinstance(result, dict):
        result = tuple(result[n] for n in names)
    result = result if isinstance(result, tuple) else (result,)
    return [r.permute(*perms[n]) if n in perms else r for n, r in zip(names, result, strict=True)]


def _layouts(out_dir: Path):
    """The reference, and the input and output permutations stage 2 recorded."""
    props = {p.key: p.value for p in onnx.load(out_dir / artifacts.STAGE2).metadata_props}
    reference = ref.load(out_dir / artifacts.REFERENCE)
    return reference, metadata.input_perms(props), metadata.output_perms(props)


def _loss_gradients(model, out_dir: Path, keras_side: Path, prefix: str):
    """The module on ``batch4``: its outputs (in Keras' layout) and, as ``<prefix>/<name>``,
    the gradient of Keras' linear loss for every parameter that requires grad."""
    reference, perms, out_perms = _layouts(out_dir)
    keras = np.load(keras_side)
    names = reference.output_names
    inputs = metadata.adapt_inputs(reference.cases["batch4"].inputs, perms)
    outputs = _outputs(model, inputs, names, out_perms)
    loss = sum(
        (out * torch.from_numpy(keras[f"loss/{n}"]).to(out.dtype)).sum()
        for n, out in zip(names, outputs, strict=True)
    )
    loss.backward()
    skip = twinless(model)
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad and n not in skip]
    found = {f"{prefix}/{n}": p.grad.numpy().copy() for n, p in params}
    return dict(zip(names, outputs, strict=True)), found


def run(out_dir: Path, lr: float, keras_side: Path) -> dict[str, np.ndarray]:
    """Inference mode (``eval()``): gradients, one SGD step, the outputs on ``batch1``."""
    model = load_module(out_dir / artifacts.MODEL_PY, out_dir / artifacts.WEIGHTS)
    _, found = _loss_gradients(model, out_dir, keras_side, "grad")
    reference, perms, out_perms = _layouts(out_dir)
    skip = twinless(model)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.requires_grad and name not in skip:
                param -= lr * param.grad
        inputs = metadata.adapt_inputs(reference.cases["batch1"].inputs, perms)
        after = _outputs(model, inputs, reference.output_names, out_perms)
    found.update(
        {f"after/{n}": a.numpy() for n, a in zip(reference.output_names, after, strict=True)}
    )
    return found


def train_mode(out_dir: Path, keras_side: Path) -> dict[str, np.ndarray]:
    """A fresh ``model.py`` in ``train()`` with every dropout probability 0 (as the Keras side
    sets its rates): the outputs on ``batch4``, the linear loss's gradients, and each
    BatchNorm's running statistics after that batch."""
    model = load_module(out_dir / artifacts.MODEL_PY, out_dir / artifacts.WEIGHTS).train()
    for module in model.modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd):
            module.p = 0.0
        elif isinstance(module, torch.nn.MultiheadAttention | torch.nn.RNNBase):
            module.dropout = 0.0
    outputs, found = _loss_gradients(model, out_dir, keras_side, "train/grad")
    found.update({f"train/out/{n}": o.detach().numpy() for n, o in outputs.items()})
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            found[f"train/stat/{name}/running_mean"] = module.running_mean.numpy()
            found[f"train/stat/{name}/running_var"] = module.running_var.numpy()
    return found


def main(argv: list[str]) -> int:
    out_dir, keras_side = Path(argv[0]), Path(argv[2])
    found = run(out_dir, float(argv[1]), keras_side) | train_mode(out_dir, keras_side)
    np.savez(argv[3], **found)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
