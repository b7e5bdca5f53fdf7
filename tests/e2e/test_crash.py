"""No traceback reaches the user: an exception planted in each stage ends it with one line
(the stage, the Keras layer it was working on where the frames tell, the exception), the
traceback in OUT/<stage>.traceback.txt and exit code 6, never a refusal's or a mismatch's."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import artifacts
from pipeline.errors import InternalError

ROOT = Path(__file__).resolve().parents[2]
PLANTED = "planted by the test"


def _run_planted(module: str, function: str, argv: list[str]) -> subprocess.CompletedProcess:
    """``python -m pipeline ARGV`` with ``module.function`` raising RuntimeError."""
    code = f"""
import importlib, sys
target = importlib.import_module({module!r})
def planted(*args, **kwargs):
    raise RuntimeError({PLANTED!r})
setattr(target, {function!r}, planted)
from pipeline.cli import main
sys.exit(main({argv!r}))
"""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def _assert_one_line(proc: subprocess.CompletedProcess, stage: str, out: Path) -> str:
    output = proc.stdout + proc.stderr
    assert proc.returncode == InternalError.exit_code, output
    assert "Traceback" not in output, output
    (line,) = [x for x in output.splitlines() if x.startswith(f"[{stage}] internal error: ")]
    assert f"RuntimeError: {PLANTED}" in line
    trace = out / f"{stage}.traceback.txt"
    assert str(trace) in line
    assert "Traceback (most recent call last)" in trace.read_text() and PLANTED in trace.read_text()
    return line


@pytest.fixture
def converted(small_models, tmp_path) -> Path:
    """A copy of the small 'activations' model's stage files (Dense layers, activations)."""
    source, result = small_models["activations"]
    assert result["exit"] == 0
    out = tmp_path / "activations"
    shutil.copytree(source, out)
    return out


def test_an_exception_in_export_is_one_line(tmp_path):
    out = tmp_path / "out"
    proc = _run_planted(
        "pipeline.export.tf2onnx_export", "to_onnx", ["export", "layer:Dense", str(out)]
    )
    _assert_one_line(proc, "export", out)
    assert not (out / artifacts.STAGE1).exists()


def test_an_exception_in_a_pass_names_the_pass_and_the_keras_layer(converted):
    stage1, stage2 = converted / artifacts.STAGE1, converted / artifacts.STAGE2
    proc = _run_planted("pipeline.passes.gemm", "bias_add", ["passes", str(stage1), str(stage2)])
    line = _assert_one_line(proc, "passes", converted)
    assert "in pass 'matmul_add_to_gemm', working on Keras layer '" in line
    assert "(Dense)" in line
    assert not stage2.exists()


def test_an_exception_in_the_torch_stage_names_the_keras_layer(converted):
    proc = _run_planted(
        "pipeline.torch_stage.emit",
        "fill",
        ["torch", str(converted / artifacts.STAGE2), str(converted)],
    )
    line = _assert_one_line(proc, "torch", converted)
    assert "working on Keras layer '" in line
    assert not (converted / artifacts.MODEL_PY).exists()


def test_an_exception_in_the_check_is_one_line(converted):
    proc = _run_planted("pipeline.check", "table", ["check", str(converted)])
    _assert_one_line(proc, "check", converted)


def test_a_later_run_of_the_stage_removes_an_earlier_crash_traceback(converted):
    """The traceback of a crash stays until the stage runs again: a later run that succeeds
    leaves none behind to be read as its own."""
    stage1, stage2 = converted / artifacts.STAGE1, converted / artifacts.STAGE2
    proc = _run_planted("pipeline.passes.gemm", "bias_add", ["passes", str(stage1), str(stage2)])
    trace = converted / "passes.traceback.txt"
    assert proc.returncode == InternalError.exit_code and trace.is_file()
    again = subprocess.run(
        [sys.executable, "-m", "pipeline", "-q", "passes", str(stage1), str(stage2)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert not trace.exists() and stage2.is_file()
