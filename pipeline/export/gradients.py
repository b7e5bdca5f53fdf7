"""Keras' side of the gradient check (``pipeline.gradients``): the gradient of a seeded
linear loss, ``sum_k sum(w_k * y_k)`` over the outputs on the ``batch4`` reference case, with
respect to every trainable weight, grouped by Keras layer; then one SGD step and the outputs
on ``batch1`` after it. Inference mode (``training=False``: BatchNorm on its moving
statistics, Dropout off), as the torch side runs the module in ``eval()``. Then, on a fresh
copy, the same in training mode (``train_mode``: BatchNorm on the batch's statistics, which
it also moves its moving statistics toward), as the torch side runs it in ``train()``.

``python -m pipeline.export.gradients OUT_DIR LR DST.npz`` (the Keras model a named MODEL
was built into, ``OUT_DIR/keras_model.keras``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np
import onnx
import tensorflow as tf

from pipeline import artifacts, metadata
from pipeline import reference as ref
from pipeline.export import structure
from pipeline.export.annotate import qualified_layers

LOSS_SEED = 7


def _feed(model, arrays: list[np.ndarray]):
    return arrays[0] if len(arrays) == 1 else keras.tree.pack_sequence_as(model.input, arrays)


def exported_names(out_dir: Path, model) -> dict[str, str]:
    """This process's qualified layer names -> those stage 1 exported (``stage1.onnx``'s
    metadata), paired in model order: a keras-hub backbone rebuilds its auto-named layers on
    loading with the process's next free names (MiT's ``layer_normalization_4`` comes back
    as ``layer_normalization_13``). The names as they are if the layers do not pair up."""
    proto = onnx.load(out_dir / artifacts.STAGE1, load_external_data=False)
    exported = metadata.keras_layers(proto)
    here = [(name, type(layer).__name__) for name, layer in qualified_layers(model).items()]
    if [c for _, c in here] != [c for _, c in exported]:
        return {}
    return {name: theirs for (name, _), (theirs, _) in zip(here, exported, strict=True)}


def _loss_gradients(model, reference, training: bool, prefix: str, names: dict[str, str]):
    """The model on ``batch4`` (``training`` as Keras takes it): its outputs and, as
    ``<prefix>/<layer>/<index>``, each trainable variable's gradient of the seeded linear
    loss, under the layer owning it (in ``model.trainable_variables``' order)."""
    case = reference.cases["batch4"]
    rng = np.random.default_rng(LOSS_SEED)
    weights = {n: rng.standard_normal(case.outputs[n].shape) for n in reference.output_names}
    arrays = [case.inputs[name] for name in reference.input_names]
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        outputs = keras.tree.flatten(model(_feed(model, arrays), training=training))
        loss = sum(
            tf.reduce_sum(out * tf.constant(weights[n], out.dtype))
            for n, out in zip(reference.output_names, outputs, strict=True)
        )
    owners = {
        id(v): names.get(name, name)
        for name, layer in qualified_layers(model).items()
        if not hasattr(layer, "layers")
        for v in getattr(layer, "trainable_weights", [])
    }
    # an Embedding's gradient comes as IndexedSlices: made dense, as torch's is
    grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
    found = {f"loss/{n}": w for n, w in weights.items()}
    found.update(
        (f"{prefix}/{owners[id(v)]}/{index}", np.asarray(g))
        for index, (v, g) in enumerate(zip(variables, grads, strict=True))
    )
    return dict(zip(reference.output_names, outputs, strict=True)), found


def run(out_dir: Path, lr: float) -> dict[str, np.ndarray]:
    """Inference mode: gradients, one SGD step, the outputs on ``batch1`` after it."""
    model = keras.saving.load_model(out_dir / artifacts.KERAS_MODEL, compile=False)
    reference = ref.load(out_dir / artifacts.REFERENCE)
    _, found = _loss_gradients(model, reference, False, "grad", exported_names(out_dir, model))
    grads = [v for k, v in found.items() if k.startswith("grad/")]
    for variable, grad in zip(model.trainable_variables, grads, strict=True):
        variable.assign_sub(lr * grad)
    after = structure.call(
        model, [reference.cases["batch1"].inputs[n] for n in reference.input_names]
    )
    found.update({f"after/{n}": a for n, a in zip(reference.output_names, after, strict=True)})
    return found


# the layers that are random in training (switched off for the train-mode comparison)
NOISE = (
    keras.layers.Dropout,  # SpatialDropout1D/2D/3D too
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
)


def train_mode(out_dir: Path) -> dict[str, np.ndarray]:
    """A fresh copy of the model in training mode (``training=True``: BatchNorm on the
    batch's statistics; dropout rates set to 0) on ``batch4``: its outputs, the same linear
    loss's gradients, and each BatchNormalization's moving mean and variance after that one
    batch (Keras updates them in the call)."""
    model = keras.saving.load_model(out_dir / artifacts.KERAS_MODEL, compile=False)
    reference = ref.load(out_dir / artifacts.REFERENCE)
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, NOISE):
            layer.rate = 0.0
    names = exported_names(out_dir, model)
    outputs, grads = _loss_gradients(model, reference, True, "train/grad", names)
    found = {f"train/out/{n}": np.asarray(o) for n, o in outputs.items()}
    found.update((k, v) for k, v in grads.items() if k.startswith("train/"))
    for name, layer in qualified_layers(model).items():
        name = names.get(name, name)
        if isinstance(layer, keras.layers.BatchNormalization):
            found[f"train/stat/{name}/running_mean"] = layer.moving_mean.numpy()
            found[f"train/stat/{name}/running_var"] = layer.moving_variance.numpy()
    return found


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0])
    np.savez(argv[2], **run(out_dir, float(argv[1])), **train_mode(out_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
