"""Stage 1, export: Keras -> ``stage1.onnx`` (tf2onnx, NHWC as Keras computes it) and
``reference.npz`` (seeded inputs and the Keras outputs every later artifact is held to).

The only stage that imports TensorFlow. ``python -m pipeline export MODEL OUT_DIR``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from pipeline import artifacts, ort, progress  # noqa: E402
from pipeline import failed as failures  # noqa: E402
from pipeline import reference as ref  # noqa: E402
from pipeline.compare import Comparison, tolerance_for  # noqa: E402
from pipeline.errors import MismatchError  # noqa: E402
from pipeline.report import StageReport  # noqa: E402

BATCH_SIZES = (1, 4)
INPUT_SEED = 0
# Sizes for input dimensions the model leaves open (an image's height and width, a sequence's
# length): the first for the batch cases, the second for one more case (batch 2), so that a
# model that accepts other sizes is checked at two of them.
FREE_SIZES = (16, 24)
SECOND_SIZE_BATCH = 2
INT_HIGH = 10  # integer inputs (token ids) are drawn from [0, INT_HIGH) without an Embedding


def _token_high(model) -> int:
    """Token ids must index every Embedding the model has: below the smallest input_dim."""
    from pipeline.export.tf2onnx_export import all_layers

    dims = [layer.input_dim for layer in all_layers(model) if hasattr(layer, "input_dim")]
    return min(dims, default=INT_HIGH)


def _input(rng, tensor, batch: int, free: int, high: int) -> np.ndarray:
    shape = (batch, *(free if d is None else d for d in tensor.shape[1:]))
    if "int" in str(tensor.dtype):
        return rng.integers(0, high, shape).astype(str(tensor.dtype))
    return rng.standard_normal(shape).astype(np.float32)


def reference_cases(
    model, names: tuple[str, ...], output_names: tuple[str, ...], labeled=None
) -> ref.Reference:
    """Seeded inputs (standard normal; token ids for integer inputs) at each batch size, at a
    second size of the open dimensions if the model has any, plus a labelled split; and the
    Keras outputs for them, named as the ONNX graph names its inputs and outputs."""
    rng = np.random.default_rng(INPUT_SEED)
    high = _token_high(model)
    runs = [(f"batch{batch}", batch, FREE_SIZES[0]) for batch in BATCH_SIZES]
    if any(None in t.shape[1:] for t in model.inputs):
        runs.append(
            (f"batch{SECOND_SIZE_BATCH}_size{FREE_SIZES[1]}", SECOND_SIZE_BATCH, FREE_SIZES[1])
        )
    cases = {}
    for case, batch, free in runs:
        inputs = {
            name: _input(rng, t, batch, free, high)
            for name, t in zip(names, model.inputs, strict=True)
        }
        cases[case] = ref.Case(inputs, _keras_outputs(model, inputs, output_names))
    if labeled is not None:
        inputs = {names[0]: labeled.x.astype(np.float32)}
        outputs = _keras_outputs(model, inputs, output_names)
        cases[labeled.name] = ref.Case(inputs, outputs, labeled.y)
    return ref.Reference(names, output_names, cases, tolerance_for(len(model.layers)))


def _keras_outputs(model, inputs: dict[str, np.ndarray], names: tuple[str, ...]):
    from pipeline.export import structure

    outputs = structure.call(model, [inputs[name] for name in inputs])
    return dict(zip(names, outputs, strict=True))


REBUILD = "keras3_rebuild"  # the artifact name of a Keras 2 file's Keras 3 rebuild


def rebuild_comparisons(loaded, reference: ref.Reference) -> tuple[Comparison, ...]:
    """A Keras 2 file is converted through its Keras 3 rebuild: the rebuild must compute
    what the Keras that wrote the file computes, on every reference case."""
    if loaded.reference_model is None:
        return ()
    return tuple(
        reference.compare(REBUILD, case_name, name, actual)
        for case_name, case in reference.cases.items()
        for name, actual in _keras_outputs(
            loaded.model, case.inputs, reference.output_names
        ).items()
    )


def _checked(model: str, out_dir: Path, loaded, proto, reference: ref.Reference, built):
    """The Keras 2 rebuild and stage1.onnx held to the reference; on a failure, the files
    go to OUT/failed and the error names the first Keras layer that differs."""
    from pipeline.export import written

    progress.step("onnxruntime: stage1.onnx against Keras")
    comparisons = rebuild_comparisons(loaded, reference)
    comparisons += tuple(ort.check_against(proto, reference, artifacts.STAGE1))
    failed = [c.describe() for c in comparisons if not c.passed]
    if failed:
        error = MismatchError("stage 1 does not match Keras: " + "; ".join(failed))
        keep = functools.partial(
            written.write_failed, model=model, proto=proto, reference=reference, built=built
        )
        raise failures.keep("export", out_dir, keep, error)
    return comparisons


def forget_models() -> None:
    """Drop every Keras model built so far (its name counters, its graphs): the next export
    in this process names things as a fresh process would (``pipeline.batch``)."""
    import keras

    keras.backend.clear_session()


def run(model: str, out_dir: Path, options=None) -> StageReport:
    """Export ``model`` (a registry name, a .keras/.h5 path or a keras.applications name);
    ``options``: a ``models.LoadOptions`` for a user's file (custom objects, Lambda code)."""
    out_dir = Path(out_dir)
    outputs = (
        artifacts.STAGE1,
        artifacts.REFERENCE,
        artifacts.EXPORT_REPORT,
        artifacts.KERAS_MODEL,
    )
    # never the input itself (a keras_model.keras converted into the directory it is in)
    paths = [out_dir / n for n in outputs if (out_dir / n).resolve() != Path(model).resolve()]
    with artifacts.stage_outputs(paths):
        return _run(model, out_dir, options)


