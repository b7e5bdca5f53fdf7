"""A corpus of broken inputs through ``python -m pipeline convert``: each gives one clear
error line, a non-zero exit, no traceback, no artifact (none half-written), and leaves the
input as it was. The files are written at test time by Keras in a child process."""

from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MAKE_FILES = r"""
import os, sys, zipfile
import numpy as np, keras
root = sys.argv[1]
def path(name): return os.path.join(root, name)
inputs = keras.Input((4,), name="x")
good = keras.Model(inputs, keras.layers.Dense(2, name="d")(inputs))
good.save(path("good.keras"))
good.save_weights(path("weights_only.weights.h5"))
data = open(path("good.keras"), "rb").read()
open(path("truncated.keras"), "wb").write(data[: len(data) // 2])
with zipfile.ZipFile(path("good.keras")) as z, zipfile.ZipFile(path("bad_config.keras"), "w") as o:
    for item in z.infolist():
        o.writestr(item, b"{not json" if item.filename == "config.json" else z.read(item.filename))
open(path("empty.keras"), "wb").close()
open(path("random.keras"), "wb").write(np.random.default_rng(0).bytes(3000))
open(path("text.h5"), "w").write("not hdf5")
os.makedirs(path("a directory"))
os.makedirs(path("ünï cödé dir"))
good.save(path("ünï cödé dir/my model.keras"))
nan = keras.Model(inputs, keras.layers.Dense(2, name="nan_dense")(inputs))
nan.get_layer("nan_dense").kernel.assign(np.full((4, 2), np.nan, "float32"))
nan.save(path("nan_weights.keras"))
open(path("a_file"), "w").write("in the way of OUT")
keras.Sequential([keras.layers.Dense(2, name="d")]).save(path("no_inputs.keras"))
scores = keras.layers.Dense(3, name="scores")(inputs)
keras.Model(inputs, keras.ops.argmax(scores, axis=-1)).save(path("argmax.keras"))
above = keras.ops.cast(keras.ops.greater(scores, 0.0), "int32")
keras.Model(inputs, above).save(path("int_output.keras"))
keras.mixed_precision.set_global_policy("mixed_float16")
mixed_in = keras.Input((4,), name="x")
hidden = keras.layers.Dense(3, name="half")(mixed_in)
keras.Model(mixed_in, keras.layers.Dense(2, dtype="float32", name="d")(hidden)).save(
    path("mixed_float16.keras"))
"""

# input file (in the corpus directory) -> what the error line must say
BROKEN = {
    "empty.keras": "is empty (0 bytes)",
    "truncated.keras": "is not a .keras file: a .keras file is a zip archive",
    "random.keras": "is not a .keras file: a .keras file is a zip archive",
    "bad_config.keras": "could not be loaded as a Keras model",
    "weights_only.weights.h5": "No model config found",
    "text.h5": "is not an HDF5 file",
    "a directory": "is a directory without saved_model.pb: not a SavedModel",
    "missing.keras": "model file not found",
    "nan_weights.keras": "layer 'nan_dense' (Dense): weight 'nan_dense/kernel' holds NaN",
    "mixed_float16.keras": "layer 'half' (Dense) computes in float16",
    "no_inputs.keras": "holds a model with no inputs (Sequential 'sequential' was saved before",
    "argmax.keras": "(Bitcast) of Keras layer 'argmax' (Argmax)",
}
# a good file refused for the flags it is given: (file, flags, what the error line says)
FLAGGED = {
    "over the memory budget": (
        "good.keras",
        ["--memory-budget", "512M"],
        "converting it needs about 1.0 GB of memory",
    ),
    "out under a file": ("good.keras", [], "cannot write to"),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    subprocess.run([sys.executable, "-c", MAKE_FILES, str(root)], check=True, cwd=ROOT)
    return root


def _digest(path: Path) -> str | None:
    if not path.exists():
        return None
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()


def _convert(model: Path, out: Path, *flags: str, **limits) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline", "convert", str(model), str(out), *flags]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, **limits)


@pytest.fixture(scope="module")
def refused(corpus, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    outs = tmp_path_factory.mktemp("outs")

    def run(case: str):
        model, flags, _ = FLAGGED.get(case, (case, [], ""))
        model = corpus / model
        out = corpus / "a_file" / "out" if case == "out under a file" else outs / case
        before = _digest(model)
        proc = _convert(model, out, *flags)
        assert _digest(model) == before, "the input was modified"
        return case, (proc, out)

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(run, [*BROKEN, *FLAGGED]))


@pytest.mark.parametrize("case", [*BROKEN, *FLAGGED])
def test_a_broken_input_gives_one_clear_error_and_no_artifact(case, refused):
    proc, out = refused[case]
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Traceback" not in output, output[-3000:]
    errors = [line for line in output.splitlines() if line.startswith("[export] error: ")]
    assert len(errors) == 1, output[-3000:]
    expected = BROKEN[case] if case in BROKEN else FLAGGED[case][2]
    assert expected in errors[0], errors[0]
    assert not out.exists() or not any(out.iterdir()), sorted(out.iterdir())


def test_a_path_with_spaces_and_unicode_converts(corpus, tmp_path):
    model = corpus / "ünï cödé dir" / "my model.keras"
    before = _digest(model)
    proc = _convert(model, tmp_path / "out dir ü")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "out dir ü" / "model.py").is_file()
    assert _digest(model) == before


def _small_file_limit(size: int):
    """A disk that fills up: writes past ``size`` bytes fail (EFBIG; Python ignores SIGXFSZ)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def test_a_full_disk_fails_the_stage_cleanly_and_leaves_no_partial_stage(corpus, tmp_path):
    # 4 KB: stage 1's files fit; stage 2 writes stage2.onnx, then its report does not fit
    proc = _convert(corpus / "good.keras", tmp_path, preexec_fn=_small_file_limit(4096))
    assert proc.returncode == 5, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "] error: " in line]
    assert len(errors) == 1 and errors[0].startswith("[passes] error: writing"), errors
    assert "File too large; nothing was left half-written" in errors[0]
    # the export stage completed; of the failed passes stage nothing is left, no temp file
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "export.json",
        "reference.npz",
        "stage1.onnx",
    ]


def test_an_integer_output_converts_and_is_compared_exactly(corpus, tmp_path):
    proc = _convert(corpus / "int_output.keras", tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    rules = {(c["artifact"], c["rule"], c["tol"]) for c in report["comparisons"]}
    converted = ("stage1.onnx", "stage2.onnx", "model.py", "model.pt2", "model.onnx")
    converted += ("optimized", "optimized_cl")  # model.py's optimize_for_inference(), both ways
    assert rules == {(a, "exact", 0.0) for a in converted}
    assert "x = x.to(torch.int32)" in (tmp_path / "model.py").read_text()
