"""A stage whose own check fails writes nothing in OUT, keeps its files in OUT/failed with
the earlier stages' (so that diagnose can compare each Keras layer there), runs diagnose and
names the first Keras layer that differs. Each stage gets a planted bug: a weight negated in
stage1.onnx, in stage2.onnx after the passes, in the torch stage's state_dict."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import artifacts
from pipeline.errors import MismatchError

ROOT = Path(__file__).resolve().parents[2]
# Each planted bug: module, function, and the code wrapping it (``original`` is the real one)
NEGATE_ONNX_WEIGHT = """
import numpy as np
from onnx import numpy_helper
def negate(proto):
    for index, tensor in enumerate(proto.graph.initializer):
        array = numpy_helper.to_array(tensor)
        if array.ndim == 2 and array.size > 4:
            proto.graph.initializer[index].CopyFrom(numpy_helper.from_array(-array, tensor.name))
            return
"""
PLANTS = {
    "export": (
        "pipeline.export.annotate",
        "annotate",
        NEGATE_ONNX_WEIGHT
        + "def planted(proto, model):\n    original(proto, model)\n    negate(proto)\n",
    ),
    "passes": (
        "pipeline.passes.gemm",
        "MatMulAddToGemm.rewrite",
        "import onnx_ir as ir\n"
        "def planted(self, model, skips):\n"
        "    modified = original(self, model, skips)\n"
        "    for value in model.graph.initializers.values():\n"
        "        array = value.const_value.numpy()\n"
        "        if array.ndim == 2 and array.size > 4 and value.uses():\n"
        "            value.const_value = ir.tensor(-array, name=value.name)\n"
        "            return modified\n"
        "    return modified\n",
    ),
    "torch": (
        "pipeline.torch_stage",
        "emit_source",
        "def planted(*args):\n"
        "    text, state = original(*args)\n"
        "    key = next(k for k in state if k.endswith('.weight') and state[k].dim() == 2)\n"
        "    state[key] = -state[key]\n"
        "    return text, state\n",
    ),
}


def _run_planted(stage: str, argv: list[str]) -> subprocess.CompletedProcess:
    module, function, code = PLANTS[stage]
    name = function.rsplit(".", 1)[-1]  # a function of the module, or a class's method
    script = f"""
import importlib, sys
target = importlib.import_module({module!r})
for part in {function!r}.split(".")[:-1]:
    target = getattr(target, part)
original = getattr(target, {name!r})
{code}
setattr(target, {name!r}, planted)
from pipeline.cli import main
sys.exit(main({argv!r}))
"""
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=900
    )


@pytest.fixture
def converted(small_models, tmp_path) -> Path:
    source, result = small_models["activations"]  # Dense layers, every Keras activation
    assert result["exit"] == 0
    out = tmp_path / "activations"
    shutil.copytree(source, out)
    return out


def _assert_kept(proc, stage: str, out: Path, own: list[str], earlier: list[str]) -> None:
    output = proc.stdout + proc.stderr
    assert proc.returncode == MismatchError.exit_code, output
    assert "Traceback" not in output
    (line,) = [x for x in output.splitlines() if x.startswith(f"[{stage}] error: ")]
    assert "is the first that differs" in line and "Keras layer '" in line, line
    failed = out / artifacts.FAILED
    assert f"files are in {failed}" in line
    for name in own:
        assert not (out / name).exists(), name  # nothing in OUT can pass for a good conversion
        assert (failed / name).is_file(), name
    for name in earlier:
        assert (failed / name).is_file(), name
    assert (failed / "diagnose.json").is_file()
    again = subprocess.run(
        [sys.executable, "-m", "pipeline", "diagnose", str(failed)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0 and "<- first over the bar" in again.stdout, again.stderr


def test_a_stage1_mismatch_keeps_its_files_and_names_the_layer(tmp_path):
    out = tmp_path / "out"
    proc = _run_planted("export", ["export", "activations", str(out)])
    own = [artifacts.STAGE1, artifacts.REFERENCE, artifacts.KERAS_MODEL, artifacts.EXPORT_REPORT]
    _assert_kept(proc, "export", out, own, [])


def test_a_stage2_mismatch_keeps_its_files_and_names_the_layer(converted):
    (converted / artifacts.STAGE2).unlink()
    argv = ["passes", str(converted / artifacts.STAGE1), str(converted / artifacts.STAGE2)]
    proc = _run_planted("passes", argv)
    _assert_kept(
        proc, "passes", converted, [artifacts.STAGE2], [artifacts.STAGE1, artifacts.REFERENCE]
    )


def test_a_torch_mismatch_keeps_its_files_and_names_the_layer(converted):
    for name in (artifacts.MODEL_PY, artifacts.WEIGHTS, artifacts.MODEL_PT2, artifacts.MODEL_ONNX):
        (converted / name).unlink()
    proc = _run_planted("torch", ["torch", str(converted / artifacts.STAGE2), str(converted)])
    _assert_kept(
        proc,
        "torch",
        converted,
        [artifacts.MODEL_PY, artifacts.WEIGHTS],
        [artifacts.STAGE1, artifacts.STAGE2, artifacts.REFERENCE],
    )


def test_the_next_run_of_a_stage_removes_failed(converted):
    failed = converted / artifacts.FAILED
    failed.mkdir()
    (failed / artifacts.STAGE2).write_text("stale")
    argv = [sys.executable, "-m", "pipeline", "passes"]
    argv += [str(converted / artifacts.STAGE1), str(converted / artifacts.STAGE2)]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not failed.exists()
