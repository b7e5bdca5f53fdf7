"""TensorFlow and torchvision segfault in one process: the export side must not import torch,
the torch side must not import TensorFlow, everything else neither. Checked twice: by
importing each module in a fresh interpreter, and by the ruff rule that bans the imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TF = ("tensorflow", "keras", "tf2onnx")
TORCH = ("torch", "torchvision", "onnx2torch")

MODULES = {
    "pipeline.cli": TF + TORCH,
    "pipeline.passes": TF + TORCH,
    "pipeline.check": TF + TORCH,
    "pipeline.ort": TF + TORCH,
    "pipeline.bench": TF + TORCH,
    "pipeline.zoo": TF + TORCH,
    "pipeline.timing": TF + TORCH,
    # the ONNX forms both stages share: neither framework
    "pipeline.recurrent_form": TF + TORCH,
    "pipeline.attention_form": TF + TORCH,
    "pipeline.channel_norm_form": TF + TORCH,
    "pipeline.export.own_layers": TORCH,
    "pipeline.export.float64": TORCH,
    "pipeline.torch_stage.recurrent": TF,
    "pipeline.torch_stage.attention": TF,
    "pipeline.torch_stage.channel_norm": TF,
    "pipeline.torch_stage.constant_modules": TF,
    "pipeline.torch_stage.converters": TF,
    "pipeline.torch_stage.peephole": TF,
    "pipeline.export.bench": TORCH,
    "pipeline.torch_stage.bench": TF,
    "pipeline.export": TORCH,
    "models": TORCH,
    "pipeline.torch_stage": TF,
    "pipeline.torch_stage.verify": TF,
}


@pytest.mark.parametrize(("module", "banned"), MODULES.items())
def test_module_imports_no_banned_framework(module, banned):
    code = f"import sys, {module}; print(','.join(m for m in {banned!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"{module} imported {out}"


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
