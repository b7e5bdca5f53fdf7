"""``python -m pipeline.export.intermediates OUT``: every Keras layer's output on the first
reference case, for ``python -m pipeline diagnose`` (export side: Keras only).

Writes ``OUT/diagnose_keras.npz`` (layer name -> value, Keras' layout) and lists the layers in
the model's order under the key ``__order__``. A layer called more than once (shared) has no
single output and is left out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import keras
import numpy as np

from pipeline import artifacts
from pipeline import reference as ref

KERAS_VALUES = "diagnose_keras.npz"


def _model(out_dir: Path) -> keras.Model:
    saved = out_dir / "keras_model.keras"
    if saved.is_file():
        import models.small  # noqa: F401  (registers the functions its models save by name)

        return keras.saving.load_model(saved, compile=False, safe_mode=False)
    import models

    return models.resolve(
        json.loads((out_dir / artifacts.EXPORT_REPORT).read_text())["model"]
    ).model


def layer_values(out_dir: Path) -> dict[str, np.ndarray]:
    model = _model(out_dir)
    reference = ref.load(out_dir / artifacts.REFERENCE)
    case = next(iter(reference.cases.values()))
    probes = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            output = layer.output
        except (AttributeError, ValueError):  # a shared layer: one output per call
            continue
        if not isinstance(output, (list, tuple, dict)):
            probes[layer.name] = output
    probe = keras.Model(model.inputs, list(probes.values()))
    values = probe([case.inputs[name] for name in reference.input_names], training=False)
    values = values if isinstance(values, (list, tuple)) else [values]
    return {name: np.asarray(v) for name, v in zip(probes, values, strict=True)}


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0])
    values = layer_values(out_dir)
    with artifacts.atomic_path(out_dir / KERAS_VALUES) as tmp:
        np.savez(tmp, __order__=np.array(list(values)), **values)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
