"""``report.html``, written by ``check`` next to ``report.json``: the page a person opens
after a conversion (``page.render``). It reads only JSON the stages wrote: report.json's
comparisons and facts, export.json's model name, passes.json's Transposes and, after a
failed check, diagnose.json's per-layer errors."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline import artifacts
from pipeline.html_report.page import render


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write(out_dir: Path, report: dict) -> Path:
    """``out_dir/report.html`` from ``report`` (report.json's content), atomically."""
    out_dir = Path(out_dir)
    export = _json(out_dir / artifacts.EXPORT_REPORT) or {}
    diagnosis = None if report.get("passed") else _json(out_dir / artifacts.DIAGNOSE)
    page = render(
        report,
        export.get("model") or out_dir.name,
        _json(out_dir / artifacts.PASSES_REPORT),
        diagnosis,
    )
    path = out_dir / artifacts.REPORT_HTML
    artifacts.write_text(path, page)
    return path
