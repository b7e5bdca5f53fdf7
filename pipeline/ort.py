"""Run an ONNX model in onnxruntime with graph optimizations off (what the file says, nothing
rewritten), and compare it with a Keras reference."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx
import onnxruntime as ort

from pipeline import metadata
from pipeline.compare import Comparison
from pipeline.reference import Reference


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def run(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    return session(model).run(None, dict(feeds))


def check_against(
    model: onnx.ModelProto,
    reference: Reference,
    artifact: str,
    cases: tuple[str, ...] | None = None,
) -> list[Comparison]:
    """Run every reference case (Keras-layout inputs adapted to the model's declared layout)."""
    props = {p.key: p.value for p in model.metadata_props}
    perms = metadata.input_perms(props)
    out_perms = metadata.output_perms(props)
    sess = session(model)
    results = []
    for case_name, case in reference.cases.items():
        if cases is not None and case_name not in cases:
            continue
        outputs = sess.run(None, metadata.adapt_inputs(case.inputs, perms))
        for name, actual in zip(reference.output_names, outputs, strict=True):
            actual = metadata.to_keras_layout(name, actual, out_perms)
            results.append(reference.compare(artifact, case_name, name, actual))
    return results
