"""End to end: ``python -m pipeline convert lenet4`` (the chain ``make convert`` runs), its
artifacts, its report, and the emitted model used with nothing but torch."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import onnx
import pytest

from pipeline import anchor_later, artifacts
from pipeline import reference as ref
from pipeline.compare import FLOAT32_TOL
from tests.e2e.golden import assert_model_py_matches

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "lenet4.json"


def test_progress_and_table_are_shown(converted):
    _, stdout, stderr = converted
    for stage in ("export", "passes", "torch", "check"):
        assert f"[{stage}] started" in stdout and f"[{stage}] done in" in stdout
    assert "artifact      case         output" in stdout
    assert "top-1 agreement 100.00%" in stdout
    # the steps, each once, and no line of TensorFlow's native start-up log
    for said in (
        "[export ",
        "] tf2onnx: converting and optimizing lenet4 (registry:lenet4: 9 layers, 69362 parameters)",
        "[passes ",
        "] onnxruntime: stage2.onnx against Keras",
        "[torch ",
        "] torch.export: model.pt2, then model.onnx from it; each against Keras",
    ):
        assert said in stderr, stderr
    assert "absl::InitializeLog" not in stderr and "I0000" not in stderr
    # a pass that changed nothing is not said (-v says it)
    assert "fold_shapes" in stderr and "tensordot" not in stderr
    assert len(stderr.splitlines()) < 30, stderr


# lstm_text: tf2onnx once logged that it could not infer its LSTMs' placeholders' shapes
@pytest.mark.parametrize("model", ["lenet4", "lstm_text"])
def test_quiet_says_nothing_and_still_writes_the_report(tmp_path, model):
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "-q", "convert", model, str(tmp_path / "q")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (proc.stdout, proc.stderr) == ("", "")
    assert json.loads((tmp_path / "q" / artifacts.REPORT).read_text())["passed"]


def test_report_holds_every_stage_within_tolerance(converted):
    out, *_ = converted
    report = json.loads((out / artifacts.REPORT).read_text())
    assert report["passed"] and report["problems"] == []
    seen = {(c["artifact"], c["case"]) for c in report["comparisons"]}
    artifacts_checked = ("stage1.onnx", "stage2.onnx", "model.py", "model.pt2", "model.onnx")
    for artifact in (*artifacts_checked, "optimized", "optimized_cl"):  # optimize_for_inference
        for case in ("batch1", "batch4", "digits_test"):
            assert (artifact, case) in seen
    assert max(c["max_abs"] for c in report["comparisons"]) <= FLOAT32_TOL
    # rule 1 passed them all, so no float64 anchor was made (pipeline.anchor_later)
    assert all(c["exact_rel"] is None and c["rule"] == "float32" for c in report["comparisons"])
    export = json.loads((out / artifacts.EXPORT_REPORT).read_text())
    assert export["float64_anchor"] == anchor_later.DEFERRED
    assert not (out / artifacts.ANCHOR).exists()
    (accuracy,) = report["torch"]["accuracy"]
    assert accuracy["top1_agreement"] == 1.0 and accuracy["keras_accuracy"] > 0.9
    assert report["torch"]["param_count"] == report["torch"]["keras_param_count"] == 69362


def test_model_py_matches_golden(converted):
    """The emitted source, whole: any change to what a user reads shows as a diff."""
    out, *_ = converted
    assert_model_py_matches("lenet4", (out / artifacts.MODEL_PY).read_text())


def test_structure_matches_golden(converted):
    """Op histogram of stage2.onnx and module kinds of model.py; regenerate on purpose with
    UPDATE_GOLDEN=1 and review the diff."""
    out, *_ = converted
    proto = onnx.load(out / artifacts.STAGE2)
    report = json.loads((out / artifacts.REPORT).read_text())
    structure = {
        "stage2_ops": dict(sorted(Counter(n.op_type for n in proto.graph.node).items())),
        "torch_modules": report["torch"]["module_types"],
    }
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(structure, indent=2) + "\n")
    assert structure == json.loads(GOLDEN.read_text())
    assert not {"Transpose", "Shape", "Gather", "Slice", "Concat", "MatMul"} & set(
        structure["stage2_ops"]
    )
    inits = {i.name for i in proto.graph.initializer}
    for gemm in (n for n in proto.graph.node if n.op_type == "Gemm"):
        assert gemm.input[1] in inits and gemm.input[2] in inits


def test_emitted_model_needs_only_torch(converted):
    out, *_ = converted
    code = f"""
