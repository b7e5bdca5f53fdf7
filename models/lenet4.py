"""LeNet4 of the reference post, trained on scikit-learn's digits, deterministically.

Same layer names as the post: block1_conv1, block1_pool1, block2_conv1, block2_pool1,
flatten, fc1, before_softmax, predictions. ``python -m models.lenet4 out.keras`` trains it
(about ten seconds on two cores) and saves it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import tensorflow as tf

from models import digits

SEED = 0
EPOCHS = 12
BATCH_SIZE = 32
NB_CLASSES = 10
KERNEL_SIZE = 5


def build() -> keras.Model:
    """The untrained LeNet4 (input 28x28x1, NHWC)."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((28, 28, 1), name="input_1")
    x = keras.layers.Conv2D(6, KERNEL_SIZE, activation="relu", padding="same", name="block1_conv1")(
        inputs
    )
    x = keras.layers.MaxPooling2D(pool_size=(2, 2), name="block1_pool1")(x)
    x = keras.layers.Conv2D(
        16, KERNEL_SIZE, activation="relu", padding="same", name="block2_conv1"
    )(x)
    x = keras.layers.MaxPooling2D(pool_size=(2, 2), name="block2_pool1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(84, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(NB_CLASSES, name="before_softmax")(x)
    outputs = keras.layers.Activation("softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="lenet4")


def train(data: digits.Split | None = None) -> keras.Model:
    """Build and train LeNet4 on the digits training split; same weights on every run."""
    data = data or digits.load()
    tf.config.experimental.enable_op_determinism()
    model = build()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        data.x_train, data.y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, shuffle=True, verbose=0
    )
    return model


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m models.lenet4 OUT.keras", file=sys.stderr)
        return 2
    data = digits.load()
    model = train(data)
    _, test_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    model.save(Path(argv[0]))
    print(f"saved {argv[0]}: digits test accuracy {test_accuracy:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
