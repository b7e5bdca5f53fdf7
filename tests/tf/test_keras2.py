"""Keras 2 files (models/keras2.py): written here by ``tf_keras`` at test time, read by
``tf_keras``, rebuilt in Keras 3, and held to the outputs of the Keras that wrote them."""

from __future__ import annotations

import hashlib

import models
import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from models.loaded import LoadOptions
from pipeline import export
from pipeline.compare import FLOAT32_TOL
from pipeline.errors import BadInputError

L = tf_keras.layers


def _two_input_model():
    """Functional, an image and a feature vector, two outputs (a list)."""
    tf_keras.utils.set_random_seed(0)
    image = tf_keras.Input((12, 12, 3), name="image")
    features = tf_keras.Input((5,), name="features")
    x = L.Conv2D(4, 3, name="conv")(image)
    x = L.BatchNormalization(name="bn")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Concatenate(name="join")([x, features])
    logits = L.Dense(3, name="logits")(x)
    score = L.Dense(1, activation="sigmoid", name="score")(x)
    model = tf_keras.Model([image, features], [logits, score], name="two_in_k2")
    for weight in model.weights:  # BN statistics too: not the identity
        weight.assign(np.random.default_rng(1).uniform(0.5, 1.5, weight.shape))
    return model


@pytest.fixture(scope="module", params=[".h5", "SavedModel"])
def keras2_file(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("keras2") / ("two_in.h5" if request.param == ".h5" else "sm")
    _two_input_model().save(path)
    return path, request.param


def _digest(path) -> str:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def test_a_keras2_file_is_read_by_tf_keras_and_rebuilt_in_keras3(keras2_file):
    path, kind = keras2_file
    loaded = models.resolve(str(path))
    assert type(loaded.reference_model).__module__.startswith("tf_keras")
    assert type(loaded.model).__module__.startswith("keras")
    assert f"Keras {tf_keras.__version__} {kind}, read by tf_keras" in loaded.source
    assert loaded.model.count_params() == loaded.reference_model.count_params()


def test_the_export_holds_the_rebuild_and_stage1_to_tf_keras_outputs(keras2_file, tmp_path):
    path, _ = keras2_file
    before = _digest(path)
    report = export.run(str(path), tmp_path)
    assert report.passed
    rebuild = [c for c in report.comparisons if c.artifact == export.REBUILD]
    assert len(rebuild) == 2 * len(export.BATCH_SIZES)  # two outputs per case
    assert all(c.max_rel <= FLOAT32_TOL for c in report.comparisons)
    # the reference is what tf_keras computes on the stored inputs
    written_by = tf_keras.models.load_model(path, compile=False)
    reference = export.ref.load(tmp_path / "reference.npz")
    case = reference.cases["batch4"]
    expected = written_by([case.inputs[name] for name in reference.input_names], training=False)
    for name, value in zip(reference.output_names, expected, strict=True):
        np.testing.assert_array_equal(case.outputs[name], np.asarray(value))
    assert _digest(path) == before  # the input is never written


def test_a_rebuild_that_computes_something_else_is_refused(keras2_file):
    path, _ = keras2_file
    loaded = models.resolve(str(path))
    kernel = loaded.model.get_layer("logits").kernel
    kernel.assign(kernel.numpy()[::-1])  # the classic row-order bug, planted
    names = ("image", "features")
    reference = export.reference_cases(loaded.reference, names, ("logits", "score"))
    failed = [c for c in export.rebuild_comparisons(loaded, reference) if not c.passed]
    assert failed and {c.output for c in failed} == {"logits"}
    assert failed[0].describe().startswith(f"{export.REBUILD} [")


def test_a_bare_tf_savedmodel_is_refused_naming_what_is_missing(tmp_path):
    module = tf.Module()
    module.scale = tf.Variable(2.0)
    module.call = tf.function(lambda x: x * module.scale, input_signature=[tf.TensorSpec([None])])
    tf.saved_model.save(module, str(tmp_path / "bare"))
    with pytest.raises(BadInputError, match="without Keras metadata .keras_metadata.pb."):
        models.resolve(str(tmp_path / "bare"))


def test_a_directory_that_is_no_savedmodel_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(BadInputError, match="without saved_model.pb: not a SavedModel"):
        models.resolve(str(tmp_path))


def test_a_keras3_h5_is_read_by_keras3_alone(tmp_path):
    import keras

    inputs = keras.Input((4,), name="x")
    keras.Model(inputs, keras.layers.Dense(2, name="d")(inputs)).save(tmp_path / "k3.h5")
    loaded = models.resolve(str(tmp_path / "k3.h5"))
    assert loaded.reference_model is None and loaded.reference is loaded.model


@pytest.mark.parametrize("kind", [".h5", "SavedModel"])
def test_a_keras2_lambda_runs_only_with_the_unsafe_flag(kind, tmp_path):
    """tf_keras' own .h5/SavedModel loaders would run a Lambda's stored code unasked."""
    tf_keras.utils.set_random_seed(0)
    inputs = tf_keras.Input((6,), name="x")
    x = L.Lambda(lambda t: t * 2.0 + 1.0, name="lam")(L.Dense(4, name="d")(inputs))
    model = tf_keras.Model(inputs, L.Dense(3, name="out")(x))
    path = tmp_path / ("lam.h5" if kind == ".h5" else "lam_sm")
    model.save(path)
    with pytest.raises(BadInputError, match="Lambda layer's Python code.*--unsafe-deserial"):
        models.resolve(str(path))
    loaded = models.resolve(str(path), LoadOptions(unsafe_deserialization=True))
    sample = np.random.default_rng(2).normal(size=(3, 6)).astype(np.float32)
    np.testing.assert_allclose(loaded.model(sample), model(sample), rtol=1e-6, atol=1e-6)
