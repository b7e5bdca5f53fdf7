"""Run the passes in order, logging each one's op-count diff, and check the result against the
Keras reference in onnxruntime once; only if that fails, run them again from the start,
checking after each, so the error names the pass that broke the numbers (``run_checked``).
``--check-every-pass`` checks after each pass from the start (each pass's worst error in
passes.json), as the bisection does."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import onnx
import onnx_ir as ir

from pipeline import ort, progress
from pipeline.compare import Comparison
from pipeline.errors import MismatchError, PipelineError
from pipeline.passes._base import PassOutcome, histogram_diff, op_histogram
from pipeline.reference import Reference

log = logging.getLogger("pipeline.passes")


class _OneLineInferenceFailure(logging.Filter):
    """onnx-ir's shape inference logs its failure with the whole traceback (and a bare
    ``%s``): one line instead, naming the error; the passes go on without the shapes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = "ONNX shape inference failed, the graph keeps its shapes: %s"
            record.args, record.exc_info = (str(error).splitlines()[0],), None
        return True


logging.getLogger("onnx_ir.passes.common.shape_inference").addFilter(_OneLineInferenceFailure())


@dataclass(frozen=True)
class PassRecord:
    name: str
    modified: bool
    op_diff: str
    skipped: tuple[str, ...]
    worst_error: float | None  # max scaled error vs Keras after this pass
    transposes: int = 0  # Transposes in the graph after this pass (the report's chart)

    def to_json(self) -> dict:
        return {
            "pass": self.name,
            "modified": self.modified,
            "op_diff": self.op_diff,
            "skipped": list(self.skipped),
            "worst_error": self.worst_error,
            "transposes": self.transposes,
        }


def to_proto(model: ir.Model) -> onnx.ModelProto:
    return ir.serde.serialize_model(model)


def pass_name(pass_) -> str:
    return getattr(pass_, "NAME", type(pass_).__name__)


def check(
    model: ir.Model, reference: Reference | None, label: str
) -> tuple[list[Comparison], bytes]:
    """``model`` held to the ONNX checker and (with a ``reference``) to Keras in onnxruntime:
    the comparisons, and the model's bytes as checked (what the stage writes)."""
    proto = to_proto(model)
    serialized = proto.SerializeToString()  # once, for the checker and onnxruntime
    try:
        onnx.checker.check_model(serialized)
    except onnx.checker.ValidationError as exc:
        raise PipelineError(f"{label} left an invalid ONNX graph: {exc}") from exc
    if reference is None:
        return [], serialized
    try:
        results = ort.check_against(proto, reference, label, serialized=serialized)
    except Exception as exc:  # onnxruntime raises its own types for a graph it cannot load
        raise PipelineError(
            f"{label} left a graph onnxruntime cannot run: {str(exc).splitlines()[0]}. "
            "This is a bug in that pass: report the model."
        ) from exc
    failed = [c.describe() for c in results if not c.passed]
    if failed:
        raise MismatchError(f"{label} changed the model's outputs: " + "; ".join(failed))
    return results, serialized


def run_checked(
    model: ir.Model,
    passes,
    reference: Reference | None,
    label: str,
    every_pass: bool = False,
    original=None,
) -> tuple[list[PassRecord], list[Comparison], bytes]:
    """``passes`` over ``model`` (in place), then one check of the result, named ``label``:
    (the records, its comparisons, the result's bytes as checked). A failed check re-runs
    the passes on the input again (``original()``; by default a copy taken first), checking
    after each, and raises naming the first that fails."""
    if every_pass or reference is None:
        records = run_passes(model, passes, reference)
        return records, *check(model, reference, label)
    if original is None:
        copy = to_proto(model)
        original = functools.partial(ir.from_proto, copy)
    records = run_passes(model, passes, None, check_structure=False)
    progress.step("onnxruntime: %s against Keras", label)
    try:
        return records, *check(model, reference, label)
    except PipelineError:
        log.warning("%s fails its check: re-running the passes, checking after each", label)
        run_passes(original(), passes, reference)
        raise  # every pass checked fine one by one (a pass that is not deterministic)


def run_passes(
    model: ir.Model, passes, reference: Reference | None, check_structure: bool = True
) -> list[PassRecord]:
    """Each pass in turn; after each, ``check`` against ``reference`` (None: the ONNX checker
    alone, or nothing without ``check_structure``)."""
    records = []
    for pass_ in passes:
        name = pass_name(pass_)
        before = op_histogram(model.graph)
        result = pass_(model)
        after = op_histogram(model.graph)
        diff = histogram_diff(before, after)
        if result.modified and diff == "no change":
            diff = "modified, same op counts"
        # only what changed the graph: a pass that did nothing is said with -v
        log.log(logging.INFO if result.modified else logging.DEBUG, "%-20s %s", name, diff)
        results = check(model, reference, f"pass '{name}'")[0] if check_structure else []
        worst = max((c.max_rel for c in results), default=None)
        skipped = result.skipped if isinstance(result, PassOutcome) else ()
        transposes = after.get("Transpose", 0)
        records.append(PassRecord(name, result.modified, diff, skipped, worst, transposes))
    return records
