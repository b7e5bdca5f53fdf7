"""The fuzzer's fixed-seed sample (``python -m pipeline fuzz``, README "Fuzzing"): random
Keras models through the four stage processes, each converted or refused naming a layer;
none may give different numbers (mismatch) or fail without naming a layer (crash)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline import artifacts, batch, fuzz

FIRST_SEED, COUNT = 9000, 10
ROOT = Path(__file__).resolve().parents[2]
# Each bug the fuzzer found, as the spec that showed it ("found" says what it was)
REGRESSIONS = sorted((ROOT / "tests" / "fuzz_regressions").glob("*.json"))


@pytest.fixture(scope="module")
def findings(tmp_path_factory) -> dict[Path, tuple[Path, dict]]:
    """Every finding through the stages in one batch (each stage checks its artifact)."""
    root = tmp_path_factory.mktemp("findings")
    models = {spec: f"fuzz:{spec}" for spec in REGRESSIONS}
    results = batch.convert(list(models.values()), root, ("export", "passes", "torch"))
    return {spec: (root / batch.dir_name(m), results[m]) for spec, m in models.items()}


@pytest.mark.parametrize("spec", REGRESSIONS, ids=lambda p: p.stem)
def test_a_fuzzer_finding_converts(spec, findings):
    out, result = findings[spec]
    assert result["exit"] == 0, json.loads(spec.read_text())["found"] + result["error"][-3000:]
    assert json.loads((out / artifacts.TORCH_REPORT).read_text())["passed"]


# Draws that fail the bar by float32 rounding alone, held to fail exactly so (a change shows):
# seed -> the one output over it. 9004: Masking (since the second round of draws; its batch1
# case has no padded step), LayerNormalization over (steps, channels), the mean over steps,
# a Dense(1) whose output (0.003) cancels terms of 0.2; every layer before it is within 2e-7
# of Keras, model.py's output 4.9e-5 from float64 where Keras' own is 9.4e-6 (rule 2 allows
# 2x: README, Limits). Not a conversion bug, so not in fuzz_regressions.
PRECISION_BOUND = {9004: "sigmoid"}


def test_random_models_convert_or_are_refused_by_name(tmp_path):
    result = fuzz.run(COUNT, FIRST_SEED, jobs=2, out=tmp_path)
    rows = {m["seed"]: m for m in result["models"]}
    bugs = [
        m for m in rows.values() if m["class"] in fuzz.BUGS and m["seed"] not in PRECISION_BOUND
    ]
    assert not bugs, bugs  # each has its shrunk reproducer spec in tmp_path / "repro"
    for seed, output in PRECISION_BOUND.items():
        row = rows[seed]
        assert row["class"] == "mismatch", row
        over = set(re.findall(r"\] (\w+): max abs", row["message"]))
        assert over == {output}, row["message"]
    assert sum(result["counts"].values()) == COUNT
    assert result["counts"]["ok"] >= COUNT // 2, result["counts"]  # not all refused
