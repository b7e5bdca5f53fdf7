"""Whole-file goldens of emitted ``model.py`` files: regenerate on purpose with
``UPDATE_GOLDEN=1`` and review the diff."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

MODEL_PY = Path(__file__).resolve().parents[1] / "golden" / "model_py"


def assert_model_py_matches(name: str, text: str) -> None:
    path = MODEL_PY / f"{name}.py.golden"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    diff = difflib.unified_diff(
        expected.splitlines(), text.splitlines(), str(path), "emitted model.py", lineterm=""
    )
    assert text == expected, "\n".join(diff)
