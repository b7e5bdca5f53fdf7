"""The torch side of the gradient check (``pipeline.gradients``): ``model.py`` in ``eval()``,
the same linear loss on the same ``batch4`` inputs (Keras' loss weights, its outputs put back
in Keras' layout), every parameter's gradient; then one SGD step and the outputs on
``batch1`` after it.

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
# bias, so SGD on both would move their sum twice as far; the step leaves it out
SECOND_BIAS = "bias_hh"


def _outputs(model, inputs: dict[str, np.ndarray], names, perms) -> list[torch.Tensor]:
    result = model(**{k: torch.from_numpy(v) for k, v in inputs.items()})
    if isinstance(result, dict):
        result = tuple(result[n] for n in names)
    result = result if isinstance(result, tuple) else (result,)
    return [r.permute(*perms[n]) if n in perms else r for n, r in zip(names, result, strict=True)]


def run(out_dir: Path, lr: float, keras_side: Path) -> dict[str, np.ndarray]:
    model = load_module(out_dir / artifacts.MODEL_PY, out_dir / artifacts.WEIGHTS)
    reference = ref.load(out_dir / artifacts.REFERENCE)
    props = {p.key: p.value for p in onnx.load(out_dir / artifacts.STAGE2).metadata_props}
    perms, out_perms = metadata.input_perms(props), metadata.output_perms(props)
    keras = np.load(keras_side)
    names = reference.output_names
    inputs = metadata.adapt_inputs(reference.cases["batch4"].inputs, perms)
    outputs = _outputs(model, inputs, names, out_perms)
    loss = sum(
        (out * torch.from_numpy(keras[f"loss/{n}"]).to(out.dtype)).sum()
        for n, out in zip(names, outputs, strict=True)
    )
    loss.backward()
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    found = {f"grad/{n}": p.grad.numpy().copy() for n, p in params}
    with torch.no_grad():
        for name, param in params:
            if SECOND_BIAS not in name:
                param -= lr * param.grad
        inputs = metadata.adapt_inputs(reference.cases["batch1"].inputs, perms)
        after = _outputs(model, inputs, names, out_perms)
    found.update({f"after/{n}": a.numpy() for n, a in zip(names, after, strict=True)})
    return found


def main(argv: list[str]) -> int:
    np.savez(argv[3], **run(Path(argv[0]), float(argv[1]), Path(argv[2])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
