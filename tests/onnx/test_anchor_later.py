"""The float64 anchor computed only when a comparison first needs it (``pipeline.anchor_later``):
fetched once, only for a comparison the bar fails; stored next to the reference it was made
for (``anchor.npz``) and taken by every later load of that reference, never of another."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from pipeline import anchor_later, artifacts
from pipeline import reference as ref
from pipeline.compare import FLOAT32_TOL

EXACT = np.linspace(-1.0, 1.0, 50)
KERAS = EXACT.copy()
KERAS[7] += 3e-5  # Keras float32 itself 3e-5 from exact (ill-conditioned)
NEAR_EXACT = EXACT.astype(np.float32)  # 3e-5 from Keras: over the bar, at the exact answer
FAR = KERAS + 5e-4  # a bug: far from both


def _reference() -> ref.Reference:
    inputs = {"x": np.ones((1, 2), np.float32)}
    cases = {name: ref.Case(inputs, {"y": KERAS.astype(np.float32)}) for name in ("a", "b")}
    return ref.Reference(("x",), ("y",), cases)


def _fetching(calls: list) -> anchor_later.Later:
    def fetch(reference):
        calls.append(reference.later)
        cases = {n: dataclasses.replace(c, exact={"y": EXACT}) for n, c in reference.cases.items()}
        return dataclasses.replace(reference, cases=cases), "made"

    return anchor_later.Later(fetch)


def test_the_anchor_is_fetched_once_and_only_for_a_comparison_the_bar_fails():
    calls = []
    reference = dataclasses.replace(_reference(), later=_fetching(calls))
    assert reference.compare("model.py", "a", "y", KERAS).rule == "float32"
    assert calls == []  # within the bar: no float64 copy made
    passed = reference.compare("model.py", "a", "y", NEAR_EXACT)
    assert passed.passed and passed.rule == "float64" and passed.exact_rel < 1e-7
    failed = reference.compare("model.py", "b", "y", FAR)
    assert not failed.passed and failed.exact_rel is not None  # judged by both rules
    assert calls == [None]  # once, and handed the reference without its Later
    assert reference.later.note == "made" and reference.later.fetched


def test_a_later_that_finds_nothing_leaves_the_bar_alone_to_judge():
    reference = dataclasses.replace(_reference(), later=anchor_later.Later(lambda r: (None, "no")))
    result = reference.compare("model.py", "a", "y", NEAR_EXACT)
    assert not result.passed and result.exact_rel is None


def _saved(tmp_path, deferred: bool = True):
    path = tmp_path / artifacts.REFERENCE
    ref.save(path, _reference())
    note = anchor_later.DEFERRED if deferred else "stored (0.1 s)"
    (tmp_path / artifacts.EXPORT_REPORT).write_text(json.dumps({"float64_anchor": note}))
    return path


def test_anchor_npz_is_taken_by_a_load_of_the_reference_it_was_made_for(tmp_path):
    path = _saved(tmp_path)
    assert ref.load(path).later is not None  # deferred: a child process would make it
    anchored = _fetching([]).__call__(ref.load(path))
    anchor_later.save(path, anchored, "made")
    loaded = ref.load(path)
    assert loaded.later is None
    np.testing.assert_array_equal(loaded.cases["b"].exact_output("y"), EXACT)
    assert loaded.compare("model.onnx", "b", "y", NEAR_EXACT).rule == "float64"


def test_anchor_npz_of_another_reference_is_ignored(tmp_path):
    path = _saved(tmp_path)
    anchor_later.save(path, _fetching([])(ref.load(path)), "made")
    other = dataclasses.replace(_reference(), tolerance=FLOAT32_TOL * 2)
    ref.save(path, other)  # a new export's reference (export itself removes anchor.npz)
    loaded = ref.load(path)
    assert all(case.exact is None for case in loaded.cases.values())
    assert loaded.later is not None


def test_only_a_deferred_export_gets_a_child_process(tmp_path):
    assert ref.load(_saved(tmp_path, deferred=False)).later is None
    (tmp_path / artifacts.EXPORT_REPORT).unlink()  # a reference made by hand
    assert ref.load(tmp_path / artifacts.REFERENCE).later is None
