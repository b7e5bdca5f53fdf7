"""The pass driver checks the numbers after every pass and names the pass that broke them."""

from __future__ import annotations

import onnx
import onnx_ir as ir
import pytest

from pipeline.errors import MismatchError
from pipeline.passes._base import GraphPass
from pipeline.passes.driver import run_checked, run_passes
from tests.graphs import model, node, reference_of, value


class ReluToSigmoid(GraphPass):
    """A deliberately wrong rewrite."""

    NAME = "relu_to_sigmoid"

    def rewrite(self, model: ir.Model, skips) -> bool:
        for n in model.graph:
            n.op_type = "Sigmoid"
        return True


class Nothing(GraphPass):
    NAME = "nothing"

    def rewrite(self, model: ir.Model, skips) -> bool:
        return False


def _relu():
    return model([node("Relu", ["x"], ["y"])], [value("x", ["N", 4])], [value("y", ["N", 4])])


def test_the_pass_that_breaks_the_numbers_is_named():
    proto = _relu()
    with pytest.raises(MismatchError, match="pass 'relu_to_sigmoid' changed the model's outputs"):
        run_passes(ir.from_proto(proto), [Nothing(), ReluToSigmoid()], reference_of(proto))


def test_records_hold_op_diff_and_error():
    proto = _relu()
    records = run_passes(ir.from_proto(proto), [Nothing()], reference_of(proto))
    assert records[0].name == "nothing" and records[0].op_diff == "no change"
    assert records[0].worst_error == 0.0


def test_checked_once_a_planted_bad_pass_is_named_by_re_running_pass_by_pass():
    """By default the passes run unchecked and the result is checked once; a failing check
    re-runs them from the input, checking after each, to name the pass as before."""
    proto = _relu()
    planted = [Nothing(), ReluToSigmoid(), Nothing()]
    with pytest.raises(MismatchError, match="pass 'relu_to_sigmoid' changed the model's outputs"):
        run_checked(ir.from_proto(proto), planted, reference_of(proto), "stage2.onnx")


def test_checked_once_records_no_per_pass_error_and_the_final_comparisons():
    proto = _relu()
    records, comparisons, checked = run_checked(
        ir.from_proto(proto), [Nothing(), Nothing()], reference_of(proto), "stage2.onnx"
    )
    assert onnx.load_from_string(checked).graph.node  # the bytes the stage writes
    assert [r.worst_error for r in records] == [None, None]
    assert comparisons and all(c.passed and c.artifact == "stage2.onnx" for c in comparisons)


def test_every_pass_checked_records_each_pass_error():
    proto = _relu()
    records, _, _ = run_checked(
        ir.from_proto(proto), [Nothing()], reference_of(proto), "stage2.onnx", every_pass=True
    )
    assert records[0].worst_error == 0.0


def test_a_failing_shape_inference_is_one_log_line_without_a_traceback(caplog):
    """onnx-ir logs the failure with its traceback; the passes' log says it in one line."""
    from onnx import TensorProto, helper
    from onnx_ir.passes.common import ShapeInferencePass

    import pipeline.passes.driver  # noqa: F401  (installs the filter)

    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["c"])],
        "g",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [2]),
            helper.make_tensor_value_info("b", TensorProto.INT64, [2]),
        ],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [2])],
    )
    with caplog.at_level("WARNING"):
        ShapeInferencePass()(ir.from_proto(helper.make_model(graph)))
    (record,) = caplog.records
    assert record.exc_info is None and "\n" not in record.getMessage()
    assert "shape inference failed" in record.getMessage()
    assert "B has inconsistent type tensor(int64)" in record.getMessage()
