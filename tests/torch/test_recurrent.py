"""Stage 3 on stage 1's recurrent functions: every form becomes one nn.LSTM/nn.GRU/nn.RNN
(batch_first=True) that computes what onnxruntime computes for the function, and is written
as plain PyTorch."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper
from pipeline import artifacts, forms, metadata
from pipeline import reference as ref
from pipeline.forms import recurrent as recurrent_form
from pipeline.forms.recurrent import Form
from pipeline.torch_stage import run

from tests.graphs import OPSET, init, reference_of, value

RNG = np.random.default_rng(7)
FEATURES, HIDDEN, STEPS = 3, 4, 5


def _recurrent_model(form: Form, bias: bool = True, activation: str = "Tanh") -> onnx.ModelProto:
    d, g = form.num_directions, recurrent_form.GATES[form.kind] * HIDDEN
    weights = {
        "rnn.W": RNG.standard_normal((d, g, FEATURES)).astype(np.float32) * 0.5,
        "rnn.R": RNG.standard_normal((d, g, HIDDEN)).astype(np.float32) * 0.5,
    }
    if bias:
        weights["rnn.B"] = RNG.standard_normal((d, 2 * g)).astype(np.float32) * 0.5
    states_in = [f"{n.lower()}0" for n in form.state_names] if form.initial else []
    states_out = [n.lower() for n in form.state_names] if form.states else []
    mask = ["mask"] if form.masked else []
    call = helper.make_node(
        form.op_type,
        ["x", "rnn.W", "rnn.R", "rnn.B" if bias else "", *states_in, *mask],
        ["y", *states_out],
        name="rnn",
        domain=forms.DOMAIN,
        hidden_size=HIDDEN,
    )
    if form.kind == "SimpleRNN":
        count = 1 if form.masked else d  # a masked form: one op per direction
        call.attribute.append(helper.make_attribute("activations", [activation] * count))
    call.doc_string = metadata.layer_doc("rnn", form.kind)
    graph = helper.make_graph(
        [call],
        "g",
        [
            value("x", ["batch", STEPS, FEATURES]),
            *(value(n, ["batch", HIDDEN]) for n in states_in),
            *(value(n, ["batch", STEPS], onnx.TensorProto.BOOL) for n in mask),
        ],
        [value("y", _output_shape(form)), *(value(n, ["batch", HIDDEN]) for n in states_out)],
        [init(name, array) for name, array in weights.items()],
    )
    proto = helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", OPSET),
            helper.make_opsetid(forms.DOMAIN, forms.VERSION),
        ],
        functions=[recurrent_form.function(form, OPSET)],
    )
    proto.ir_version = 8
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _output_shape(form: Form) -> list:
    units = HIDDEN * (2 if form.direction == "BidirectionalConcat" else 1)
    return ["batch", STEPS, units] if form.output == "Sequence" else ["batch", units]


def _write(tmp_path, proto: onnx.ModelProto):
    onnx.save(proto, tmp_path / artifacts.STAGE2)
    ref.save(tmp_path / artifacts.REFERENCE, reference_of(proto))
    return tmp_path / artifacts.STAGE2


def _torch_param_count(form: Form, bias: bool) -> int:
    g = recurrent_form.GATES[form.kind] * HIDDEN
    per_direction = g * (FEATURES + HIDDEN) + (2 * g if bias else 0)
    return form.num_directions * per_direction


@pytest.mark.parametrize("form", recurrent_form.all_forms(), ids=lambda f: f.op_type)
def test_every_recurrent_form_matches_onnxruntime(form, tmp_path):
    report = run(_write(tmp_path, _recurrent_model(form)), tmp_path)
    assert report.passed, [c.describe() for c in report.comparisons]
    assert max(c.max_rel for c in report.comparisons) <= 1e-5
    assert report.details["module_types"] == [recurrent_form.KINDS[form.kind]]
    assert report.details["param_count"] == _torch_param_count(form, bias=True)
    assert report.details["torch_export_error"] is None
    text = (tmp_path / artifacts.MODEL_PY).read_text()
    torch_class = recurrent_form.KINDS[form.kind]
    bidirectional = ", bidirectional=True" if form.bidirectional else ""
    assert f"self.rnn = nn.{torch_class}(3, 4, batch_first=True{bidirectional})" in text
    assert "permute" not in text and "transpose" not in text
    assert ("x.flip(1)" in text) == (form.direction == "Backward")
    assert ("keras_masked_rnn(self.rnn, " in text) == form.masked
    if form.initial:  # Keras' (B, H) states in, torch's (1, B, H)
        assert "h0.unsqueeze(0)" in text and ("c0.unsqueeze(0)" in text) == (form.kind == "LSTM")


def test_recurrent_without_bias_and_with_relu(tmp_path):
    form = Form("SimpleRNN", "Forward", "Last")
    report = run(_write(tmp_path, _recurrent_model(form, False, "Relu")), tmp_path)
    assert report.passed and report.details["param_count"] == _torch_param_count(form, False)
    text = (tmp_path / artifacts.MODEL_PY).read_text()
    assert "self.rnn = nn.RNN(3, 4, batch_first=True, bias=False, nonlinearity='relu')" in text
    assert "x, _ = self.rnn(x)  # rnn (SimpleRNN)\n        x = x[:, -1]" in text


def test_a_graph_output_that_is_one_of_a_node_s_outputs_is_that_item(tmp_path):
    """onnx2torch returned the GRU's whole (output, h) for a graph output that is h alone:
    ``graph_outputs.select`` makes it the item."""
    form = Form("GRU", "Forward", "Last", states=True)
    proto = _recurrent_model(form)
    proto.graph.output.pop(0)  # the model returns the state only
    onnx.checker.check_model(proto, full_check=True)
    report = run(_write(tmp_path, proto), tmp_path)
    assert report.passed, [c.describe() for c in report.comparisons]
    text = (tmp_path / artifacts.MODEL_PY).read_text()
    assert "x = x[0][:, -1], x[1][0]\n        x = x[1]\n        return x" in text, text
