"""The one list of what fails a conversion, shared by the torch stage and the check stage:
each condition alone is reported, with its figures."""

from __future__ import annotations

import pytest

from pipeline.compare import compare
from pipeline.problems import found_in as problems

GOOD = {
    "accuracy": [{"case": "digits_test", "top1_agreement": 1.0, "passed": True}],
    "keras_param_count": 10,
    "param_count": 10,
    "frozen_param_count": 0,
    "keras_frozen_param_count": 0,
    "torch_export_error": None,
}


def test_a_clean_result_has_no_problem():
    assert problems([compare("model.py", "batch1", "y", [1.0], [1.0])], GOOD) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"param_count": 9}, "9 parameters, Keras has 10"),
        ({"frozen_param_count": 4}, "4 parameters do not require grad, Keras freezes 0"),
        ({"keras_frozen_param_count": 6}, "0 parameters do not require grad, Keras freezes 6"),
        ({"torch_export_error": "TypeError: x"}, "torch.export fails: TypeError: x"),
        (
            {"onnx_export_error": "RuntimeError: no aten::foo"},
            "torch.onnx.export fails: RuntimeError: no aten::foo",
        ),
        (
            {"accuracy": [{"case": "digits_test", "top1_agreement": 0.99, "passed": False}]},
            "digits_test: top-1 agreement with Keras 99.00%",
        ),
    ],
)
def test_each_condition_is_a_problem(change, expected):
    assert problems([], {**GOOD, **change}) == [expected]


def test_an_output_over_its_tolerance_is_a_problem():
    (found,) = problems([compare("stage2.onnx", "batch4", "y", [1.0], [1.1])], GOOD)
    assert found.startswith("stage2.onnx [batch4] y: max abs 1.00e-01") and "MISMATCH" in found


def test_an_unknown_keras_count_is_not_compared():
    assert problems([], {**GOOD, "keras_param_count": -1, "param_count": 3}) == []
