"""The fuzzer's fixed-seed sample (``python -m pipeline fuzz``, README "Fuzzing"): random
Keras models through the four stage processes, each converted or refused naming a layer;
none may give different numbers (mismatch) or fail without naming a layer (crash)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import artifacts, fuzz

FIRST_SEED, COUNT = 9000, 10
ROOT = Path(__file__).resolve().parents[2]
# Each bug the fuzzer found, as the spec that showed it ("found" says what it was)
REGRESSIONS = sorted((ROOT / "tests" / "fuzz_regressions").glob("*.json"))


@pytest.mark.parametrize("spec", REGRESSIONS, ids=lambda p: p.stem)
def test_a_fuzzer_finding_converts(spec, tmp_path):
    command = [sys.executable, "-m", "pipeline", "convert", f"fuzz:{spec}", str(tmp_path)]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, json.loads(spec.read_text())["found"] + proc.stderr[-3000:]
    assert json.loads((tmp_path / artifacts.REPORT).read_text())["passed"]


def test_random_models_convert_or_are_refused_by_name(tmp_path):
    result = fuzz.run(COUNT, FIRST_SEED, jobs=2, out=tmp_path)
    bugs = [m for m in result["models"] if m["class"] in fuzz.BUGS]
    assert not bugs, bugs  # each has its shrunk reproducer spec in tmp_path / "repro"
    assert sum(result["counts"].values()) == COUNT
    assert result["counts"]["ok"] >= COUNT // 2, result["counts"]  # not all refused
