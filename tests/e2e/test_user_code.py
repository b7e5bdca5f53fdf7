"""Models that need their author's code: a custom layer class (``--custom-objects``) and a
``Lambda`` whose Python code is stored in the file (``--unsafe-deserialization``). Without the
flag each is refused with a message naming it; with it the model converts exactly."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline import artifacts

ROOT = Path(__file__).resolve().parents[2]

MY_LAYERS = '''
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="demo")
class Scale(keras.layers.Layer):
    """tanh(x * w + b) per feature: TensorFlow ops tf2onnx knows."""

    def build(self, shape):
        self.w = self.add_weight(shape=(shape[-1],), initializer="ones", name="w")
        self.b = self.add_weight(shape=(shape[-1],), initializer="zeros", name="b")

    def call(self, x):
        return ops.tanh(x * self.w + self.b)
'''

WRITE_MODELS = """
import sys
sys.path.insert(0, sys.argv[1])
import keras, numpy as np, my_layers
L = keras.layers
def save(middle, name):
    inputs = keras.Input((6,), name="x")
    outputs = L.Dense(2, name="out")(middle(L.Dense(5, name="d")(inputs)))
    model = keras.Model(inputs, outputs, name=name)
    for w in model.weights:
        w.assign(np.random.default_rng(0).uniform(0.5, 1.5, w.shape))
    model.save(f"{sys.argv[1]}/{name}.keras")
save(my_layers.Scale(name="scale"), "custom")
save(L.Lambda(lambda t: t * 2.0 + 1.0, name="affine"), "lambda_model")
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("user code")  # a space in the path on purpose
    (folder / "my_layers.py").write_text(textwrap.dedent(MY_LAYERS))
    proc = subprocess.run(
        [sys.executable, "-c", WRITE_MODELS, str(folder)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return folder


def _convert(model: Path, out: Path, *flags: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline", "convert", str(model), str(out), *flags]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize(
    ("name", "flag"),
    [("custom", "--custom-objects"), ("lambda_model", "--unsafe-deserialization")],
)
def test_without_the_flag_the_error_names_it(files, tmp_path, name, flag):
    proc = _convert(files / f"{name}.keras", tmp_path)
    assert proc.returncode != 0
    assert f"[export] error: '{files / name}.keras' could not be loaded" in proc.stderr
    assert f"pass {flag}" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / artifacts.STAGE1).exists()


@pytest.mark.parametrize(
    ("name", "flags", "params"),
    [
        ("custom", ("--custom-objects", "my_layers.py"), 57),
        ("lambda_model", ("--unsafe-deserialization",), 47),
    ],
)
def test_with_the_flag_it_converts(files, tmp_path, name, flags, params):
    flags = tuple(str(files / f) if f.endswith(".py") else f for f in flags)
    proc = _convert(files / f"{name}.keras", tmp_path, *flags)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if "--custom-objects" in flags:  # the log says it runs the user's module
        assert f"importing {files / 'my_layers.py'}" in proc.stderr
    report = json.loads((tmp_path / artifacts.REPORT).read_text())
    assert report["passed"]
    assert report["torch"]["param_count"] == report["torch"]["keras_param_count"] == params
