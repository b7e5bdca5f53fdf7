"""``python -m pipeline diagnose``: with a bug planted in one artifact, it names the Keras
layer where the numbers start to differ (and ``check`` says so in its error)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from pipeline import artifacts

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


@pytest.fixture(scope="module")
def bn_block(small_models) -> Path:
    out, result = small_models["bn_block"]  # converted once for the session (conftest.py)
    assert result["exit"] == 0, result["error"][-3000:]
    return out


def _planted(source: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "planted"
    shutil.copytree(source, copy)
    return copy


def _edit_stage2(out: Path, edit) -> None:
    proto = onnx.load(out / artifacts.STAGE2)
    edit(proto)
    onnx.save(proto, out / artifacts.STAGE2)


def _first(out: Path) -> str:
    proc = _run("diagnose", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "<- first over the bar" in proc.stdout
    return json.loads((out / "diagnose.json").read_text())["first_diverging_layer"]


def test_a_flipped_conv_kernel_in_stage2_is_named(bn_block, tmp_path):
    out = _planted(bn_block, tmp_path)

    def flip(proto):
        kernel = next(i for i in proto.graph.initializer if i.name == "dw_conv.weight")
        kernel.CopyFrom(
            numpy_helper.from_array(numpy_helper.to_array(kernel)[..., ::-1, :].copy(), kernel.name)
        )

    _edit_stage2(out, flip)
    assert _first(out) == "dw_conv"


def test_a_changed_batchnorm_epsilon_is_named(bn_block, tmp_path):
    out = _planted(bn_block, tmp_path)

    def epsilon(proto):
        node = next(n for n in proto.graph.node if n.name == "stem_bn")
        next(a for a in node.attribute if a.name == "epsilon").f = 0.5

    _edit_stage2(out, epsilon)
    assert _first(out) == "stem_bn"


def test_dense_rows_permuted_in_weights_pt_are_named_and_check_says_so(bn_block, tmp_path):
    out = _planted(bn_block, tmp_path)
    permute = (  # torch in its own process (this one is not the torch side)
        "import sys, torch; path = sys.argv[1]; state = torch.load(path, weights_only=True); "
        "state['logits.weight'] = state['logits.weight'].flip(1).contiguous(); "
        "torch.save(state, path)"
    )
    subprocess.run([sys.executable, "-c", permute, str(out / artifacts.WEIGHTS)], check=True)
    assert _first(out) == "logits"
    rows = json.loads((out / "diagnose.json").read_text())["layers"]
    before = [r for r in rows if r["layer"] != "logits"]
    assert all(not r["over_bar"] for r in before)  # only the planted layer and what follows
    proc = _run("check", str(out))
    assert proc.returncode == 4
    assert "Keras layer 'logits' is the first that differs" in proc.stderr
    assert np.isfinite(json.loads((out / "diagnose.json").read_text())["tolerance"])
