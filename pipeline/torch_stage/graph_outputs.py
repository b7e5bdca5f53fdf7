"""The graph's outputs as ONNX lists them, after onnx2torch.

onnx2torch returns a node's whole result for a graph output, even when that node has several
outputs and the graph output is one of them (an LSTM returning ``[output, h, c]`` of which the
model returns ``h`` alone), and it returns such a node once for several of its outputs. Here
each graph output becomes the item of its node's result it is (``x[1]``), in ONNX's order.
"""

from __future__ import annotations

import operator

import onnx
from torch import fx


def select(gm: fx.GraphModule, proto: onnx.ModelProto) -> None:
    """Rewrite ``gm``'s output node (converted with ``attach_onnx_mapping``) in place."""
    made: dict[str, tuple[fx.Node, int, int]] = {}  # ONNX value -> (node, index, outputs)
    for node in gm.graph.nodes:
        if node.op == "placeholder":  # a graph input returned as it is
            made[node.target] = (node, 0, 1)
        if node.op != "call_module":
            continue
        mapping = getattr(gm.get_submodule(node.target), "onnx_mapping", None)
        outputs = tuple(mapping.outputs) if mapping is not None else ()
        for index, value in enumerate(outputs):
            made[value] = (node, index, len(outputs))
    wanted = [v.name for v in proto.graph.output]
    if not any(made.get(v, (None, 0, 1))[2] > 1 for v in wanted):
        return  # every output is a whole node's result: as onnx2torch made it
    output = next(n for n in gm.graph.nodes if n.op == "output")
    found = []
    with gm.graph.inserting_before(output):
        for value in wanted:
            node, index, count = made[value]
            found.append(
                node if count == 1 else gm.graph.call_function(operator.getitem, (node, index))
            )
    output.args = (found[0] if len(found) == 1 else found,)
    gm.graph.lint()
    gm.recompile()
