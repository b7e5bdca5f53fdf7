"""Stage 1, export: Keras -> ``stage1.onnx`` (tf2onnx, NHWC as Keras computes it) and
``reference.npz`` (seeded inputs and the Keras outputs every later artifact is held to).

The only stage that imports TensorFlow. ``python -m pipeline export MODEL OUT_DIR``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
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
from pipeline.export import written  # noqa: E402  (no TensorFlow: its functions import it)
from pipeline.export.cases import BATCH_SIZES, SECOND_SIZE_CASE, case_inputs  # noqa: E402, F401
from pipeline.report import StageReport  # noqa: E402

log = logging.getLogger(__name__)


def reference_cases(
    model, names: tuple[str, ...], output_names: tuple[str, ...], labeled=None, inputs=None
) -> ref.Reference:
    """``case_inputs`` (or ``inputs``, as it gives them) and the Keras outputs for them,
    named as the ONNX graph names its inputs and outputs."""
    inputs = case_inputs(model, labeled) if inputs is None else inputs
    cases = {}
    for case, arrays in inputs.items():
        named = dict(zip(names, arrays, strict=True))
        labels = labeled.y if labeled is not None and case == labeled.name else None
        try:
            outputs = _keras_outputs(model, named, output_names)
        except Exception as exc:  # Keras raises many types; the second size is optional
            if case != SECOND_SIZE_CASE:
                raise
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.warning("Keras refuses the second size (%s): checked at the first only", why)
            continue
        cases[case] = ref.Case(named, outputs, labels)
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


def _checked(model: str, out_dir: Path, loaded, proto, data, reference: ref.Reference):
    """The Keras 2 rebuild and stage1.onnx (``data``: its bytes) held to the reference; on
    a failure, the files go to OUT/failed and the error names the first layer that differs."""
    progress.step("onnxruntime: stage1.onnx against Keras")
    comparisons = rebuild_comparisons(loaded, reference)
    comparisons += tuple(ort.check_against(proto, reference, artifacts.STAGE1, serialized=data))
    failed = [c.describe() for c in comparisons if not c.passed]
    if failed:
        error = MismatchError("stage 1 does not match Keras: " + "; ".join(failed))
        keep = functools.partial(
            written.write_failed,
            model=model,
            proto=proto,
            reference=reference,
            built=loaded.to_save,
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
        artifacts.ANCHOR,  # a later stage's, for the previous reference
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
    with written.keras_model_saved(out_dir, loaded.to_save) as saving:
        return _converted(model, out_dir, loaded, start, saving, options)


def _recorded(model: str, options) -> dict:
    """How ``pipeline.export.anchor`` loads the model again, from any directory."""
    custom = getattr(options, "custom_objects", None)
    return {
        "model": str(Path(model).resolve()) if Path(model).exists() else model,
        "custom_objects": str(Path(custom).resolve()) if custom else None,
        "unsafe": bool(getattr(options, "unsafe_deserialization", False)),
    }


def _converted(model: str, out_dir: Path, loaded, start: float, saving, options) -> StageReport:
    from pipeline.export import anchor, annotate, fingerprints, tf2onnx_export

    keras_model = loaded.model
    progress.step(
        "tf2onnx: converting and optimizing %s (%s: %d layers, %d parameters)",
        keras_model.name,
        loaded.source,
        len(keras_model.layers),
        keras_model.count_params(),
    )
    inputs = case_inputs(loaded.reference, loaded.labeled)
    proto = tf2onnx_export.to_onnx(keras_model)
    annotate.annotate(proto, keras_model)
    data = proto.SerializeToString()  # once: ONNX's check, onnxruntime and stage1.onnx
    tf2onnx_export.validate(proto, data)
    names = tuple(i.name for i in proto.graph.input), tuple(o.name for o in proto.graph.output)
    progress.step("Keras: outputs on the reference cases")
    reference = reference_cases(loaded.reference, *names, loaded.labeled, inputs)
    reference = dataclasses.replace(reference, weights=fingerprints.fingerprints(keras_model))
    # the float64 anchor, only should a comparison here need it (pipeline.anchor_later)
    later = anchor.in_process(keras_model)
    reference = dataclasses.replace(reference, later=later)
    comparisons = _checked(model, out_dir, loaded, proto, data, reference)
    files = written.write(out_dir, data, later.found or reference, saving=saving)
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
            # how a later stage loads the model again (pipeline.export.anchor)
            "load_options": _recorded(model, options),
            # rule 2 of the check (compare.ANCHOR_FACTOR): the float64 copy's outputs, made
            # here if a comparison needed them, else "deferred" (pipeline.anchor_later)
            "float64_anchor": later.note,
            "float64_anchor_seconds": round(later.seconds, 2),
        },
    )
    artifacts.write_json(out_dir / artifacts.EXPORT_REPORT, report.to_json())
    return report
