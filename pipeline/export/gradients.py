"""Keras' side of the gradient check (``pipeline.gradients``): the gradient of a seeded
linear loss, ``sum_k sum(w_k * y_k)`` over the outputs on the ``batch4`` reference case, with
respect to every trainable weight, grouped by Keras layer; then one SGD step and the outputs
on ``batch1`` after it. Inference mode (``training=False``: BatchNorm on its moving
statistics, Dropout off), as the torch side runs the module in ``eval()``.

``python -m pipeline.export.gradients OUT_DIR LR DST.npz`` (the Keras model a named MODEL
was built into, ``OUT_DIR/keras_model.keras``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from pipeline import artifacts
from pipeline import reference as ref
from pipeline.export import structure
from pipeline.export.annotate import qualified_layers

LOSS_SEED = 7


def _feed(model, arrays: list[np.ndarray]):
    return arrays[0] if len(arrays) == 1 else keras.tree.pack_sequence_as(model.input, arrays)


def run(out_dir: Path, lr: float) -> dict[str, np.ndarray]:
    model = keras.saving.load_model(out_dir / artifacts.KERAS_MODEL, compile=False)
    reference = ref.load(out_dir / artifacts.REFERENCE)
    case = reference.cases["batch4"]
    arrays = [case.inputs[name] for name in reference.input_names]
    rng = np.random.default_rng(LOSS_SEED)
    weights = {n: rng.standard_normal(case.outputs[n].shape) for n in reference.output_names}
    owners = {
        id(v): name
        for name, layer in qualified_layers(model).items()
        if not hasattr(layer, "layers")
        for v in getattr(layer, "trainable_weights", [])
    }
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        outputs = keras.tree.flatten(model(_feed(model, arrays), training=False))
        loss = sum(
            tf.reduce_sum(out * tf.constant(weights[n], out.dtype))
            for n, out in zip(reference.output_names, outputs, strict=True)
        )
    # an Embedding's gradient comes as IndexedSlices: made dense, as torch's is
    grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
    found = {f"loss/{n}": w for n, w in weights.items()}
    for index, (variable, grad) in enumerate(zip(variables, grads, strict=True)):
        found[f"grad/{owners[id(variable)]}/{index}"] = np.asarray(grad)
        variable.assign_sub(lr * grad)
    after = structure.call(
        model, [reference.cases["batch1"].inputs[n] for n in reference.input_names]
    )
    found.update({f"after/{n}": a for n, a in zip(reference.output_names, after, strict=True)})
    return found


def main(argv: list[str]) -> int:
    np.savez(argv[2], **run(Path(argv[0]), float(argv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
