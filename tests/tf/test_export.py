"""Stage 1: what export writes for LeNet4, and how it fails on what it cannot convert."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import onnx
import pytest
from pipeline import artifacts, metadata
from pipeline import reference as ref
from pipeline.compare import FLOAT32_TOL
from pipeline.errors import BadInputError, UnsupportedError

ROOT = Path(__file__).resolve().parents[2]


def test_lenet4_artifacts(lenet4_export):
    out, report = lenet4_export
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [artifacts.KERAS_MODEL, artifacts.STAGE1, artifacts.REFERENCE, artifacts.EXPORT_REPORT]
    )
    assert report.passed and len(report.comparisons) == 3
    assert max(c.max_rel for c in report.comparisons) <= FLOAT32_TOL


def test_reference_has_two_batch_sizes_and_the_digits_split(lenet4_export):
    out, _ = lenet4_export
    reference = ref.load(out / artifacts.REFERENCE)
    assert list(reference.cases) == ["batch1", "batch4", "digits_test"]
    assert reference.cases["batch4"].inputs["input_1"].shape == (4, 28, 28, 1)
    digits = reference.cases["digits_test"]
    assert digits.labels.shape == (360,)
    accuracy = np.mean(np.argmax(digits.outputs["predictions"], -1) == digits.labels)
    assert accuracy > 0.9  # trained on real digits, not random weights


def test_keras_layers_travel_in_the_onnx(lenet4_export):
    out, _ = lenet4_export
    proto = onnx.load(out / artifacts.STAGE1)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta[metadata.MODEL_NAME] == "lenet4"
    assert meta[metadata.PARAM_COUNT] == "69362"
    assert meta[metadata.INPUT_LAYOUT_PREFIX + "input_1"] == "NHWC"
    layers = dict(json.loads(meta[metadata.LAYERS]))
    assert layers["fc1"] == "Dense" and layers["block1_conv1"] == "Conv2D"
    owners = {metadata.layer_of(n.doc_string)[0] for n in proto.graph.node}
    assert {"block1_conv1", "block2_pool1", "flatten", "fc1", "predictions"} <= owners


def test_unconvertible_op_fails_naming_op_and_layer(tmp_path):
    from pipeline import export

    with pytest.raises(UnsupportedError) as err:
        export.run("unconvertible", tmp_path / "out")
    message = str(err.value)
    assert "(Erfc) of Keras layer 'custom_erfc' (Erfc)" in message
    assert "Supported layers" in message
    assert not (tmp_path / "out" / artifacts.STAGE1).exists()


def test_exact_gelu_and_a_zero_bias_convert(tmp_path):
    """TensorFlow's exact GELU uses Erfc; stage 1 traces it with Erf. The untrained Dense's
    zero bias, which tf2onnx drops, is recorded so stage 2 can restore it."""
    from pipeline import export

    inputs = keras.Input((8,), name="x")
    x = keras.layers.Dense(8, name="fc")(inputs)
    outputs = keras.layers.Activation("gelu", name="exact_gelu")(x)  # exact by default
    path = tmp_path / "gelu.keras"
    keras.Model(inputs, outputs, name="gelu_net").save(path)
    report = export.run(str(path), tmp_path / "out")
    assert report.passed
    proto = onnx.load(tmp_path / "out" / artifacts.STAGE1)
    ops = {n.op_type for n in proto.graph.node}
    assert "Erf" in ops and "Erfc" not in ops
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta[metadata.USE_BIAS]) == ["fc"]


def test_legacy_h5_input_converts_and_is_not_modified(tmp_path, lenet4_export):
    from pipeline import export

    out, _ = lenet4_export
    h5 = tmp_path / "lenet4.h5"
    keras.saving.load_model(out / artifacts.KERAS_MODEL).save(h5)
    digest = hashlib.sha256(h5.read_bytes()).hexdigest()
    report = export.run(str(h5), tmp_path / "from_h5")
    assert report.passed
    assert hashlib.sha256(h5.read_bytes()).hexdigest() == digest
    assert not (tmp_path / "from_h5" / artifacts.KERAS_MODEL).exists()  # not built here


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("no_such_model", "unknown MODEL 'no_such_model'"),
        ("missing/file.keras", "model file not found"),
    ],
)
def test_unknown_model(model, message):
    from models import resolve

    with pytest.raises(BadInputError, match=message):
        resolve(model)


def test_a_file_that_is_not_a_keras_model(tmp_path):
    from models import resolve

    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(BadInputError, match="is not a .keras file: a .keras file is a zip"):
        resolve(str(bad))
    other = tmp_path / "model.txt"
    other.write_text("hello")
    with pytest.raises(BadInputError, match="not a Keras model file"):
        resolve(str(other))


@pytest.mark.parametrize("model", ["lenet4", "layer:Dot"])  # Dot: two independent branches
def test_stage2_is_the_same_whatever_the_hash_seed(tmp_path, model):
    """tf2onnx's output (its node order too) varies with PYTHONHASHSEED; stage2.onnx must not."""
    digests = set()
    for seed in ("0", "1", "2"):
        out = tmp_path / f"seed{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        for args in (
            ["export", model, str(out)],
            ["passes", str(out / artifacts.STAGE1), str(out / artifacts.STAGE2)],
        ):
            subprocess.run(
                [sys.executable, "-m", "pipeline", *args],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
        digests.add(hashlib.sha256((out / artifacts.STAGE2).read_bytes()).hexdigest())
    assert len(digests) == 1


def test_known_unsupported_layer_is_refused_by_name(tmp_path):
    from pipeline import export

    inputs = keras.Input((5, 8), name="x")
    cell = keras.layers.LSTMCell(4)
    outputs = keras.layers.RNN(cell, name="custom")(keras.layers.Dense(8, name="fc")(inputs))
    path = tmp_path / "custom_rnn.keras"
    keras.Model(inputs, outputs, name="custom_rnn_net").save(path)
    with pytest.raises(UnsupportedError, match=r"layer 'custom' \(RNN\): a generic RNN"):
        export.run(str(path), tmp_path / "out")
    assert not (tmp_path / "out" / artifacts.STAGE1).exists()


def test_float64_copy_computes_the_same_model_in_float64():
    from pipeline.export.float64 import float64_copy, scaled

    keras.utils.set_random_seed(0)
    inputs = keras.Input((5, 5, 2))
    x = keras.layers.Conv2D(3, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="probs")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    copy = float64_copy(model)
    assert {layer.compute_dtype for layer in copy.layers[1:]} == {"float64"}
    x = np.random.default_rng(0).standard_normal((2, 5, 5, 2))
    exact = np.asarray(copy(x))
    assert exact.dtype == np.float64
    assert 0 < scaled(np.asarray(model(x.astype(np.float32))), exact) <= FLOAT32_TOL


def test_float64_copy_is_float64_after_its_inputs_and_inside_nested_models():
    """Its inputs were float32 InputLayers, which cast what they are fed back to float32, so
    a LayerNormalization on an input (it does not autocast) computed in float32, and a nested
    model's layers kept their float32 policy (fuzz seed 2213 showed it)."""
    from pipeline.export.float64 import float64_copy

    keras.utils.set_random_seed(0)
    block = keras.Sequential(
        [keras.Input((4, 3)), keras.layers.LayerNormalization(axis=1, name="inner_ln")],
        name="block",
    )
    inputs = keras.Input((4, 3), name="x")
    outputs = block(keras.layers.LayerNormalization(axis=1, name="ln")(inputs))
    copy = float64_copy(keras.Model(inputs, outputs))
    inner = copy.get_layer("block")
    assert [t.dtype for t in (*copy.inputs, *inner.inputs)] == ["float64", "float64"]
    assert inner.get_layer("inner_ln").compute_dtype == "float64"

    def layer_norm(v: np.ndarray) -> np.ndarray:  # over axis 1, gamma 1, beta 0, epsilon 1e-3
        return (v - v.mean(1, keepdims=True)) / np.sqrt(v.var(1, keepdims=True) + 1e-3)

    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    exact = layer_norm(layer_norm(x.astype(np.float64)))
    assert np.abs(np.asarray(copy(x.astype(np.float64))) - exact).max() < 1e-12
    assert np.abs(layer_norm(layer_norm(x)).astype(np.float64) - exact).max() > 1e-9


def test_float64_copy_of_masks_ops_and_wrapped_layers():
    """A model whose graph holds ops that are not layers (Masking's mask: NotEqual, Any; a
    ``+`` of two tensors: Add) and layers that wrap a layer (TimeDistributed, Bidirectional):
    the ops were given a dtype they do not take and the wrapped layers kept float32 weights,
    so the zoo's transformer, masked and video models and 5 others had no float64 copy."""
    from pipeline.export.float64 import float64_copy

    keras.utils.set_random_seed(0)
    inputs = keras.Input((4, 3, 3, 2), name="frames")
    x = keras.layers.TimeDistributed(keras.layers.Conv2D(2, 3), name="per_frame")(inputs)
    x = keras.layers.Reshape((4, 2))(x)
    x = keras.layers.Masking(0.0, name="masking")(x)
    lstm = keras.layers.LSTM(3, return_sequences=True)
    x = keras.layers.Bidirectional(lstm, name="bidir")(x)
    outputs = keras.layers.GlobalAveragePooling1D()(x + x)
    model = keras.Model(inputs, outputs)
    assert {type(op).__name__ for op in model.operations} >= {"NotEqual", "Add"}
    copy = float64_copy(model)
    assert {w.dtype for w in copy.weights} == {"float64"}
    x = np.random.default_rng(0).standard_normal((2, 4, 3, 3, 2))
    x[0, 2:] = 0.0  # masked steps (the conv of zeros is its bias: nonzero, so not masked)
    exact = np.asarray(copy(x))
    assert exact.dtype == np.float64
    assert np.abs(np.asarray(model(x.astype(np.float32))) - exact).max() < 1e-6


def test_keras_compiled_run_is_stored_only_where_rule_2_can_decide():
    """Keras' compiled predict is run (and stored) on a case only where Keras' eager error is
    over a third of the bar: a bar of 1e-5 here has no such case, one far below float32's
    rounding has every case; the stored outputs are predict_on_batch's."""
    from pipeline.export import anchor, structure

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), name="x")
    hidden = keras.layers.Dense(16, activation="tanh", name="fc")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(hidden))
    rng = np.random.default_rng(0)
    cases = {}
    for name, batch in (("batch1", 1), ("batch4", 4)):
        x = rng.standard_normal((batch, 6)).astype(np.float32)
        cases[name] = ref.Case({"x": x}, {"out": structure.call(model, [x])[0]})
    plain = ref.Reference(("x",), ("out",), cases, FLOAT32_TOL)
    kept, note = anchor.anchored(model, plain)
    assert all(c.exact is not None and c.compiled is None for c in kept.cases.values())
    assert "compiled" not in note
    strict, note = anchor.anchored(model, ref.Reference(("x",), ("out",), cases, 1e-12))
    assert "Keras compiled on batch1, batch4" in note
    for case in strict.cases.values():
        expected = model.predict_on_batch(case.inputs["x"])
        np.testing.assert_array_equal(case.compiled_output("out"), expected)


