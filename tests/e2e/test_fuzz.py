"""The fuzzer's fixed-seed sample (``python -m pipeline fuzz``, README "Fuzzing"): random
Keras models through the four stage processes, each converted or refused naming a layer;
none may give different numbers (mismatch) or fail without naming a layer (crash)."""

from __future__ import annotations

from pipeline import fuzz

FIRST_SEED, COUNT = 9000, 16


def test_random_models_convert_or_are_refused_by_name(tmp_path):
    result = fuzz.run(COUNT, FIRST_SEED, jobs=2, out=tmp_path)
    bugs = [m for m in result["models"] if m["class"] in fuzz.BUGS]
    assert not bugs, bugs  # each has its shrunk reproducer spec in tmp_path / "repro"
    assert sum(result["counts"].values()) == COUNT
    assert result["counts"]["ok"] >= COUNT // 2, result["counts"]  # not all refused
