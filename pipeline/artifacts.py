"""The files stages exchange: stable names and atomic writes."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline import hashing
from pipeline.errors import BadInputError, OutputError

KERAS_MODEL = "keras_model.keras"  # the Keras model a named MODEL was built into
STAGE1 = "stage1.onnx"
REFERENCE = "reference.npz"
ANCHOR = "anchor.npz"  # the float64 anchor a later stage needed (pipeline.anchor_later)
STAGE2 = "stage2.onnx"
MODEL_PY = "model.py"
WEIGHTS = "weights.pt"
MODEL_PT2 = "model.pt2"  # torch.export.save of model.py's program (dynamic batch)
MODEL_ONNX = "model.onnx"  # that program exported back to ONNX (torch.onnx, dynamo)
REPORT = "report.json"
REPORT_HTML = "report.html"  # the page check writes next to report.json (pipeline.html_report)
DIAGNOSE = "diagnose.json"  # the per-layer errors diagnose writes (pipeline.diagnose)
FAILED = "failed"  # the directory a stage whose check fails keeps its files in (pipeline.failed)
# Per-stage reports (JSON), written by each stage next to its artifact.
EXPORT_REPORT = "export.json"
PASSES_REPORT = "passes.json"
TORCH_REPORT = "torch.json"


@contextmanager
def atomic_path(dst: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``dst``; rename it to ``dst`` only if the block succeeds.

    The temporary name keeps ``dst``'s suffix (numpy and torch care), so a failure leaves
    neither a half-written ``dst`` nor a stray file. Once in place, ``dst`` is hashed on a
    second thread for the stage's report (``pipeline.hashing``).
    """
    dst = Path(dst)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, no permission, a read-only disk
        raise OutputError(
            f"cannot create the output directory '{dst.parent}': {exc.strerror or exc}. "
            "Choose another OUT=."
        ) from exc
    tmp = dst.with_name(f".{dst.stem}.tmp{os.getpid()}{dst.suffix}")
    try:
        yield tmp
        os.replace(tmp, dst)
        hashing.hash_soon(dst)
    except OSError as exc:  # a full disk, a quota
        raise OutputError(
            f"writing '{dst}' failed: {exc.strerror or exc}; nothing was left half-written. "
            "Free some space or choose another OUT=."
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


def write_text(dst: Path, text: str) -> None:
    with atomic_path(dst) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(dst: Path, data: Any) -> None:
    write_text(dst, json.dumps(data, indent=2, sort_keys=False) + "\n")


def require_file(path: Path, what: str, hint: str) -> Path:
    """Return ``path`` if it is a readable file, else raise a BadInputError that says what to do."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{what} not found: '{path}'. {hint}")
    return path


@contextmanager
def stage_outputs(paths: list[Path]) -> Iterator[None]:
    """A stage's outputs, all or none: the previous run's are removed first, and the ones
    this run wrote are removed again if the stage then fails (a full disk at the report,
    after the model was written), so no stage leaves a partial set behind. A previous
    failure's ``OUT/failed`` (``pipeline.failed``) goes too."""
    clear(paths)
    if paths:
        shutil.rmtree(Path(paths[0]).parent / FAILED, ignore_errors=True)
    try:
        yield
    except BaseException:
        for path in paths:
            try:
                Path(path).unlink(missing_ok=True)
            except OSError:  # the error being raised already says what went wrong
                pass
        raise


def clear(paths: list[Path]) -> None:
    """Remove a stage's previous outputs so a failed run cannot leave stale ones behind."""
    for path in paths:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as exc:  # OUT under a file, or not ours to write
            raise OutputError(
                f"cannot write to '{Path(path).parent}': {exc.strerror or exc}. "
                "Choose another OUT=."
            ) from exc
