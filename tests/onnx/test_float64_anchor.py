"""compare's rule 2: above the float32 bar, an artifact still passes a case when it is no
further from the float64 copy's output than ANCHOR_FACTOR times Keras float32 itself is."""

from __future__ import annotations

import numpy as np

from pipeline.compare import ANCHOR_FACTOR, FLOAT32_TOL, Comparison, compare, rule2_can_decide

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


def test_keras_own_error_is_its_larger_of_eager_and_compiled():
    """Keras' compiled predict rounds differently from its eager call (EfficientNetV2B0,
    batch 4: 4.6e-5 and 1.06e-4 from float64); an artifact as close to the exact answer as
    Keras' compiled run passes by rule 2, one far beyond both still fails."""
    keras = _with_error(1e-5)  # the eager reference: 1e-5 from exact
    compiled = _with_error(-4e-5)  # Keras' compiled run: 4e-5 from exact
    artifact = _with_error(6e-5)  # 5e-5 from Keras: over the bar; 6e-5 from exact
    alone = compare("model.onnx", "batch4", "y", keras, artifact, FLOAT32_TOL, EXACT)
    assert not alone.passed  # 6e-5 > 2 x 1e-5
    both = compare("model.onnx", "batch4", "y", keras, artifact, FLOAT32_TOL, EXACT, compiled)
    assert both.passed and both.rule == "float64"
    assert abs(both.keras_exact_rel - 4e-5) < 1e-12
    bug = _with_error(4e-5 * ANCHOR_FACTOR * 3)
    assert not compare("model.py", "batch4", "y", keras, bug, FLOAT32_TOL, EXACT, compiled).passed
    closer = _with_error(5e-6)  # a compiled run nearer than the eager one changes nothing
    kept = compare("a", "c", "y", keras, artifact, FLOAT32_TOL, EXACT, closer)
    assert kept.keras_exact_rel == alone.keras_exact_rel


def test_rule_2_can_decide_only_where_keras_own_error_is_over_a_third_of_the_bar():
    """(1 + ANCHOR_FACTOR) k <= tol: within ANCHOR_FACTOR k of float64 is within the bar."""
    assert ANCHOR_FACTOR == 2.0
    assert not rule2_can_decide(FLOAT32_TOL / 3, FLOAT32_TOL)
    assert rule2_can_decide(FLOAT32_TOL / 2.9, FLOAT32_TOL)
    keras = _with_error(FLOAT32_TOL / 3)
    # every artifact rule 2 would pass (short of the edge, where float64 rounding decides)
    for error in np.linspace(-0.999, 0.999, 41) * ANCHOR_FACTOR * FLOAT32_TOL / 3:
        result = compare("a", "c", "y", keras, _with_error(error), FLOAT32_TOL, EXACT)
        assert result.passed and result.rule == "float32"


def test_keras_compiled_outputs_round_trip_through_reference_npz(tmp_path):
    from pipeline import reference as ref

    compiled = {"y": _with_error(-4e-5).astype(np.float32)}
    keras = {"y": _with_error(1e-5).astype(np.float32)}
    inputs = {"x": np.ones((1, 2), np.float32)}
    cases = {
        "batch1": ref.Case(inputs, keras, None, {"y": EXACT}, compiled),
        "batch4": ref.Case(inputs, keras, None, {"y": EXACT}),
    }
    ref.save(tmp_path / "r.npz", ref.Reference(("x",), ("y",), cases))
    loaded = ref.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(loaded.cases["batch1"].compiled_output("y"), compiled["y"])
    assert loaded.cases["batch4"].compiled is None
    artifact = _with_error(6e-5)
    assert loaded.compare("model.onnx", "batch1", "y", artifact).rule == "float64"
    assert not loaded.compare("model.onnx", "batch4", "y", artifact).passed


def test_keras_weight_samples_round_trip_through_reference_npz(tmp_path):
    from pipeline import reference as ref

    case = ref.Case({"x": np.zeros((1, 2), np.float32)}, {"y": np.zeros((1, 2), np.float32)})
    weights = (
        ref.KerasWeight("dense/kernel", 6, np.arange(6, dtype=np.float32)),
        ref.KerasWeight("dense/bias", 2, np.array([0.5, -1.0], np.float32)),
    )
    ref.save(tmp_path / "r.npz", ref.Reference(("x",), ("y",), {"batch1": case}, weights=weights))
    loaded = ref.load(tmp_path / "r.npz").weights
    assert [(w.path, w.size) for w in loaded] == [("dense/kernel", 6), ("dense/bias", 2)]
    assert all(np.array_equal(a.sample, b.sample) for a, b in zip(loaded, weights, strict=True))