def _run(model: str, out_dir: Path, options) -> StageReport:
    from models import resolve

    start = time.perf_counter()
    progress.step("loading %s", model)
    loaded = resolve(model, options)  # a bad file is refused before TensorFlow is imported

    from pipeline.export import anchor, annotate, fingerprints, tf2onnx_export, written

    keras_model = loaded.model
    progress.step(
        "tf2onnx: converting and optimizing %s (%s: %d layers, %d parameters)",
        keras_model.name,
        loaded.source,
        len(keras_model.layers),
        keras_model.count_params(),
    )
    proto = tf2onnx_export.to_onnx(keras_model)
    annotate.annotate(proto, keras_model)
    tf2onnx_export.validate(proto)
    onnx_outputs = tuple(o.name for o in proto.graph.output)
    onnx_inputs = tuple(i.name for i in proto.graph.input)
    progress.step("Keras: outputs on the reference cases")
    reference = reference_cases(loaded.reference, onnx_inputs, onnx_outputs, loaded.labeled)
    reference = dataclasses.replace(reference, weights=fingerprints.fingerprints(keras_model))
    progress.step("Keras: the float64 copy's outputs (the check's rule 2)")
    anchor_start = time.perf_counter()
    reference, anchor_note = anchor.anchored(keras_model, reference)
    anchor_seconds = time.perf_counter() - anchor_start
    built = keras_model if loaded.built_here else None
    comparisons = _checked(model, out_dir, loaded, proto, reference, built)
    files = written.write(out_dir, proto, reference, built)
    report = StageReport(
        "export",
        files,
        time.perf_counter() - start,
        comparisons,
        details={
            "model": model,
            "source": loaded.source,
            "keras_model": keras_model.name,
            "param_count": keras_model.count_params(),
            **written.structure(proto),
            # rule 2 of the check (compare.ANCHOR_FACTOR): the float64 copy's outputs
            "float64_anchor": anchor_note,
            "float64_anchor_seconds": round(anchor_seconds, 2),
        },
    )
    artifacts.write_json(out_dir / artifacts.EXPORT_REPORT, report.to_json())
    return report
