"""A legacy LeNet4 written by ``tf_keras`` (Keras 2), as ``.h5`` and as a SavedModel directory,
through every stage: the torch module equals what ``tf_keras`` computes, within 1e-5."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import onnx
import pytest

from models import keras2_lenet4
from pipeline import artifacts
from pipeline.compare import FLOAT32_TOL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def keras2_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("keras2_files")
    proc = subprocess.run(
        [sys.executable, "-m", "models.keras2_lenet4", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.mark.parametrize("name", [keras2_lenet4.H5, keras2_lenet4.SAVEDMODEL])
def test_a_keras2_lenet4_converts_and_matches_tf_keras(keras2_files, tmp_path, name):
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "convert", str(keras2_files / name), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    report = json.loads((tmp_path / artifacts.REPORT).read_text())
    assert report["passed"] and report["problems"] == []
    exported = json.loads((tmp_path / artifacts.EXPORT_REPORT).read_text())
    assert "read by tf_keras" in exported["source"]  # the reference is tf_keras' outputs
    torch_rows = [c for c in report["comparisons"] if c["artifact"] == artifacts.MODEL_PY]
    assert torch_rows and max(c["max_rel"] for c in torch_rows) <= FLOAT32_TOL
    assert report["torch"]["param_count"] == report["torch"]["keras_param_count"] == 37466
    ops = Counter(n.op_type for n in onnx.load(tmp_path / artifacts.STAGE2).graph.node)
    assert ops["Transpose"] == 0 and ops["BatchNormalization"] == 2  # BN after Dense kept