def test_a_failing_tf2onnx_optimizer_is_skipped_as_tf2onnx_does(monkeypatch, caplog):
    """tf2onnx's optimizers run on a graph copied once, not before each (its catch_errors):
    when one raises, they run again from the copy as tf2onnx runs them by default, skipping
    the failing one, with a warning naming the failure; the other optimizers still apply."""
    import tf2onnx.optimizer
    from pipeline.export.tf2onnx_export import to_onnx

    class Failing:
        graph_been_opt = False

        def optimize(self, graph, iteration):
            graph.remove_node(graph.get_nodes()[0].name)  # half-done work, then a failure
            raise RuntimeError("planted optimizer bug")

    inputs = keras.Input((3,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(2, name="fc")(inputs))
    expected = [n.op_type for n in to_onnx(model).graph.node]
    optimizers = dict(tf2onnx.optimizer._get_optimizers(), planted=Failing)
    monkeypatch.setattr(tf2onnx.optimizer, "_get_optimizers", lambda: optimizers)
    with caplog.at_level("WARNING"):
        ops = [n.op_type for n in to_onnx(model).graph.node]
    assert "a tf2onnx graph optimizer failed (RuntimeError: planted optimizer bug)" in caplog.text
    assert ops == expected and "Identity" not in ops


def _by_value(graph: onnx.GraphProto) -> tuple:
    """The graph with each initializer named by its value and tf2onnx's name counters
    dropped: which of two equal constants its duplicate merging keeps varies from run to run
    (as its node order does), and its counter differs between a process's first conversion
    and later ones."""
    values = {t.name: (t.data_type, tuple(t.dims), t.raw_data) for t in graph.initializer}
    nodes = []
    for node in graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        del copy.input[:]
        text = re.sub(r"__\d+", "", str(copy))
        nodes.append((text, [values.get(i, re.sub(r"__\d+", "", i)) for i in node.input]))
    return nodes, sorted(values.values()), [o.name for o in graph.output]


def test_constants_left_out_of_tf2onnx_proto_updates_change_nothing(monkeypatch):
    """Stage 1 skips tf2onnx's re-copying of each constant's tensor after every optimizer
    (``tf2onnx_optimizers.const_protos_left_alone``): the ONNX model is the same as tf2onnx's
    own, constant folding, merged duplicates and a BatchNormalization included, and tf2onnx
    is restored after."""
    from contextlib import nullcontext

    import tf2onnx.graph
    from pipeline.export import tf2onnx_export, tf2onnx_optimizers

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 2), name="x")
    x = keras.layers.Conv2D(3, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten(name="flat")(keras.layers.ReLU(name="relu")(x))
    model = keras.Model(inputs, keras.layers.Dense(4, name="fc")(x))
    rng = np.random.default_rng(0)  # distinct weights: no two constants tf2onnx could merge
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in model.weights])
    original = tf2onnx.graph.Node.update_proto
    skipped = tf2onnx_export.to_onnx(model)
    assert tf2onnx.graph.Node.update_proto is original
    monkeypatch.setattr(tf2onnx_optimizers, "const_protos_left_alone", nullcontext)
    tf2onnx_default = tf2onnx_export.to_onnx(model)
    assert _by_value(tf2onnx_default.graph) == _by_value(skipped.graph)
    assert {n.op_type for n in skipped.graph.node} >= {"Conv", "MatMul", "Reshape"}


def test_a_skipped_tf2onnx_optimizer_logs_its_error_without_a_traceback(caplog):
    """Fuzz seed 1078 makes a tf2onnx optimizer raise; stage 1 then runs them as tf2onnx
    does by default, and tf2onnx logs each one it skips with its traceback: only the
    exception's message may reach the user."""
    import json
    import logging
    from pathlib import Path

    from models import fuzz_build
    from pipeline.export import tf2onnx_export

    spec_path = Path(__file__).parents[1] / "fuzz_regressions"
    spec = json.loads((spec_path / "1078_tf2onnx_optimizer_that_raises.json").read_text())
    with caplog.at_level(logging.WARNING):
        tf2onnx_export.to_onnx(fuzz_build.build(spec))
    skipped = [r for r in caplog.records if r.getMessage().startswith("Failed to apply")]
    assert skipped, [r.getMessage() for r in caplog.records]
    assert all(r.exc_info is None and "Error" in r.getMessage() for r in skipped)
    assert "Traceback" not in caplog.text
