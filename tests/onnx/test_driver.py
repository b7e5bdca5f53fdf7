"""The pass driver checks the numbers after every pass and names the pass that broke them."""

from __future__ import annotations

import onnx_ir as ir
import pytest

from pipeline.errors import MismatchError
from pipeline.passes._base import GraphPass
from pipeline.passes.driver import run_passes
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
