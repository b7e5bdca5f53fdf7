"""compare's rule 2: above the float32 bar, an artifact still passes a case when it is no
further from the float64 copy's output than ANCHOR_FACTOR times Keras float32 itself is."""

from __future__ import annotations

import numpy as np

from pipeline.compare import ANCHOR_FACTOR, FLOAT32_TOL, Comparison, compare

EXACT = np.linspace(-1.0, 1.0, 50)


def _with_error(scaled: float) -> np.ndarray:
    """EXACT off by ``scaled`` (of its scale, 1) at one element."""
    value = EXACT.copy()
    value[7] += scaled
    return value


def test_an_artifact_as_close_to_the_exact_answer_as_keras_passes_by_rule_2():
    keras = _with_error(3e-5)  # Keras float32 itself 3e-5 from exact (ill-conditioned)
    artifact = EXACT.copy()  # 3e-5 from Keras: over the bar, but exact
    result = compare("stage2.onnx", "batch1", "y", keras, artifact, FLOAT32_TOL, EXACT)
    assert result.max_rel > FLOAT32_TOL
    assert result.passed and result.rule == "float64"
    assert result.exact_rel == 0.0 and abs(result.keras_exact_rel - 3e-5) < 1e-12


def test_a_bug_far_from_the_exact_answer_still_fails():
    keras = _with_error(3e-5)
    bug = _with_error(3e-5 * ANCHOR_FACTOR * 3)  # a planted error, well beyond Keras' own
    result = compare("model.py", "batch1", "y", keras, bug, FLOAT32_TOL, EXACT)
    assert not result.passed and result.rule == ""
    assert "vs float64" in result.describe() and "MISMATCH" in result.describe()


def test_within_the_bar_is_rule_1_and_without_an_anchor_only_the_bar_counts():
    keras = _with_error(1e-6)
    assert compare("a", "c", "y", keras, EXACT, FLOAT32_TOL, EXACT).rule == "float32"
    far = _with_error(5e-5)
    plain = compare("a", "c", "y", keras, far, FLOAT32_TOL)
    assert not plain.passed and plain.exact_rel is None


def test_comparisons_written_before_the_anchor_still_load():
    old = {
        "artifact": "model.py",
        "case": "batch1",
        "output": "y",
        "shape": [2],
        "max_abs": 0.0,
        "max_rel": 0.0,
        "tol": 1e-5,
        "passed": True,
    }
    assert Comparison.from_json(old).exact_rel is None


def test_the_anchor_round_trips_through_reference_npz(tmp_path):
    from pipeline import reference as ref

    case = ref.Case(
        {"x": np.ones((1, 2), np.float32)}, {"y": EXACT.astype(np.float32)}, None, {"y": EXACT}
    )
    ref.save(tmp_path / "r.npz", ref.Reference(("x",), ("y",), {"batch1": case}))
    loaded = ref.load(tmp_path / "r.npz").cases["batch1"]
    assert loaded.exact_output("y").dtype == np.float64
    np.testing.assert_array_equal(loaded.exact_output("y"), EXACT)
