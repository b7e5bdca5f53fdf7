"""Bad input: a clear message, a non-zero exit, no half-written artifact, input untouched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.graphs import model, node, value

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_missing_stage1_file(tmp_path):
    proc = _cli("passes", str(tmp_path / "nope.onnx"), str(tmp_path / "out.onnx"))
    assert proc.returncode == 2
    assert "ONNX model not found" in proc.stderr and "nope.onnx" in proc.stderr
    assert not (tmp_path / "out.onnx").exists()


def test_not_an_onnx_file_is_refused_and_left_as_is(tmp_path):
    bad = tmp_path / "stage1.onnx"
    bad.write_bytes(b"this is not protobuf \x00\xff" * 10)
    before = bad.read_bytes()
    (tmp_path / "reference.npz").write_bytes(b"")
    proc = _cli("passes", str(bad), str(tmp_path / "stage2.onnx"))
    assert proc.returncode == 2
    assert "is not an ONNX model" in proc.stderr
    assert bad.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reference.npz", "stage1.onnx"]


def test_missing_reference(tmp_path):
    import onnx

    onnx.save(
        model([node("Relu", ["x"], ["y"])], [value("x", ["N", 2])], [value("y", ["N", 2])]),
        tmp_path / "stage1.onnx",
    )
    proc = _cli("passes", str(tmp_path / "stage1.onnx"), str(tmp_path / "stage2.onnx"))
    assert proc.returncode == 2 and "reference file not found" in proc.stderr
    assert not (tmp_path / "stage2.onnx").exists()


def test_check_on_an_empty_directory(tmp_path):
    proc = _cli("check", str(tmp_path))
    assert proc.returncode == 2 and "Run the export stage first" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_stage_started_ahead_runs_only_when_told(tmp_path):
    """convert starts each stage's process ahead of its turn (pipeline/convert.py): it
    imports, then waits on its standard input; without a "go" (convert stopped, or died) it
    ends without running or touching a file, with one it runs as if started then."""
    command = [sys.executable, "-m", "pipeline", "check", str(tmp_path), "--when-told"]
    for told in ("", "stop\n"):
        proc = subprocess.run(command, cwd=ROOT, input=told, capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stdout == "", proc.stderr[-2000:]
        assert list(tmp_path.iterdir()) == []
    proc = subprocess.run(command, cwd=ROOT, input="go\n", capture_output=True, text=True)
    assert proc.stdout.startswith("[check] started")
    assert proc.returncode == 2 and "Run the export stage first" in proc.stderr


def test_the_keras2torch_console_script_has_the_same_subcommands():
    """pyproject's [project.scripts]: installed next to this interpreter by `make`/pip."""
    script = Path(sys.executable).parent / "keras2torch"
    assert script.is_file(), "run `pip install -e .` (make does)"
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: keras2torch")
    for command in ("export", "passes", "torch", "check", "convert", "diagnose", "fuzz", "zoo"):
        assert command in proc.stdout
    missing = subprocess.run(
        [str(script), "check", "/nonexistent/out"], capture_output=True, text=True
    )
    assert missing.returncode == 2 and "[check] error:" in missing.stderr
