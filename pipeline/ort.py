"""Run an ONNX model in onnxruntime with graph optimizations off (what the file says, nothing
rewritten but ``Sigmoid``, evaluated by its definition: ``defined_sigmoid``), and compare it
with a Keras reference."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from pipeline import metadata
from pipeline.compare import Comparison
from pipeline.reference import Reference


def session(model: onnx.ModelProto, serialized: bytes | None = None) -> ort.InferenceSession:
    """``serialized``: ``model``'s bytes, where the caller has them (they are also written to
    a file): not serialized again (0.3 s for VGG16's 220 MB) unless a Sigmoid is rewritten."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    run = defined_sigmoid(model)
    data = serialized if run is model and serialized is not None else run.SerializeToString()
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def defined_sigmoid(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with every ``Sigmoid`` (graph, functions, subgraphs) written as its
    ONNX definition, ``1 / (1 + exp(-x))``; ``model`` itself if it has none.

    onnxruntime's CPU ``Sigmoid`` is accurate in absolute terms but not relative ones in its
    lower tail: 2.2e-4 relative for x in [-8, -4), 1.1e-2 below -8 (measured, onnxruntime
    1.32), where TensorFlow is within 3.5e-7 and torch 1.0e-7. A model whose outputs are all
    such sigmoids (fuzz seed 2213, outputs near 0.006) failed the check of every ONNX file,
    though each says exactly what Keras computes. The definition in onnxruntime's own Neg,
    Exp, Add and Reciprocal is within 1.3e-7 relative everywhere (tests/onnx/test_ort.py)."""
    if not any(n.op_type == "Sigmoid" for nodes in _node_lists(model) for n in nodes):
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for nodes in _node_lists(copy):
        rewritten = [new for node in nodes for new in _defined(node)]
        del nodes[:]
        nodes.extend(rewritten)
    return copy


def _node_lists(model: onnx.ModelProto) -> Iterator:
    """The node list of the graph, of every function and of every subgraph in them (If,
    Loop, Scan bodies); a list's subgraphs are read after the caller has seen it."""
    pending = [model.graph.node, *(f.node for f in model.functions)]
    while pending:
        nodes = pending.pop()
        yield nodes
        for node in nodes:
            for attr in node.attribute:
                pending += [g.node for g in ([attr.g] if attr.HasField("g") else attr.graphs)]


def _defined(node: onnx.NodeProto) -> list[onnx.NodeProto]:
    if node.op_type != "Sigmoid" or node.domain not in ("", "ai.onnx"):
        return [node]
    (x,), (y,) = node.input, node.output
    name = f"{y}__sigmoid"  # value names derived from the output's, unique as it is
    one = numpy_helper.from_array(np.array(1.0, np.float32))
    return [
        helper.make_node("Constant", [], [f"{name}_one32"], value=one),
        helper.make_node("CastLike", [f"{name}_one32", x], [f"{name}_one"]),  # x's type
        helper.make_node("Neg", [x], [f"{name}_neg"]),
        helper.make_node("Exp", [f"{name}_neg"], [f"{name}_exp"]),
        helper.make_node("Add", [f"{name}_exp", f"{name}_one"], [f"{name}_den"]),
        helper.make_node(
            "Reciprocal", [f"{name}_den"], [y], name=node.name, doc_string=node.doc_string
        ),
    ]


def run(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    return session(model).run(None, dict(feeds))


def check_against(
    model: onnx.ModelProto,
    reference: Reference,
    artifact: str,
    cases: tuple[str, ...] | None = None,
    serialized: bytes | None = None,
) -> list[Comparison]:
    """Run every reference case (Keras-layout inputs adapted to the model's declared layout);
    ``serialized`` as ``session`` takes it."""
    props = {p.key: p.value for p in model.metadata_props}
    perms = metadata.input_perms(props)
    out_perms = metadata.output_perms(props)
    sess = session(model, serialized)
    results = []
    for case_name, case in reference.cases.items():
        if cases is not None and case_name not in cases:
            continue
        outputs = sess.run(None, metadata.adapt_inputs(case.inputs, perms))
        for name, actual in zip(reference.output_names, outputs, strict=True):
            actual = metadata.to_keras_layout(name, actual, out_perms)
            results.append(reference.compare(artifact, case_name, name, actual))
    return results
