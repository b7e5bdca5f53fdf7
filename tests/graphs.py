"""Tiny ONNX graphs for pass tests, and the onnxruntime parity check they share.

numpy / onnx / onnxruntime only: usable from every test process.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import onnx_ir as ir
from onnx import TensorProto, helper, numpy_helper
from onnx_ir.passes import common

from pipeline import metadata, ort
from pipeline.passes._base import PassOutcome, RemoveUnusedNodes
from pipeline.reference import Case, Reference

OPSET = 17
SEED = 0


def value(name: str, shape: list, elem=TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def init(name: str, array) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def node(
    op: str,
    inputs: list[str],
    outputs: list[str],
    layer: str | None = None,
    cls: str = "Layer",
    **attrs,
) -> onnx.NodeProto:
    made = helper.make_node(op, inputs, outputs, name=outputs[0], **attrs)
    if layer:
        made.doc_string = metadata.layer_doc(layer, cls)
    return made


def model(nodes, inputs, outputs, initializers=(), metadata=None) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = 8
    helper.set_model_props(proto, metadata or {})
    onnx.checker.check_model(proto)
    return proto


def rng_inputs(proto: onnx.ModelProto, batch: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    feeds = {}
    for vi in proto.graph.input:
        dims = [d.dim_value if d.dim_value else batch for d in vi.type.tensor_type.shape.dim]
        if vi.type.tensor_type.elem_type == TensorProto.BOOL:
            feeds[vi.name] = _mask(rng, dims)
        else:
            feeds[vi.name] = rng.standard_normal(dims).astype(np.float32)
    return feeds


def _mask(rng, dims: list[int]) -> np.ndarray:
    """A (B, T) mask with holes, row b's last b steps masked, the last of 3+ rows all masked."""
    mask = rng.random(dims) > 0.3
    for row in range(1, dims[0]):
        mask[row, dims[1] - row :] = False
    if dims[0] >= 3:
        mask[-1] = False
    return mask


def reference_of(proto: onnx.ModelProto, batches=(1, 3)) -> Reference:
    """What the graph computes now, as a 'Keras' reference for parity after a pass."""
    names = tuple(o.name for o in proto.graph.output)
    cases = {}
    for batch in batches:
        feeds = rng_inputs(proto, batch)
        outs = ort.run(proto, feeds)
        cases[f"batch{batch}"] = Case(feeds, dict(zip(names, outs, strict=True)))
    return Reference(tuple(feeds), names, cases)


def apply(passes, proto: onnx.ModelProto, infer_shapes: bool = True, cleanup: bool = False):
    """Run one pass, or several in order, on an ir copy of ``proto`` (after shape inference,
    as in the pipeline; with ``cleanup``, dead-node removal after, as the pass list does):
    (the result, modified if any pass modified, skip reasons of all; the new proto)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)  # onnx-ir wraps the proto's tensors; renames would reach ``proto``
    m = ir.from_proto(copy)
    if infer_shapes:
        common.ShapeInferencePass()(m)
    results = [p(m) for p in (passes if isinstance(passes, tuple | list) else [passes])]
    if cleanup:
        RemoveUnusedNodes()(m)
    modified = any(r.modified for r in results)
    skipped = tuple(s for r in results for s in getattr(r, "skipped", ()))
    return PassOutcome(m, modified, skipped), ir.serde.serialize_model(m)


def ops(proto: onnx.ModelProto) -> Counter:
    return Counter(n.op_type for n in proto.graph.node)


def assert_parity(
    before: onnx.ModelProto, after: onnx.ModelProto, tol: float = 1e-5, batches=(1, 3)
) -> float:
    """``after`` computes what ``before`` did (inputs adapted to declared layouts), at each
    of ``batches``."""
    reference = reference_of(before, batches)
    results = ort.check_against(after, reference, "after")
    worst = max(c.max_rel for c in results)
    assert all(c.passed for c in results), [c.describe() for c in results]
    return worst


def nhwc_metadata(name: str = "x") -> dict[str, str]:
    return {metadata.INPUT_LAYOUT_PREFIX + name: "NHWC"}


def perm_of(proto: onnx.ModelProto, name: str = "x"):
    return metadata.input_perms({p.key: p.value for p in proto.metadata_props}).get(name)
