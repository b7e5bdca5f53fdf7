"""torch-side tests: this pytest process may import torch, never TensorFlow."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def _no_tensorflow_here():
    yield
    assert "tensorflow" not in sys.modules, "a torch-side test imported TensorFlow"
