"""Stage 4, check: every artifact against the Keras outputs -> ``report.json`` and a table.

onnxruntime (graph optimizations off) runs ``stage1.onnx`` and ``stage2.onnx``; the emitted
``model.py`` runs in a child process (``pipeline.torch_stage.verify``), so this process never
imports torch. Any mismatch exits non-zero, after the report is written.

``python -m pipeline check OUT_DIR``
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import onnx

from pipeline import artifacts, ort
from pipeline import reference as ref
from pipeline.compare import Comparison
from pipeline.errors import MismatchError, PipelineError
from pipeline.problems import found_in
from pipeline.report import StageReport, digest


def _torch_verify(out_dir: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.torch_stage.verify", str(out_dir)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise PipelineError(
            f"verifying {out_dir / artifacts.MODEL_PY} crashed:\n" + proc.stderr[-2000:]
        )
    return json.loads(proc.stdout)


def _onnx(path: Path) -> onnx.ModelProto:
    artifacts.require_file(path, "artifact", "Run `make convert` (or the stages) first.")
    return onnx.load(path)


STAGE_REPORTS = (artifacts.EXPORT_REPORT, artifacts.PASSES_REPORT, artifacts.TORCH_REPORT)


def stale(out_dir: Path) -> list[str]:
    """Files next to the stage reports that differ from what a stage wrote or read (edited by
    hand, or left by another run): the check would vouch for a chain that no stage made."""
    problems = []
    for name in STAGE_REPORTS:
        path = out_dir / name
        if not path.is_file():
            continue
        stage = json.loads(path.read_text())
        recorded = [(f, d, "wrote") for f, d in stage.get("sha256", {}).items()]
        recorded += [(f, d, "read") for f, d in stage.get("input_sha256", {}).items()]
        for file_name, expected, verb in recorded:
            current = out_dir / file_name
            if current.is_file() and digest(current) != expected:
                problems.append(
                    f"{file_name} changed after the {stage['stage']} stage {verb} it (edited by "
                    "hand, or from another run): re-run the stages from the one that writes it"
                )
    return problems


def run(out_dir: Path) -> StageReport:
    start = time.perf_counter()
    out_dir = Path(out_dir)
    report_path = out_dir / artifacts.REPORT
    artifacts.clear([report_path])
    reference = ref.load(out_dir / artifacts.REFERENCE)
    comparisons: list[Comparison] = []
    structure = {}
    for name in (artifacts.STAGE1, artifacts.STAGE2):
        proto = _onnx(out_dir / name)
        comparisons += ort.check_against(proto, reference, name)
        structure[name] = dict(sorted(Counter(n.op_type for n in proto.graph.node).items()))
    artifacts.require_file(out_dir / artifacts.MODEL_PY, "artifact", "Run the torch stage.")
    torch_result = _torch_verify(out_dir)
    comparisons += [Comparison.from_json(c) for c in torch_result.pop("comparisons")]
    deployed = _onnx(out_dir / artifacts.MODEL_ONNX)  # model.py's program, back in ONNX
    cases = tuple(torch_result["deploy_cases"])  # the sizes model.pt2 was exported for
    comparisons += ort.check_against(deployed, reference, artifacts.MODEL_ONNX, cases)
    files = sorted(p for p in out_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    report = StageReport(
        "check",
        {p.name: str(p) for p in [*files, report_path]},
        time.perf_counter() - start,
        tuple(comparisons),
        details={
            "ops": structure,
            "torch": torch_result,
            "file_sizes": {p.name: p.stat().st_size for p in files},
        },
    )
    problems = stale(out_dir) + found_in(comparisons, torch_result)
    artifacts.write_json(
        report_path, {**report.to_json(), "passed": not problems, "problems": problems}
    )
    print(table(report))
    if problems:
        raise MismatchError(
            "the conversion does not match Keras: " + "; ".join(problems) + _first_layer(out_dir)
        )
    return report


def _first_layer(out_dir: Path) -> str:
    """Where it starts: ``python -m pipeline diagnose`` (its table is printed too)."""
    from pipeline import diagnose

    try:
        result = diagnose.run(out_dir)
    except Exception as exc:  # the diagnosis is a help: its own failure must not hide the error
        return f". (diagnose could not run: {type(exc).__name__}: {str(exc)[:300]})"
    print(diagnose.table(result))
    first = result["first_diverging_layer"]
    where = f"Keras layer '{first}' is the first that differs" if first else "no single layer"
    return f". {where} (python -m pipeline diagnose {out_dir}: {out_dir / diagnose.DIAGNOSE})"


def table(report: StageReport) -> str:
    """One row per comparison: the scaled error against Keras float32 (rule "float32": at
    most tol) and, with the float64 anchor, the artifact's and Keras float32's errors against
    the float64 copy (rule "float64": the first at most ANCHOR_FACTOR times the second)."""
    header = ("artifact", "case", "output", "max abs", "scaled", "tol", "vs float64", "keras64")
    rows = [(*header, "result")]
    for c in report.comparisons:
        anchor = (
            (f"{c.exact_rel:.2e}", f"{c.keras_exact_rel:.2e}")
            if c.exact_rel is not None
            else ("-", "-")
        )
        verdict = f"ok ({c.rule})" if c.passed and c.rule in ("float64", "exact") else "ok"
        rows.append(
            (
                c.artifact,
                c.case,
                c.output,
                f"{c.max_abs:.2e}",
                f"{c.max_rel:.2e}",
                f"{c.tol:.0e}",
                *anchor,
                verdict if c.passed else "MISMATCH",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join([*lines, *_torch_lines(report.details["torch"])])


def _torch_lines(torch_result: dict) -> list[str]:
    """The digits accuracy, and the module's kinds, counts and exports."""
    lines = [
        f"{a['case']} ({a['samples']} samples): Keras accuracy "
        f"{a['keras_accuracy']:.2%}, torch {a['accuracy']:.2%}, top-1 agreement "
        f"{a['top1_agreement']:.2%}"
        for a in torch_result["accuracy"]
    ]
    constants = torch_result.get("constant_count")
    fixed = "".join(
        f" ({name} axis {axis} fixed at {size} in model.pt2 and model.onnx)"
        for name, sizes in torch_result.get("deploy_fixed_axes", {}).items()
        for axis, size in sizes.items()
    )
    lines.append(
        f"torch module: {', '.join(torch_result['module_types'])}; "
        f"{torch_result['param_count']} parameters (Keras {torch_result['keras_param_count']})"
        + (f", {constants} constant values" if constants else "")
        + f"; torch.export: {'ok' if not torch_result['torch_export_error'] else 'FAILS'}"
        + fixed
    )
    penalty = torch_result.get("regularization")
    if penalty:
        mine = f"{penalty['torch']:.6g}" if penalty["torch"] is not None else "raises"
        mine += f" ({penalty['missing']})" if "missing" in penalty else ""
        lines.append(f"regularization_loss(): {mine}, Keras' penalty {penalty['keras']:.6g}")
    return lines
