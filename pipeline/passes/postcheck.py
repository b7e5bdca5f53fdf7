"""Stage 2's postcondition, which is stage 3's precondition.

onnx2torch gives native ``torch.nn`` modules only for certain forms. Each rule names the
pass that should have produced the form, so a failure points at the code to fix.
"""

from __future__ import annotations

import onnx_ir as ir

from pipeline.errors import UnsupportedError
from pipeline.passes._base import where
from pipeline.passes._ir import const

SHAPE_OPS = ("Shape", "Size")


def problems(graph: ir.Graph) -> list[str]:
    found = []
    seen: set[str] = set()
    for node in graph:
        op = node.op_type
        if not node.name or not node.name.isidentifier() or node.name in seen:
            found.append(f"{where(node)}: name is not a unique identifier (name_after_keras)")
        seen.add(node.name or "")
        if op in SHAPE_OPS and not _fill_shape(node):
            found.append(f"{where(node)}: shape computation left in the graph (fold_shapes)")
        if op == "Reshape" and const(node.inputs[1]) is None:
            found.append(f"{where(node)}: Reshape to a computed shape (fold_shapes)")
        if op == "MatMul" and const(node.inputs[1]) is not None and _rank(node.inputs[0]) == 2:
            found.append(
                f"{where(node)}: Dense kernel still a MatMul; it would become a "
                "buffer, not an nn.Linear parameter (matmul_add_to_gemm)"
            )
        if op == "Gemm" and (
            node.attributes.get_int("transA", 0)
            or any(const(v) is None for v in node.inputs[1:])
            or (len(node.inputs) > 2 and const(node.inputs[2]).ndim != 1)
        ):
            found.append(
                f"{where(node)}: Gemm not in nn.Linear form (transA=0, initializer "
                "weight, 1-D bias) (matmul_add_to_gemm)"
            )
        if op in ("Conv", "ConvTranspose") and const(node.inputs[1]) is None:
            found.append(f"{where(node)}: convolution kernel is not an initializer (export)")
    return found


def ensure_stage3_ready(graph: ir.Graph) -> None:
    found = problems(graph)
    if found:
        raise UnsupportedError(
            "stage2.onnx is not in the form the torch stage needs: "
            + "; ".join(found)
            + ". The pass named in brackets should have handled it: report the model."
        )


def _rank(value) -> int | None:
    """A Dense on a sequence (rank >= 3) stays a MatMul: stage 3 writes it as nn.Linear."""
    return None if value.shape is None else len(value.shape)


def _fill_shape(node: ir.Node) -> bool:
    """``Shape(x)`` only read by ConstantOfShape: a tensor like x (``torch.full(x.shape, v)``;
    Keras' ``ones_like``, as in positions = cumsum(ones_like(tokens)) - 1)."""
    consumers = node.outputs[0].consumers()
    full = node.attributes.get_int("start", 0) == 0 and "end" not in node.attributes
    return bool(consumers) and full and all(c.op_type == "ConstantOfShape" for c in consumers)
