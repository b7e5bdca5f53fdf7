"""Fine-tune a converted LeNet4 in PyTorch: the module ``model.py`` holds trains as a module
written by hand would.

``python -m pipeline.torch_stage.finetune_demo OUT`` (``OUT`` from ``make convert
MODEL=lenet4``; or ``make finetune-demo``) reads ``model.py`` and ``weights.pt`` as a user
would (torch only; no TensorFlow in this process) and scikit-learn's digits (no download),
prepared as ``models/digits.py`` prepares them for Keras: scaled to [0, 1], resized
bilinearly to 28x28 (``nn.functional.interpolate`` with half-pixel centers, TensorFlow's
rule), split 80/20 with its seed. The test images are first
held to the ``digits_test`` inputs of ``reference.npz``, so the data is Keras'.

Two runs of one epoch each (Adam, batches of 32, cross-entropy on the softmax output,
seeded), each printing the test accuracy before and after:

1. **continue** (lr 1e-4): all the converted weights train on;
2. **new head** (lr 1e-3): ``fc1`` and ``before_softmax`` re-initialized, the conv layers
   frozen (``requires_grad_(False)``): transfer learning on the converted features.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from pipeline import artifacts
from pipeline import reference as ref
from pipeline.torch_stage.verify import load_module

SEED, BATCH_SIZE = 0, 32
LEARNING_RATES = {"continue": 1e-4, "new head": 1e-3}
DATA_TOL = 1e-5  # the torch-side test images against the Keras-side ones (max abs)


def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_test, y_test), images NCHW [N, 1, 28, 28] as models/digits.py."""
    data = load_digits()
    images = torch.from_numpy((data.images / 16.0).astype(np.float32)).unsqueeze(1)
    resized = torch.nn.functional.interpolate(
        images, size=(28, 28), mode="bilinear", align_corners=False
    ).numpy()
    x_train, x_test, y_train, y_test = train_test_split(
        resized, data.target.astype(np.int64), test_size=0.2, random_state=0, stratify=data.target
    )
    return tuple(torch.from_numpy(a) for a in (x_train, y_train, x_test, y_test))


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model.eval()(x).argmax(dim=1) == y).float().mean())


def epoch(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float) -> float:
    """One epoch of Adam on the parameters that require grad; the last batch's loss."""
    generator = torch.Generator().manual_seed(SEED)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr)
    model.train()
    for batch in torch.randperm(len(x), generator=generator).split(BATCH_SIZE):
        probs = model(x[batch])
        loss = torch.nn.functional.nll_loss(torch.log(probs.clamp_min(1e-12)), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(loss.detach())


def run(out: Path) -> dict[str, tuple[float, float]]:
    """{run: (test accuracy before, after)}, having checked the data against Keras'."""
    x_train, y_train, x_test, y_test = digits()
    keras_test = ref.load(out / artifacts.REFERENCE).cases["digits_test"]
    (keras_images,) = keras_test.inputs.values()
    gap = float(np.abs(keras_images.transpose(0, 3, 1, 2) - x_test.numpy()).max())
    if gap > DATA_TOL:
        raise SystemExit(f"the torch-side digits differ from Keras' by {gap:.2e}")
    torch.manual_seed(SEED)
    results = {}
    for name, lr in LEARNING_RATES.items():
        model = load_module(out / artifacts.MODEL_PY, out / artifacts.WEIGHTS)
        if name == "new head":
            for module in (model.block1_conv1, model.block2_conv1):
                module.requires_grad_(False)
            model.fc1.reset_parameters()
            model.before_softmax.reset_parameters()
        before = accuracy(model, x_test, y_test)
        loss = epoch(model, x_train, y_train, lr)
        results[name] = (before, accuracy(model, x_test, y_test))
        print(
            f"{name:9s} test accuracy {before:.2%} -> {results[name][1]:.2%} after one epoch "
            f"({len(x_train)} images, last batch loss {loss:.4f})"
        )
    return results


if __name__ == "__main__":
    torch.set_flush_denormal(True)
    run(Path(sys.argv[1] if len(sys.argv) > 1 else "build/lenet4"))
