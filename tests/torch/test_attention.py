"""Stage 3 on stage 1's attention function and on the exact-GELU and LayerNormalization forms:
nn.MultiheadAttention / nn.functional.gelu / nn.LayerNorm computing what onnxruntime computes."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper
from pipeline import artifacts, metadata
from pipeline import reference as ref
from pipeline.forms import DOMAIN, VERSION
from pipeline.forms import attention as attention_form
from pipeline.forms import channel_norm as channel_norm_form
from pipeline.torch_stage import run

from tests.graphs import OPSET, init, model, node, reference_of, value

RNG = np.random.default_rng(11)
EMBED, HEADS, STEPS = 8, 2, 5


def _write(tmp_path, proto: onnx.ModelProto):
    onnx.save(proto, tmp_path / artifacts.STAGE2)
    ref.save(tmp_path / artifacts.REFERENCE, reference_of(proto))
    return tmp_path / artifacts.STAGE2


def _attention_model(op_type: str, kv: int) -> onnx.ModelProto:
    shapes = {"Wq": (EMBED, EMBED), "Wk": (kv, EMBED), "Wv": (kv, EMBED), "Wo": (EMBED, EMBED)}
    arrays = {k: RNG.standard_normal(s).astype(np.float32) * 0.4 for k, s in shapes.items()}
    arrays.update({f"b{k[1]}": RNG.standard_normal(EMBED).astype(np.float32) for k in shapes})
    names = {k: f"att.{k}" for k in attention_form.INPUTS[3:]}
    masked = ["allowed"] if op_type in attention_form.MASKED else []
    call = helper.make_node(
        op_type,
        ["q", "kv", "kv", *names.values(), *masked],
        ["y"],
        name="att",
        domain=DOMAIN,
        head_shape=[0, 0, HEADS, -1],
        scale=float(1 / np.sqrt(EMBED // HEADS)),
    )
    call.doc_string = metadata.layer_doc("att", "MultiHeadAttention")
    graph = helper.make_graph(
        [call],
        "g",
        [
            value("q", ["batch", STEPS, EMBED]),
            value("kv", ["batch", STEPS, kv]),
            *(value(m, ["batch", STEPS, STEPS], onnx.TensorProto.BOOL) for m in masked),
        ],
        [value("y", ["batch", STEPS, EMBED])],
        [init(names[k], arrays[k]) for k in names],
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(DOMAIN, VERSION)],
        functions=[attention_form.function(op_type, OPSET)],
    )
    proto.ir_version = 8
    onnx.checker.check_model(proto, full_check=True)
    return proto


@pytest.mark.parametrize("op_type", attention_form.OP_TYPES)
@pytest.mark.parametrize("kv", [EMBED, 6])
def test_attention_becomes_nn_multihead_attention(op_type, kv, tmp_path):
    report = run(_write(tmp_path, _attention_model(op_type, kv)), tmp_path)
    assert report.passed and max(c.max_rel for c in report.comparisons) <= 1e-5
    assert "MultiheadAttention" in report.details["module_types"]
    assert (
        report.details["param_count"]
        == 3 * EMBED * EMBED + 3 * EMBED + (2 * (kv - EMBED) * EMBED) + EMBED * EMBED + EMBED
    )
    assert report.details["torch_export_error"] is None
    text = (tmp_path / artifacts.MODEL_PY).read_text()
    dims = "" if kv == EMBED else f", kdim={kv}, vdim={kv}"
    assert f"self.att = nn.MultiheadAttention(8, 2{dims}, batch_first=True)" in text
    assert ("triu(1)" in text) == op_type.endswith("Causal")
    # a masked call: Keras' mask, a query with no key allowed gives the output bias
    call = "keras_masked_attention(self.att, q, kv, kv, allowed" + (
        ", zeros=True)" if op_type.endswith("Zeros") else ")"
    )
    assert (call in text) == (op_type in attention_form.MASKED)


def test_exact_gelu_and_layer_norm_are_written_natively(tmp_path):
    proto = model(
        [
            node(
                "LayerNormalization",
                ["x", "n.w", "n.b"],
                ["n"],
                "n",
                "LayerNormalization",
                axis=-1,
                epsilon=1e-3,
            ),
            node("Mul", ["n", "c_sqrt"], ["m"], layer="act", cls="Dense"),
            node("Erf", ["m"], ["e"], layer="act", cls="Dense"),
            node("Add", ["c_one", "e"], ["a"], layer="act", cls="Dense"),
            node("Mul", ["c_half", "n"], ["h"], layer="act", cls="Dense"),
            node("Mul", ["h", "a"], ["y"], layer="act", cls="Dense"),
        ],
        [value("x", ["batch", 3, 4])],
        [value("y", ["batch", 3, 4])],
        [
            init("n.w", RNG.standard_normal(4).astype(np.float32)),
            init("n.b", RNG.standard_normal(4).astype(np.float32)),
            init("c_sqrt", np.array(2**-0.5, np.float32)),
            init("c_one", np.array(1.0, np.float32)),
            init("c_half", np.array(0.5, np.float32)),
        ],
    )
    proto.opset_import[0].version = OPSET
    report = run(_write(tmp_path, proto), tmp_path)
    text = (tmp_path / artifacts.MODEL_PY).read_text()
    assert "self.n = nn.LayerNorm(4, eps=0.001)" in text
    assert "x = nn.functional.gelu(x)  # act (Dense)" in text
    assert "erf" not in text and report.passed


@pytest.mark.parametrize("spatial", [(5,), (3, 4)])
def test_channel_layer_norm_becomes_nn_layer_norm_over_the_channel_axis(spatial, tmp_path):
    """Stage 2's channels-first LayerNorm: nn.LayerNorm(C) called with the channels last."""
    channels, broadcast = 4, (1, 4) + (1,) * len(spatial)
    call = helper.make_node(
        channel_norm_form.OP_TYPE, ["x", "n.w", "n.b"], ["y"], name="n", domain=DOMAIN, epsilon=1e-6
    )
    call.doc_string = metadata.layer_doc("n", "LayerNormalization")
    graph = helper.make_graph(
        [call],
        "g",
        [value("x", ["batch", channels, *spatial])],
        [value("y", ["batch", channels, *spatial])],
        [
            init("n.w", RNG.uniform(0.5, 1.5, broadcast).astype(np.float32)),
            init("n.b", RNG.standard_normal(broadcast).astype(np.float32)),
        ],
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(DOMAIN, VERSION)],
        functions=[channel_norm_form.function(OPSET)],
    )
    proto.ir_version = 8
    onnx.checker.check_model(proto, full_check=True)
    report = run(_write(tmp_path, proto), tmp_path)
    assert report.passed and max(c.max_rel for c in report.comparisons) <= 1e-5
    assert report.details["module_types"] == ["LayerNorm"]
    assert report.details["param_count"] == 2 * channels
    assert report.details["torch_export_error"] is None
    text = (tmp_path / artifacts.MODEL_PY).read_text()
    assert "self.n = nn.LayerNorm(4, eps=0.000001)" in text
    assert "x = self.n(x.movedim(1, -1)).movedim(-1, 1)  # n (LayerNormalization)" in text
