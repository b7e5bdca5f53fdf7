"""When the check stage may take a stage's recorded comparisons as they are
(``pipeline.recorded``): every file the stage wrote and read unchanged, the reference among
them, and every case the artifact must run covered; otherwise they are run again."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline import artifacts, recorded
from pipeline import reference as ref
from pipeline.report import digests

CASES = ("batch1", "batch4")


def _reference() -> ref.Reference:
    case = ref.Case({"x": np.zeros((1, 3), np.float32)}, {"y": np.ones((1, 2), np.float32)})
    return ref.Reference(("x",), ("y",), dict.fromkeys(CASES, case))


def _comparisons(artifact: str, cases=CASES) -> list[dict]:
    reference = _reference()
    return [reference.compare(artifact, case, "y", np.ones((1, 2))).to_json() for case in cases]


@pytest.fixture
def out(tmp_path):
    """A passes stage's files and report, as the stage leaves them."""
    ref.save(tmp_path / artifacts.REFERENCE, _reference())
    (tmp_path / artifacts.STAGE1).write_bytes(b"stage 1")
    (tmp_path / artifacts.STAGE2).write_bytes(b"stage 2")
    _record(tmp_path, _comparisons(artifacts.STAGE2))
    return tmp_path


def _record(out, comparisons, inputs=(artifacts.STAGE1, artifacts.REFERENCE), **extra) -> None:
    report = {
        "stage": "passes",
        "comparisons": comparisons,
        "sha256": digests([out / artifacts.STAGE2]),
        "input_sha256": digests([out / name for name in inputs]),
        **extra,
    }
    (out / artifacts.PASSES_REPORT).write_text(json.dumps(report))


def _usable(out):
    records = recorded.load(out)
    digest = recorded.Digests(out)
    return recorded.usable(records.get(artifacts.PASSES_REPORT), digest, _reference())


def test_an_unchanged_record_is_taken_as_it_is(out):
    taken = _usable(out)
    assert [(c.artifact, c.case) for c in taken] == [(artifacts.STAGE2, c) for c in CASES]
    assert recorded.stale(recorded.load(out), recorded.Digests(out)) == []


@pytest.mark.parametrize(
    "changed", [artifacts.STAGE2, artifacts.STAGE1, artifacts.REFERENCE], ids=str
)
def test_a_file_the_stage_wrote_or_read_changed_is_run_again(out, changed):
    (out / changed).write_bytes(b"edited by hand")
    assert _usable(out) == []
    (problem,) = recorded.stale(recorded.load(out), recorded.Digests(out))
    verb = "wrote" if changed == artifacts.STAGE2 else "read"
    assert problem.startswith(f"{changed} changed after the passes stage {verb} it")


def test_a_record_not_made_against_the_reference_is_run_again(out):
    _record(out, _comparisons(artifacts.STAGE2), inputs=(artifacts.STAGE1,))
    assert _usable(out) == []


def test_a_record_missing_a_case_is_run_again(out):
    _record(out, _comparisons(artifacts.STAGE2, cases=("batch1",)))
    assert _usable(out) == []


def test_no_record_is_run_again(out):
    (out / artifacts.PASSES_REPORT).unlink()
    assert _usable(out) == []


def test_the_deployed_files_need_only_the_cases_torch_export_kept(out):
    """model.pt2 and model.onnx run on torch.json's deploy_cases (an LSTM's fixed length)."""
    (out / artifacts.MODEL_PY).write_bytes(b"model")
    mine = [
        *(_comparisons(a) for a in recorded.RECORDS[artifacts.TORCH_REPORT][:3]),
        *(_comparisons(a, cases=("batch1",)) for a in recorded.DEPLOYED),
    ]
    report = {
        "stage": "torch",
        "comparisons": [c for group in mine for c in group],
        "sha256": digests([out / artifacts.MODEL_PY]),
        "input_sha256": digests([out / artifacts.STAGE2, out / artifacts.REFERENCE]),
        "deploy_cases": ["batch1"],
    }
    (out / artifacts.TORCH_REPORT).write_text(json.dumps(report))
    record = recorded.load(out)[artifacts.TORCH_REPORT]
    taken = recorded.usable(record, recorded.Digests(out), _reference())
    assert len(taken) == 3 * 2 + 2 * 1
    report["deploy_cases"] = list(CASES)  # batch4 then missing from model.pt2/model.onnx
    (out / artifacts.TORCH_REPORT).write_text(json.dumps(report))
    record = recorded.load(out)[artifacts.TORCH_REPORT]
    assert recorded.usable(record, recorded.Digests(out), _reference()) == []
