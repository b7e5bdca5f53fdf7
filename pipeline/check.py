"""Stage 4, check: every artifact against the Keras outputs -> ``report.json`` and a table.

Each stage already held what it wrote to the reference and recorded it with the sha256 of
its files; where those files are unchanged, the check takes those comparisons as they are
(``pipeline.recorded``) and runs the rest again: onnxruntime (graph optimizations off) for
``stage1.onnx``, ``stage2.onnx`` and ``model.onnx``, and a child process
(``pipeline.torch_stage.verify``) for ``model.py`` and ``model.pt2``, so that this process
never imports torch. ``--recheck`` runs every comparison again. A file changed since its
stage wrote or read it is a problem of its own. Any problem exits non-zero, after the
report is written.

``python -m pipeline check OUT_DIR [--recheck]``
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import onnx

from pipeline import artifacts, crash, diagnose, html_report, metadata, ort, progress, recorded
from pipeline import reference as ref
from pipeline.check_table import table
from pipeline.compare import Comparison
from pipeline.errors import MismatchError
from pipeline.problems import found_in
from pipeline.report import StageReport


@contextmanager
def _torch_verify(out_dir: Path, needed: bool) -> Iterator[Callable[[], dict] | None]:
    """``model.py``, its optimized forms and ``model.pt2`` held to the reference in a child
    process (this one never imports torch), started at once so that it runs while this one
    runs onnxruntime; yields a function that waits for its result (None if not ``needed``)."""
    if not needed:
        yield None
        return
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.torch_stage.verify", str(out_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def result() -> dict:
        stdout, stderr = proc.communicate()
        if proc.returncode != 0:
            raise crash.child_failed(
                f"verifying {out_dir / artifacts.MODEL_PY}", stderr, out_dir, "check_torch"
            )
        return json.loads(stdout)

    try:
        yield result
    finally:
        if proc.poll() is None:  # left early (an error here): not a process left behind
            proc.kill()
            proc.communicate()


def _onnx(path: Path) -> onnx.ModelProto:
    artifacts.require_file(path, "artifact", "Run `make convert` (or the stages) first.")
    return onnx.load(path)


# what torch.json records besides its comparisons that the check reports (verify's facts)
TORCH_FACTS = (
    "accuracy",
    "param_count",
    "constant_count",
    "keras_param_count",
    "frozen_param_count",
    "keras_frozen_param_count",
    "weights_as_parameters",
    "regularization",
    "torch_export_error",
    "deploy_fixed_axes",
    "deploy_cases",
    "module_types",
    "modules",
)
ONNX_STAGES = (
    (artifacts.STAGE1, artifacts.EXPORT_REPORT),
    (artifacts.STAGE2, artifacts.PASSES_REPORT),
)


def run(out_dir: Path, recheck: bool = False) -> StageReport:
    """Every artifact against the reference: each stage's comparisons as it recorded them
    where its files are unchanged (``pipeline.recorded``), the others (all, with
    ``recheck``) run again here."""
    start = time.perf_counter()
    out_dir = Path(out_dir)
    report_path = out_dir / artifacts.REPORT
    artifacts.clear([report_path, out_dir / artifacts.REPORT_HTML, out_dir / artifacts.DIAGNOSE])
    reference = ref.load(out_dir / artifacts.REFERENCE)
    artifacts.require_file(out_dir / artifacts.MODEL_PY, "artifact", "Run the torch stage.")
    digests, records = recorded.Digests(out_dir), recorded.load(out_dir)
    digests.ahead(records)
    taken = {
        name: [] if recheck else recorded.usable(records.get(name), digests, reference)
        for name in recorded.RECORDS
    }
    comparisons, structure, torch_result, layers = _compared(out_dir, reference, records, taken)
    files = sorted(p for p in out_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    problems = recorded.stale(records, digests) + found_in(comparisons, torch_result)
    report = StageReport(
        "check",
        {p.name: str(p) for p in [*files, report_path, out_dir / artifacts.REPORT_HTML]},
        time.perf_counter() - start,
        tuple(comparisons),
        details={
            "ops": structure,
            "torch": torch_result,
            "file_sizes": {p.name: p.stat().st_size for p in files},
            # per stage: its comparisons taken as recorded (its files unchanged) or run here
            "recorded": {n.removesuffix(".json"): bool(taken[n]) for n in recorded.RECORDS},
            # for report.html's layer table: Keras' layers, and the size of each weight
            "keras_layers": layers,
            "keras_weights": {w.path: w.size for w in reference.weights},
        },
        known_digests=digests.known(),  # each file hashed once: by the stale-file check
    )
    written = {**report.to_json(), "passed": not problems, "problems": problems}
    artifacts.write_json(report_path, written)
    if not progress.quiet():
        print(table(report))
    note = diagnose.first_layer_note(out_dir) if problems else ""
    html_report.write(out_dir, written)  # after diagnose: the page shows its layer errors
    if problems:
        raise MismatchError("the conversion does not match Keras: " + "; ".join(problems) + note)
    return report


def _recorded_structure(records: dict, taken: dict) -> tuple[dict, list]:
    """The ONNX files' op counts and Keras' layers as export.json and passes.json recorded
    them, for the files whose records are taken (unchanged since): not read again (a 220 MB
    stage1.onnx of VGG16 takes a second to parse)."""
    structure, layers = {}, []
    export, passes = records.get(artifacts.EXPORT_REPORT), records.get(artifacts.PASSES_REPORT)
    if taken[artifacts.EXPORT_REPORT] and export and "ops" in export.data:
        structure[artifacts.STAGE1] = export.data["ops"]
        layers = export.data.get("keras_layers", [])
    if taken[artifacts.PASSES_REPORT] and passes and "ops_after" in passes.data:
        structure[artifacts.STAGE2] = passes.data["ops_after"]
    return structure, layers


def _compared(out_dir: Path, reference, records: dict, taken: dict) -> tuple:
    """(every artifact's comparisons, the ONNX files' op counts, verify's facts, Keras'
    layers): ``taken`` where a stage's record could be taken, the rest run here."""
    comparisons: list[Comparison] = []
    structure, layers = _recorded_structure(records, taken)
    with _torch_verify(out_dir, not taken[artifacts.TORCH_REPORT]) as torch_side:
        for name, report_name in ONNX_STAGES:
            if taken[report_name] and name in structure:  # the file is as its stage recorded
                comparisons += taken[report_name]
                continue
            proto = _onnx(out_dir / name)
            structure[name] = dict(sorted(Counter(n.op_type for n in proto.graph.node).items()))
            layers = layers or metadata.keras_layers(proto)
            if not taken[report_name]:  # (a record from before its op counts: taken as is)
                progress.step("onnxruntime: %s against Keras", name)
            comparisons += taken[report_name] or ort.check_against(proto, reference, name)
        if torch_side is None:
            torch_result = {k: records[artifacts.TORCH_REPORT].data.get(k) for k in TORCH_FACTS}
            return comparisons + taken[artifacts.TORCH_REPORT], structure, torch_result, layers
        progress.step("torch (its own process): model.py, its forms and model.pt2")
        torch_result = torch_side()
    comparisons += [Comparison.from_json(c) for c in torch_result.pop("comparisons")]
    deployed = _onnx(out_dir / artifacts.MODEL_ONNX)  # model.py's program, back in ONNX
    cases = tuple(torch_result["deploy_cases"])  # the sizes model.pt2 was exported for
    comparisons += ort.check_against(deployed, reference, artifacts.MODEL_ONNX, cases)
    return comparisons, structure, torch_result, layers
