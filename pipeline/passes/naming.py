"""name_after_keras: nodes, values and initializers named after the Keras layers.

Each Keras layer's main node (the one holding weights, else its resize or its own function
call, else its first node) takes the layer name as is (``block1_conv1``, ``fc1``); its other
nodes take ``<layer>_<op>`` (``block1_conv1_relu``). Weights take torch's parameter names:
``fc1.weight``, ``fc1.bias``, ``bn.running_mean``. Every name is a Python identifier (before
any dot), so onnx2torch's modules and the emitted attributes are the Keras names. Graph
inputs and outputs keep their names: they are the model's interface.
"""

from __future__ import annotations

from collections import defaultdict

import onnx_ir as ir

from pipeline import metadata
from pipeline.forms import DOMAIN, PARAM_ROLES, resize_nearest, spatial_dropout
from pipeline.names import unique_name
from pipeline.passes._base import GraphPass, Skips
from pipeline.passes._ir import identifier

# a weightless layer's own op, when ops it needs first come before it (Resizing's crop or
# pad: ``self.resize`` is the nn.Upsample, ``self.resize_pad`` the padding; a SpatialDropout's
# Transpose to channels first)
WEIGHTLESS_MAIN_OPS = frozenset({"Resize", resize_nearest.OP_TYPE, spatial_dropout.OP_TYPE})


class NameAfterKeras(GraphPass):
    NAME = "name_after_keras"

    def rewrite(self, model: ir.Model, skips: Skips) -> bool:
        graph = model.graph
        before = self._snapshot(graph)
        by_layer: dict[str, list[ir.Node]] = defaultdict(list)
        for node in graph:
            layer = metadata.layer_of(node.doc_string or "")
            by_layer[layer[0] if layer else ""].append(node)
        interface = {v.name for v in (*graph.inputs, *graph.outputs)}
        # node names (value names are a namespace of their own), never an input's: onnx2torch
        # would take a node named like a graph input for that input (a Transpose attributed
        # to the InputLayer 'v' fed 'v's Dense in the emitted forward)
        used: set[str] = {v.name for v in graph.inputs}
        names: dict[ir.Node, str] = {}
        for layer, nodes in by_layer.items():  # main nodes first: they get the bare names
            if layer:
                main = next((n for n in nodes if self._has_params(n)), None) or next(
                    (n for n in nodes if n.op_type in WEIGHTLESS_MAIN_OPS or n.domain == DOMAIN),
                    nodes[0],
                )
                names[main] = unique_name(identifier(layer), used)
        for layer, nodes in by_layer.items():
            for node in nodes:
                if node not in names:
                    base = f"{layer}_{node.op_type.lower()}" if layer else node.op_type.lower()
                    names[node] = unique_name(identifier(base), used)
        for node in graph:
            node.name = names[node]
            for index, value in enumerate(node.outputs):
                if value.name not in interface:
                    name = node.name if len(node.outputs) == 1 else f"{node.name}_{index}"
                    value.name = f"{name}_out" if name in interface else name
        self._name_initializers(graph, set(interface) | {v.name for n in graph for v in n.outputs})
        self._name_dims(graph)
        model.graph.name = identifier(model.metadata_props.get(metadata.MODEL_NAME, "model"))
        return self._snapshot(graph) != before

    @staticmethod
    def _has_params(node: ir.Node) -> bool:
        roles = PARAM_ROLES.get(node.op_type, ())
        return any(
            role and value is not None and value.is_initializer()
            for role, value in zip(roles, node.inputs, strict=False)
        )

    @staticmethod
    def _name_initializers(graph: ir.Graph, used: set[str]) -> None:
        renames: dict[ir.Value, str] = {}
        for node in graph:
            roles = PARAM_ROLES.get(node.op_type, ())
            for index, value in enumerate(node.inputs):
                if value is None or not value.is_initializer() or value in renames:
                    continue
                role = roles[index] if index < len(roles) and roles[index] else f"input{index}"
                renames[value] = unique_name(f"{node.name}.{role}", used)
        unused = [v for v in graph.initializers.values() if v not in renames]
        for value in [*renames, *unused]:  # re-register in order of first use
            graph.initializers.pop(value.name)
        for value, name in renames.items():
            value.name = name
            graph.initializers[name] = value
        for value in unused:
            graph.initializers[value.name] = value

    @staticmethod
    def _name_dims(graph: ir.Graph) -> None:
        """tf2onnx names unknown dims ``unk__44`` (the number varies from run to run). The
        first dim of a Keras model's inputs and outputs is the batch: call it ``batch``;
        call any other unknown dim ``dim<k>``."""
        mapping: dict[str, str] = {}
        for value in (*graph.inputs, *graph.outputs):
            dim = value.shape[0] if value.shape is not None and len(value.shape) else None
            if isinstance(dim, ir.SymbolicDim) and dim.value is not None:
                mapping[dim.value] = "batch"
        for value in (*graph.inputs, *(v for n in graph for v in n.outputs)):
            if value.shape is None:
                continue
            dims = []
            for dim in value.shape:
                if isinstance(dim, ir.SymbolicDim) and dim.value is not None:
                    new = mapping.setdefault(dim.value, f"dim{len(mapping)}")
                    dim = ir.SymbolicDim(new)
                dims.append(dim)
            value.shape = ir.Shape(dims)

    @staticmethod
    def _snapshot(graph: ir.Graph) -> tuple:
        return (
            tuple(n.name for n in graph),
            tuple(v.name for n in graph for v in n.outputs),
            tuple(sorted(graph.initializers)),
            graph.name,
        )