import sys, numpy as np, torch
sys.path.insert(0, {str(out)!r})
import model
net = model.load()
data = np.load({str(out / artifacts.REFERENCE)!r})
x = torch.from_numpy(data["input/batch4/input_1"]).permute(0, 3, 1, 2)
y = net(x).detach().numpy()
err = float(np.abs(y - data["output/batch4/predictions"]).max())
heavy = [m for m in ("onnx", "onnx2torch", "tensorflow", "keras", "pipeline") if m in sys.modules]
print(err, heavy)
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=out, check=True
    )
    err, heavy = proc.stdout.split(" ", 1)
    assert float(err) <= FLOAT32_TOL
    assert heavy.strip() == "[]"


def test_the_deployable_files_load_as_users_load_them(converted):
    """model.pt2 with torch alone, at a batch size export never saw; model.onnx in
    onnxruntime with model.py's input name and layout, and a dynamic batch."""
    out, *_ = converted
    code = f"""
import json, numpy as np, torch, onnxruntime as ort
data = np.load({str(out / artifacts.REFERENCE)!r})
x = data["input/digits_test/input_1"][:7].transpose(0, 3, 1, 2).copy()
expected = data["output/digits_test/predictions"][:7]
net = torch.export.load({str(out / artifacts.MODEL_PT2)!r}).module()
pt2 = float(np.abs(net(input_1=torch.from_numpy(x)).detach().numpy() - expected).max())
session = ort.InferenceSession({str(out / artifacts.MODEL_ONNX)!r})
(port,) = session.get_inputs()
onnx = float(np.abs(session.run(None, {{"input_1": x}})[0] - expected).max())
print(json.dumps([pt2, onnx, port.name, port.shape]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    pt2, onnx_error, name, shape = json.loads(proc.stdout.splitlines()[-1])
    assert pt2 <= FLOAT32_TOL and onnx_error <= FLOAT32_TOL
    assert name == "input_1" and isinstance(shape[0], str) and shape[1:] == [1, 28, 28]


def test_the_converted_lenet4_fine_tunes_in_torch(converted):
    """The fine-tune demo: the torch-side digits equal Keras' test inputs (else it exits),
    one more epoch keeps the accuracy (96.67% -> 97.78% measured), and a new head on the
    frozen converted convs learns from chance (11.11% -> 90.56%)."""
    out, *_ = converted
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.torch_stage.finetune_demo", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = {}
    for line in proc.stdout.splitlines():
        name, rest = line[:9].strip(), line[9:].split()
        found[name] = (float(rest[2].rstrip("%")), float(rest[4].rstrip("%")))
    assert found["continue"][0] > 95 and found["continue"][1] > 95, proc.stdout
    assert found["new head"][0] < 30 and found["new head"][1] > 80, proc.stdout


def _make_n(*targets: str) -> list[str]:
    proc = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", *targets, "MODEL=lenet4", "PY=python"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in proc.stdout.splitlines() if "-m pipeline" in line]


def test_make_convert_runs_the_commands_of_the_single_stage_targets():
    """``make convert`` is ``python -m pipeline convert``, whose stage processes run exactly
    the commands of ``make export``, ``passes``, ``torch`` and ``check``."""
    from pipeline import convert

    assert _make_n("convert") == ["python -m pipeline convert lenet4 build/lenet4"]
    chained = [
        " ".join(["python -m pipeline", *step])
        for step in convert.steps("lenet4", Path("build/lenet4"))
    ]
    assert chained == _make_n("export", "passes", "torch", "check")
    assert chained[1] == (
        "python -m pipeline passes build/lenet4/stage1.onnx build/lenet4/stage2.onnx"
    )


def test_unconvertible_model_stops_with_a_clear_error(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "convert", "unconvertible", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 3
    assert "[export] error:" in proc.stderr
    assert "(Erfc) of Keras layer 'custom_erfc' (Erfc)" in proc.stderr
    assert "stage 'export' failed" in proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_check_fails_loudly_on_a_mismatch(converted, tmp_path):
    """A reference that no longer matches: check writes report.json saying so and exits 4."""
    import shutil

    import numpy as np

    out, *_ = converted
    copy = tmp_path / "tampered"
    shutil.copytree(out, copy)
    with np.load(copy / artifacts.REFERENCE) as data:
        arrays = {k: data[k] for k in data.files}
    # Keras' output and a float64 anchor made for this reference both: a reference the
    # artifacts no longer match (Keras' output alone changed, the float64 copy the check
    # would make would rightly see the artifacts at the exact answer)
    shifted = arrays["output/batch4/predictions"] + 1e-3
    arrays["output/batch4/predictions"] = shifted
    np.savez(copy / artifacts.REFERENCE, **arrays)
    tampered = ref.load(copy / artifacts.REFERENCE)
    cases = {
        name: dataclasses.replace(case, exact={"predictions": case.outputs["predictions"]})
        for name, case in tampered.cases.items()
    }
    anchor_later.save(copy / artifacts.REFERENCE, dataclasses.replace(tampered, cases=cases), "")
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "check", str(copy)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 4
    assert "MISMATCH" in proc.stdout and "does not match Keras" in proc.stderr
    report = json.loads((copy / artifacts.REPORT).read_text())
    assert not report["passed"]
    # the reference export wrote and the passes and torch stages read, then batch4 of
    # stage1.onnx, stage2.onnx, model.py, its two optimize_for_inference() forms, model.pt2
    # and model.onnx
    stale, mismatches = report["problems"][:3], report["problems"][3:]
    assert [line.split(" (edited")[0] for line in stale] == [
        "reference.npz changed after the export stage wrote it",
        "reference.npz changed after the passes stage read it",
        "reference.npz changed after the torch stage read it",
    ]
    assert len(mismatches) == 7 and all("[batch4]" in line for line in mismatches), mismatches
    # every stage read the old reference: none of their recorded comparisons is taken
    assert report["recorded"] == {"export": False, "passes": False, "torch": False}


def test_check_takes_the_stages_own_comparisons_and_recheck_finds_the_same(converted, tmp_path):
    """Each stage's files unchanged, check takes the comparisons it recorded; ``--recheck``
    runs every one again (onnxruntime here, model.py and model.pt2 in a fresh torch
    process) and finds the same numbers, bit for bit."""
    import shutil

    out, stdout, _ = converted
    report = json.loads((out / artifacts.REPORT).read_text())
    assert report["recorded"] == {"export": True, "passes": True, "torch": True}
    assert "as the export, passes, torch stage(s) recorded them" in stdout
    copy = tmp_path / "recheck"
    shutil.copytree(out, copy)
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "check", str(copy), "--recheck"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = json.loads((copy / artifacts.REPORT).read_text())
    assert again["recorded"] == {"export": False, "passes": False, "torch": False}
    assert again["comparisons"] == report["comparisons"]
    assert again["torch"] == report["torch"]
    # the op counts and Keras' layers the recorded run read from export.json and
    # passes.json, not from the ONNX files, are what the files say
    assert again["ops"] == report["ops"] and again["keras_layers"] == report["keras_layers"]
    # each file hashed once, the same digests (`again` also has what later tests wrote)
    assert {k: again["sha256"][k] for k in report["sha256"]} == report["sha256"]


def test_check_notices_an_artifact_edited_between_stages(converted, tmp_path):
    """stage2.onnx changed by hand after the torch stage read it (same numbers: only its
    producer name): check does not vouch for a model.py made from another graph."""
    import shutil

    out, *_ = converted
    copy = tmp_path / "edited"
    shutil.copytree(out, copy)
    proto = onnx.load(copy / artifacts.STAGE2)
    proto.producer_name = "edited by hand"
    onnx.save(proto, copy / artifacts.STAGE2)
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "check", str(copy)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 4, proc.stderr[-2000:]
    problems = json.loads((copy / artifacts.REPORT).read_text())["problems"]
    assert problems == [
        "stage2.onnx changed after the passes stage wrote it (edited by hand, or from another "
        "run): re-run the stages from the one that writes it",
        "stage2.onnx changed after the torch stage read it (edited by hand, or from another "
        "run): re-run the stages from the one that writes it",
    ]


def test_bench_measures_every_runner(converted):
    """A smoke test of `make bench`: every runner timed, the same numbers computed.
    (Speed itself is never asserted in tests; see bench.json.)"""
    out, *_ = converted
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "bench", str(out), "--model", "lenet4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "bench.json").read_text())
    runners = {(r["runner"], r["batch"]) for r in report["results"]}
    # Keras, onnxruntime, emitted x2, torch.compile, AOTInductor, naive, hand-written
    assert len(runners) == 8 * 2
    for form in ("torch.compile", "aoti"):  # each compiled form held to Keras before timing
        assert report["compiled"][form] and all(c["passed"] for c in report["compiled"][form])
    hand = [r for r in report["results"] if r["runner"].startswith("hand-written")]
    assert all(r["max_abs_vs_emitted"] <= FLOAT32_TOL for r in hand)
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "denormals flushed to zero" in proc.stdout
    assert [t["batch"] for t in report["targets"]] == [1, 8]
    assert all({"fastest_vs_naive", "fastest_vs_handwritten"} <= set(t) for t in report["targets"])


def test_check_writes_the_report_page_next_to_report_json(converted):
    out, stdout, _ = converted
    report = json.loads((out / artifacts.REPORT).read_text())
    assert report["artifacts"][artifacts.REPORT_HTML] == str(out / artifacts.REPORT_HTML)
    html = (out / artifacts.REPORT_HTML).read_text()
    assert "PASS: lenet4 matches Keras" in html and "<code>fc1</code>" in html
    assert str(out / artifacts.REPORT_HTML) in stdout  # named among check's files
