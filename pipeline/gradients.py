"""Gradient equivalence: does the converted module train as the Keras model does?

``run(out_dir)`` runs both sides as processes
(``pipeline.export.gradients`` with TensorFlow, ``pipeline.torch_stage.gradients`` with
torch) on the same seeded linear loss of the ``batch4`` reference case, in inference mode,
and compares

- per Keras layer, its weights' gradients with the gradients of the torch module named after
  it. The layouts differ (a conv kernel transposed, a Dense kernel's rows permuted after a
  Flatten, LSTM gates reordered, attention's query/key/value packed into one tensor), but
  each is a re-arrangement of the same numbers: the sorted values must agree. torch's second
  recurrent bias (``bias_hh`` of an nn.LSTM or nn.RNN, zero) has no Keras twin: its gradient
  equals ``bias_ih``'s and the torch side leaves it out (a GRU's is Keras' recurrent bias).
  Scaled by the layer's largest Keras gradient, within ``GRADIENT_TOL``;
- the outputs on ``batch1`` after one SGD step of ``LEARNING_RATE`` on both sides (that
  ``bias_hh`` left where it is), like any artifact (the bar of ``compare``);
- in training mode (Keras ``training=True``, torch ``train()``, dropout off on both sides, a
  fresh copy of each): the outputs on ``batch4`` (BatchNorm on the batch's statistics), the
  layer gradients as above, and each BatchNorm's running mean and variance after that batch
  (scaled by the largest Keras value, within ``GRADIENT_TOL``).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline import artifacts
from pipeline import reference as ref
from pipeline.compare import Comparison, compare

GRADIENT_TOL = 1e-5  # scaled, as the outputs' bar: float32 sums in another order
LEARNING_RATE = 0.01


@dataclass(frozen=True)
class LayerGradient:
    layer: str
    module: str
    values: int  # how many gradient values Keras has for the layer (torch must have as many)
    torch_values: int
    max_rel: float  # max |sorted torch - sorted Keras| / max |Keras|
    # torch values beyond Keras' whose gradient is 0 (a zero key bias Keras has none of,
    # which softmax ignores: it never moves), left out of the comparison
    still: int = 0

    @property
    def passed(self) -> bool:
        return self.values == self.torch_values - self.still and self.max_rel <= GRADIENT_TOL


def attribute(layer: str) -> str:
    """The module attribute a Keras layer's weights live in: 'block1/conv' -> 'block1_conv'."""
    return re.sub(r"[^0-9A-Za-z_]", "_", layer)


def _owners(modules: set[str], layers: set[str]) -> dict[str, str | None]:
    """Each torch module (or bare parameter) -> the Keras layer it is named after: its name,
    or the longest that starts it followed by '_' (a keras-hub block's parts,
    ``transformer_layer_0_kerasmultiheadattention``; a bare ``position_embedding_weight``)."""
    owners = {}
    for module in modules:
        named = [a for a in layers if module == a or module.startswith(a + "_")]
        owners[module] = max(named, key=len, default=None)
    return owners


def compare_layers(keras: dict[str, np.ndarray], torch: dict[str, np.ndarray]) -> list:
    by_layer: dict[str, list[np.ndarray]] = {}
    for key, grad in keras.items():
        by_layer.setdefault(key.rsplit("/", 1)[0], []).append(grad.ravel())
    owners = _owners({name.split(".")[0] for name in torch}, {attribute(k) for k in by_layer})
    results = []
    for layer, grads in by_layer.items():
        module = attribute(layer)
        mine = [g.ravel() for name, g in torch.items() if owners[name.split(".")[0]] == module]
        k = np.sort(np.concatenate(grads).astype(np.float64))
        t = np.concatenate(mine).astype(np.float64) if mine else np.zeros(0)
        scale = max(float(np.abs(k).max()), 1e-30)
        t, still = _without_still(t, t.size - k.size, scale)
        t = np.sort(t)
        error = float(np.abs(k - t).max()) / scale if k.shape == t.shape else float("inf")
        results.append(LayerGradient(layer, module, k.size, t.size + still, error, still))
    return results


def _without_still(t: np.ndarray, surplus: int, scale: float) -> tuple[np.ndarray, int]:
    """``t`` less its ``surplus`` values nearest 0, if those gradients are 0 (within the
    tolerance): parameters torch has beyond Keras' that training never moves. Else ``t``."""
    if surplus <= 0:
        return t, 0
    order = np.argsort(np.abs(t))
    if np.abs(t[order[:surplus]]).max() > GRADIENT_TOL * scale:
        return t, 0
    return t[order[surplus:]], surplus


def _strip(data, prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: data[k] for k in data.files if k.startswith(prefix)}


@dataclass(frozen=True)
class Result:
    layers: list[LayerGradient]  # inference mode
    step: list[Comparison]  # the outputs after one SGD step
    train_layers: list[LayerGradient]  # training mode
    train_outputs: list[Comparison]
    train_statistics: list[LayerGradient]  # per BatchNorm statistic, its values after

    @property
    def failed(self) -> list:
        values = [*self.layers, *self.train_layers, *self.train_statistics]
        outputs = [*self.step, *self.train_outputs]
        return [v for v in values if not v.passed] + [c.describe() for c in outputs if not c.passed]


def compare_statistics(keras: dict[str, np.ndarray], torch: dict[str, np.ndarray]) -> list:
    """``<layer>/running_mean``-style keys, Keras' against the torch module's, element for
    element (the running statistics are per channel, in the same order)."""
    results = []
    for key, expected in keras.items():
        layer, stat = key.rsplit("/", 1)
        mine = torch.get(f"{attribute(layer)}/{stat}", np.zeros(0))
        scale = max(float(np.abs(expected).max()), 1e-30)
        same = mine.shape == expected.shape
        error = float(np.abs(expected - mine).max()) / scale if same else float("inf")
        results.append(LayerGradient(key, attribute(layer), expected.size, mine.size, error))
    return results


def run(out_dir: Path) -> Result:
    """Both sides on ``out_dir`` (a converted named model: its ``keras_model.keras``)."""
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        keras_npz, torch_npz = Path(tmp) / "keras.npz", Path(tmp) / "torch.npz"
        for command in (
            ["pipeline.export.gradients", out_dir, LEARNING_RATE, keras_npz],
            ["pipeline.torch_stage.gradients", out_dir, LEARNING_RATE, keras_npz, torch_npz],
        ):
            proc = subprocess.run(
                [sys.executable, "-m", *map(str, command)], capture_output=True, text=True
            )
            if proc.returncode:
                raise RuntimeError(f"{command[0]} failed:\n{proc.stderr[-3000:]}")
        keras, torch = np.load(keras_npz), np.load(torch_npz)
        layers = compare_layers(_strip(keras, "grad/"), _strip(torch, "grad/"))
        reference = ref.load(out_dir / artifacts.REFERENCE)
        step = [
            compare(
                "after one SGD step",
                "batch1",
                name,
                keras[f"after/{name}"],
                torch[f"after/{name}"],
                reference.tolerance,
            )
            for name in reference.output_names
        ]
        train_outputs = [
            compare(
                "train mode",
                "batch4",
                name,
                keras[f"train/out/{name}"],
                torch[f"train/out/{name}"],
                reference.tolerance,
            )
            for name in reference.output_names
        ]
        return Result(
            layers,
            step,
            compare_layers(_strip(keras, "train/grad/"), _strip(torch, "train/grad/")),
            train_outputs,
            compare_statistics(_strip(keras, "train/stat/"), _strip(torch, "train/stat/")),
        )
