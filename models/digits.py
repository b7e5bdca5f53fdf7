"""Handwritten digits that ship inside scikit-learn (no download), as 28x28x1 images.

``load_digits`` holds 1,797 8x8 images with values 0..16; they are scaled to [0, 1] and
resized bilinearly to LeNet's 28x28, then split 80/20, stratified, with a fixed seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

IMAGE_SIZE = 28
SPLIT_SEED = 0
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray  # (N, 28, 28, 1) float32 in [0, 1]
    y_train: np.ndarray  # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray


def load() -> Split:
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    resized = tf.image.resize(images, (IMAGE_SIZE, IMAGE_SIZE), method="bilinear").numpy()
    x_train, x_test, y_train, y_test = train_test_split(
        resized,
        digits.target.astype(np.int64),
        test_size=TEST_FRACTION,
        random_state=SPLIT_SEED,
        stratify=digits.target,
    )
    return Split(x_train, y_train, x_test, y_test)
