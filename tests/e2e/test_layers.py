"""One Keras layer at a time (``models/layers.py``, ``MODEL=layer:<class>``), end to end: the
ONNX ops stage 1 writes for the layer, the ops stage 2 leaves in the whole graph, the torch
modules ``model.py`` is made of, and the parameter count (equal to Keras'), with every stage
within tolerance. Each case has its row in ``tests/golden/layers.json`` (README, "Adding a
Keras layer")."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import onnx
import pytest

from pipeline import artifacts, batch, gradients

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2  # batches at once (each is three stage processes one after the other)


# case -> stage 1's ops for the layer, stage 2's ops, model.py's torch modules (each a sorted,
# space-separated list; an op twice is listed twice) and model.py's parameter count, which the
# check holds equal to Keras'. Regenerate on purpose with UPDATE_GOLDEN=1 and review the diff.
GOLDEN = ROOT / "tests" / "golden" / "layers.json"
EXPECTED = json.loads(GOLDEN.read_text())


def _cases() -> list[str]:
    """The keys of ``models.layers.CASES``, read from the source (importing it would import
    TensorFlow into this process)."""
    tree = ast.parse((ROOT / "models" / "layers.py").read_text(encoding="utf-8"))
    table = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "CASES"
    )
    return [key.value for key in table.keys]


CASES = _cases()


STAGES = ("export", "passes", "torch")  # each verifies its artifact against Keras (the
# check stage would run the same comparisons again; tests/e2e/test_convert.py runs it)


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """Every case through the stages, WORKERS batches at once (``pipeline.batch``: one
    process per stage for a batch's cases, the imports paid once)."""
    root = tmp_path_factory.mktemp("layers")
    models = [f"layer:{case}" for case in CASES]
    chunks = [models[i::WORKERS] for i in range(WORKERS)]
    with ThreadPoolExecutor(WORKERS) as pool:
        results = {}
        for found in pool.map(lambda chunk: batch.convert(chunk, root, STAGES), chunks):
            results.update(found)
    return {
        case: (
            root / batch.dir_name(model),
            subprocess.CompletedProcess([], results[model]["exit"], "", results[model]["error"]),
        )
        for case, model in zip(CASES, models, strict=True)
    }


def _facts(out: Path) -> dict:
    stage1, stage2 = (onnx.load(out / name) for name in (artifacts.STAGE1, artifacts.STAGE2))
    torch_facts = json.loads((out / artifacts.TORCH_REPORT).read_text())
    assert torch_facts["param_count"] == torch_facts["keras_param_count"]
    own = {n.op_type for n in stage1.graph.node if n.doc_string.startswith("keras_layer: layer ")}
    text = (out / artifacts.MODEL_PY).read_text()
    forward = text[text.rindex("    def forward(") : text.index("\ndef load(")].splitlines()[1:]
    return {
        # the layer's torch form: its forward lines (a module call or a torch expression)
        "forward": [
            line.strip() for line in forward if "self.layer" in line or "# layer (" in line
        ],
        "stage1_layer_ops": " ".join(sorted(own)),
        "stage2_ops": " ".join(sorted(n.op_type for n in stage2.graph.node)),
        "torch_modules": " ".join(torch_facts["module_types"]),
        "params": torch_facts["param_count"],
    }


def test_every_case_has_a_golden_row():
    assert sorted(CASES) == sorted(EXPECTED), "a new case: run UPDATE_GOLDEN=1 and review"


def _refusal(proc: subprocess.CompletedProcess) -> dict:
    """A case known not to convert: the stage that refused it, by a clear message naming the
    one-layer model's Keras layer ('layer'), with no traceback."""
    output = proc.stdout + proc.stderr
    refused = re.search(r"^\[(\w+)\] error: (.*)$", output, re.MULTILINE)
    assert refused, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "layer 'layer' (" in refused.group(2), refused.group(2)
    return {"refused_by": refused.group(1)}


@pytest.mark.parametrize("case", CASES)
def test_one_layer_converts_or_is_refused_as_recorded(case, converted):
    """Each case converts as its golden row says, or (a row ``refused_by``) is refused by
    that stage with a message that names the layer: the README's "Known not to convert"."""
    out, proc = converted[case]
    if os.environ.get("UPDATE_GOLDEN"):  # record what happens now (review the diff)
        refused = proc.returncode != 0
    else:
        refused = "refused_by" in EXPECTED.get(case, {})
    if refused:
        facts = _refusal(proc)
    else:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert json.loads((out / artifacts.TORCH_REPORT).read_text())["passed"]
        facts = _facts(out)
    if os.environ.get("UPDATE_GOLDEN"):
        EXPECTED[case] = facts
        rows = [f"  {json.dumps(c)}: {json.dumps(EXPECTED[c])}" for c in CASES if c in EXPECTED]
        GOLDEN.write_text("{\n" + ",\n".join(rows) + "\n}\n")
    assert facts == EXPECTED[case]


def test_a_batch_converts_as_a_fresh_process_does(converted, tmp_path):
    """A case late in its batch (after other models were built in the same export process)
    gives the very files a process of its own gives (``pipeline.batch`` forgets each model's
    Keras state)."""
    case = CASES[-1]
    for stage in (
        ["export", f"layer:{case}", str(tmp_path)],
        ["passes", str(tmp_path / artifacts.STAGE1), str(tmp_path / artifacts.STAGE2)],
        ["torch", str(tmp_path / artifacts.STAGE2), str(tmp_path)],
    ):
        command = [sys.executable, "-m", "pipeline", *stage]
        subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
    out, _ = converted[case]
    for name in (artifacts.STAGE2, artifacts.MODEL_PY):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


@pytest.mark.parametrize("case", ["BatchNormalizationAfterDense", "BatchNormalizationOnSequence"])
def test_train_mode_batchnorm_matches_keras(converted, case):
    """A BatchNorm over few values per channel (4 after a Dense at batch 4), where torch's own
    running-variance update (unbiased) would be 4/3 of Keras' (biased) step: in training mode
    the outputs, gradients and running statistics after one batch are Keras' (model.py's
    KerasBatchNorm1d)."""
    out, proc = converted[case]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "KerasBatchNorm1d(" in (out / artifacts.MODEL_PY).read_text()
    result = gradients.run(out)
    assert [s.layer for s in result.train_statistics] == ["layer/running_mean", "layer/running_var"]
    assert not result.failed, result.failed
