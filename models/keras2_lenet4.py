"""A legacy Keras 2 model file, as most Keras models in the wild are: a LeNet-style
``Sequential`` with BatchNormalization and Dropout, written by ``tf_keras`` (Keras 2.x),
trained briefly on scikit-learn's digits, saved both as ``.h5`` and as a SavedModel
directory (Keras 2's default format).

``python -m models.keras2_lenet4 OUT_DIR`` writes ``OUT_DIR/lenet4_keras2.h5`` and
``OUT_DIR/lenet4_keras2_savedmodel/``; ``make keras2-files`` does it into ``build/keras2``.
Nothing here uses Keras 3: the files are what a Keras 2 user would bring. Importing this
module imports no framework (the end-to-end tests read its names).
"""

from __future__ import annotations

import sys
from pathlib import Path

SEED = 0
EPOCHS = 3
BATCH_SIZE = 32
H5 = "lenet4_keras2.h5"
SAVEDMODEL = "lenet4_keras2_savedmodel"


def build():
    """The untrained model, in Keras 2 (an ``InputLayer``-started Sequential)."""
    import tf_keras

    layers = tf_keras.layers
    tf_keras.utils.set_random_seed(SEED)
    return tf_keras.Sequential(
        [
            layers.InputLayer((28, 28, 1), name="image"),
            layers.Conv2D(6, 5, padding="same", name="block1_conv1"),
            layers.BatchNormalization(name="block1_bn"),
            layers.Activation("relu", name="block1_relu"),
            layers.MaxPooling2D(name="block1_pool1"),
            layers.Conv2D(16, 5, activation="relu", name="block2_conv1"),
            layers.MaxPooling2D(name="block2_pool1"),
            layers.Flatten(name="flatten"),
            layers.Dense(84, activation="relu", name="fc1"),
            layers.BatchNormalization(name="fc1_bn"),
            layers.Dropout(0.3, name="fc1_dropout"),
            layers.Dense(10, activation="softmax", name="predictions"),
        ],
        name="lenet4_keras2",
    )


def write(out_dir: Path) -> tuple[Path, Path]:
    """Train the model on the digits training split and save it both ways."""
    import tensorflow as tf

    from models import digits

    tf.config.experimental.enable_op_determinism()
    data = digits.load()
    model = build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(data.x_train, data.y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=0)
    out_dir.mkdir(parents=True, exist_ok=True)
    h5, savedmodel = out_dir / H5, out_dir / SAVEDMODEL
    model.save(h5)
    model.save(savedmodel)
    return h5, savedmodel


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m models.keras2_lenet4 OUT_DIR", file=sys.stderr)
        return 2
    for path in write(Path(argv[0])):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
