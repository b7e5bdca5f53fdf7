"""TensorFlow and torchvision segfault in one process: the export side must not import torch,
the torch side must not import TensorFlow, everything else neither. Checked twice: by
importing every module in fresh interpreters that refuse the banned frameworks, and by the
ruff rule that bans the imports. The same interpreters import every module in forward and in
reverse order, which fails on an import circle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TF = ("tensorflow", "keras", "tf_keras", "tf2onnx", "keras_hub")
TORCH = ("torch", "torchvision", "onnx2torch")

# Where each framework may be imported (the same split as the ruff rule's ruff.toml files).
EXPORT_SIDE = ("pipeline.export", "pipeline.bench.keras_side", "models")
TORCH_SIDE = ("pipeline.torch_stage", "pipeline.bench.torch_side")


def _all_modules() -> list[str]:
    """Every module of the pipeline package and of models/, found on disk (a new module is
    covered without being listed)."""
    names = []
    for root in ("pipeline", "models"):
        for path in sorted((ROOT / root).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__main__":
                continue
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _side(module: str) -> tuple[str, ...]:
    """The frameworks ``module`` must not import."""
    within = lambda roots: any(module == r or module.startswith(r + ".") for r in roots)  # noqa: E731
    if within(EXPORT_SIDE):
        return TORCH
    if within(TORCH_SIDE):
        return TF
    return TF + TORCH


GROUPS = {
    "neither": TF + TORCH,
    "export side": TORCH,
    "torch side": TF,
}

# Runs in a fresh interpreter: import the group's modules in the given order, and name the
# first module whose import brought in a banned framework (or failed: an import circle).
_IMPORT_ALL = """
import importlib, sys, traceback
banned, modules = sys.argv[1].split(","), sys.argv[2].split(",")
for module in modules:
    try:
        importlib.import_module(module)
    except Exception:
        print(f"importing {module} failed:", traceback.format_exc())
        break
    found = [name for name in banned if name in sys.modules]
    if found:
        print(f"importing {module} imported {found}")
        break
"""


def _group(banned: tuple[str, ...]) -> list[str]:
    return [m for m in _all_modules() if _side(m) == banned]


@pytest.mark.parametrize("order", ["forward", "reverse"])
@pytest.mark.parametrize("group", GROUPS)
def test_modules_import_in_any_order_without_banned_frameworks(group, order):
    modules = _group(GROUPS[group])
    assert modules, group
    if order == "reverse":
        modules = modules[::-1]
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, ",".join(GROUPS[group]), ",".join(modules)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == "", proc.stdout


def _ruff(path: str, source: str) -> str:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--select",
            "TID251",
            "--stdin-filename",
            path,
            "-",
        ],
        cwd=ROOT,
        input=source,
        capture_output=True,
        text=True,
    )
    return proc.stdout


@pytest.mark.parametrize(
    ("path", "source", "banned"),
    [
        ("pipeline/passes/x.py", "import torch\n", True),
        ("pipeline/passes/x.py", "import tensorflow as tf\n", True),
        ("pipeline/check.py", "from onnx2torch import convert\n", True),
        ("pipeline/export/x.py", "import torch\n", True),
        ("pipeline/export/x.py", "import tensorflow as tf\n", False),
        ("models/x.py", "import keras\n", False),
        ("pipeline/torch_stage/x.py", "import tensorflow\n", True),
        ("pipeline/torch_stage/x.py", "import torch\n", False),
    ],
)
def test_lint_rule_bans_the_other_stage(path, source, banned):
    assert ("TID251" in _ruff(path, source)) is banned
