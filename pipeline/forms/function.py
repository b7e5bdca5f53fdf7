"""What every model-local ONNX function of ours shares: its domain and version, and the
helpers that write a function body's attribute references and integer constants.

A leaf module: the form modules import it, nothing here imports them.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

DOMAIN = "keras2torch"
VERSION = 1


def attribute_ref(name: str, kind: int, attribute: str | None = None) -> onnx.AttributeProto:
    """An attribute of a body node that takes the value of the call's attribute ``name``."""
    return onnx.AttributeProto(name=attribute or name, ref_attr_name=name, type=kind)


_CONSTANT_FIELDS = {
    onnx.AttributeProto.FLOAT: "value_float",
    onnx.AttributeProto.INTS: "value_ints",
}


def attribute_constant(output: str, name: str, kind: int) -> onnx.NodeProto:
    """A body ``Constant`` node ``output`` holding the call's attribute ``name`` (a float or
    ints), for body ops that take it as an input."""
    node = helper.make_node("Constant", [], [output])
    node.attribute.append(attribute_ref(name, kind, attribute=_CONSTANT_FIELDS[kind]))
    return node


def int_constant(name: str, values) -> onnx.NodeProto:
    """A body ``Constant`` node holding ``values`` as int64."""
    tensor = numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)
    return helper.make_node("Constant", [], [name], value=tensor)


def reversed_in_time(pairs: list[tuple[str, str]]) -> list[onnx.NodeProto]:
    """Body nodes that give each ``(source, name)`` as ``source`` reversed along axis 1 (a
    sequence's time): ``Slice(source, -1, INT64_MIN, axis 1, step -1)``."""
    nodes = [
        int_constant("rev_start", [-1]),
        int_constant("rev_end", [np.iinfo(np.int64).min]),
        int_constant("rev_axes", [1]),
        int_constant("rev_step", [-1]),
    ]
    bounds = ["rev_start", "rev_end", "rev_axes", "rev_step"]
    return nodes + [helper.make_node("Slice", [s, *bounds], [n]) for s, n in pairs]


def make(
    op_type: str,
    inputs: list[str],
    nodes: list[onnx.NodeProto],
    opset: int,
    attributes: list[str],
    outputs: tuple[str, ...] = ("Y",),
) -> onnx.FunctionProto:
    """The function ``op_type`` of our domain: ``inputs`` -> ``outputs`` through ``nodes``
    (standard ops at ``opset``), taking ``attributes`` from its call."""
    return helper.make_function(
        DOMAIN, op_type, inputs, list(outputs), nodes, [helper.make_opsetid("", opset)], attributes
    )
