"""Stage 3's files for deployment, next to ``model.py``, each held to the Keras reference:

- ``model.pt2``: ``torch.export.save`` of the emitted module's ExportedProgram, with a
  dynamic batch dimension (load it with ``torch.export.load(path).module()``);
- ``model.onnx``: that program exported back to ONNX by ``torch.onnx.export(dynamo=True)``,
  with a dynamic batch and stage 2's input and output names and metadata (so that it takes
  the inputs ``model.py`` takes, in the same layout). Keras -> ONNX -> torch -> ONNX.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import onnx
import onnx_ir as ir
import torch
from torch.fx.experimental.symbolic_shapes import is_concrete_int

from pipeline import artifacts, metadata
from pipeline import reference as ref
from pipeline.compare import Comparison
from pipeline.names import unique_name

log = logging.getLogger(__name__)
# onnxscript's optimizer logs each skipped fold at INFO: not the user's concern
logging.getLogger("onnxscript").setLevel(logging.WARNING)


def open_axes(stage2: onnx.ModelProto) -> dict[str, list[int]]:
    """Per graph input, the axes stage 2 leaves open (the batch; a sequence's length, an
    image's size where Keras left them None)."""
    return {
        value.name: [
            axis
            for axis, dim in enumerate(value.type.tensor_type.shape.dim)
            if not dim.HasField("dim_value")
        ]
        for value in stage2.graph.input
    }


def export_program(
    model: torch.nn.Module, example: dict[str, torch.Tensor], axes: dict[str, list[int]]
):
    """(the ExportedProgram, None), or (None, why torch.export refused). The batch and every
    other open axis of ``axes`` stay dynamic (``Dim.AUTO``: torch.export keeps the range the
    module allows, an Embedding's table length bounding a sequence)."""
    dynamic = {name: dict.fromkeys(axes.get(name, [0]), torch.export.Dim.AUTO) for name in example}
    try:
        with warnings.catch_warnings():
            # nn.LSTM/GRU/RNN re-assign their _flat_weights while traced: noise, not a finding
            warnings.filterwarnings("ignore", message=r"The tensor attributes .*_flat_weights")
            program = torch.export.export(model, (), kwargs=example, dynamic_shapes=dynamic)
    except Exception as exc:  # torch.export raises many types; the message is the finding
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return program, None


def fixed_axes(program, axes: dict[str, list[int]]) -> dict[str, dict[int, int]]:
    """The open axes torch.export fixed at the example's size: per input, axis -> size
    (``nn.LSTM``/``GRU``/``RNN`` fix a sequence's length). ``model.pt2`` and ``model.onnx``
    then run at that size only; ``model.py`` runs at any."""
    placeholders = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    fixed: dict[str, dict[int, int]] = {}
    for spec in program.graph_signature.input_specs:
        if spec.kind != torch.export.graph_signature.InputKind.USER_INPUT:
            continue
        shape = placeholders[spec.arg.name].meta["val"].shape
        for axis in axes.get(spec.arg.name, []):
            if is_concrete_int(shape[axis]):  # a plain size, or a symbol pinned to one
                fixed.setdefault(spec.arg.name, {})[axis] = int(shape[axis])
    return fixed


def runnable_cases(reference: ref.Reference, perms: dict, fixed: dict) -> list[str]:
    """The reference cases whose (torch-layout) inputs have the sizes ``fixed`` keeps."""
    runnable = []
    for case_name, case in reference.cases.items():
        feeds = metadata.adapt_inputs(case.inputs, perms)
        if all(
            feeds[name].shape[axis] == size
            for name, sizes in fixed.items()
            for axis, size in sizes.items()
        ):
            runnable.append(case_name)
    return runnable


def write_pt2(program, path: Path) -> None:
    torch.export.save(program, path)


def write_onnx(program, path: Path, stage2: onnx.ModelProto):
    """Export ``program`` to ONNX at ``path``: (the model, its bytes as written, None), or
    (None, None, why torch.onnx could not)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.onnx's deprecation and dynamo notices
            # optimize=False: onnxscript's optimizer folds BatchNormalization into Conv, which
            # rounds differently (EfficientNetV2B0 went from 8.0e-5 to 1.2e-4 scaled, over its
            # bar); onnxruntime folds it anyway when a session is made with its defaults
            exported = torch.onnx.export(program, dynamo=True, optimize=False, verbose=False)
    except Exception as exc:  # torch.onnx raises many types; the message is the finding
        return None, None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    graph = exported.model.graph
    _own_outputs(graph)
    renames = [
        *zip(graph.inputs, (v.name for v in stage2.graph.input), strict=True),
        *zip(graph.outputs, (v.name for v in stage2.graph.output), strict=True),
    ]
    rename_free_of_clashes(graph, renames)
    exported.model.metadata_props.update(
        {p.key: p.value for p in stage2.metadata_props}
        | {"pipeline.artifact": "model.onnx: model.py exported by torch.onnx (dynamo)"}
    )
    # what ONNXProgram.save writes (ir.save) below its external-data size, serialized once
    # for the file and onnxruntime (a protobuf over 2 GB fails here, as stage1.onnx would)
    proto = ir.serde.serialize_model(exported.model)
    data = proto.SerializeToString()
    Path(path).write_bytes(data)
    return proto, data, None


def rename_free_of_clashes(graph: ir.Graph, renames: list[tuple[ir.Value, str]]) -> None:
    """Give each value its new name; a value of the graph already called so (torch.onnx names
    a module's output after its attribute, ``conv2d_3``, which may be the Keras output's
    name too) is renamed first, to a name no value has, so no name is defined twice."""
    wanted = {name for _, name in renames}
    values = [*graph.inputs, *graph.initializers.values()]
    values += [out for node in ir.traversal.RecursiveGraphIterator(graph) for out in node.outputs]
    taken = {value.name for value in values} | wanted
    moving = {id(value) for value, _ in renames}
    for value in values:
        if value.name in wanted and id(value) not in moving:
            value.name = unique_name(value.name, taken)
    for value, name in renames:
        value.name = name


def _own_outputs(graph: ir.Graph) -> None:
    """Give each graph output a value of its own (an ``Identity``), where the module returns
    an input as it is, or one value twice (a model that is the identity at inference, such
    as an input through a SpatialDropout): renamed after stage 2, the output would rename
    the input too."""
    for index, value in enumerate(list(graph.outputs)):
        if value.is_graph_input() or value in list(graph.outputs)[:index]:
            copy = ir.Node("", "Identity", [value], num_outputs=1)
            graph.append(copy)
            graph.outputs[index] = copy.outputs[0]


def pt2_comparisons(
    saved, reference: ref.Reference, props: dict, cases: list[str]
) -> list[Comparison]:
    """``model.pt2`` as a user loads it (``saved``: ``torch.export.load(path)``) on the
    reference ``cases``; a case it refuses to run (a size its guards exclude) raises
    RuntimeError with the reason."""
    module = saved.module()
    perms, out_perms = metadata.input_perms(props), metadata.output_perms(props)
    found = []
    with torch.no_grad():
        for case_name, case in reference.cases.items():
            if case_name not in cases:
                continue
            feeds = metadata.adapt_inputs(case.inputs, perms)
            try:
                result = module(**{k: torch.from_numpy(v) for k, v in feeds.items()})
            except Exception as exc:  # a guard of the exported program: the finding
                raise RuntimeError(f"model.pt2 cannot run case {case_name}: {exc}") from exc
            if isinstance(result, dict):
                result = tuple(result[name] for name in reference.output_names)
            result = result if isinstance(result, (tuple, list)) else (result,)
            for name, actual in zip(reference.output_names, result, strict=True):
                actual = metadata.to_keras_layout(name, actual.numpy(), out_perms)
                found.append(reference.compare(artifacts.MODEL_PT2, case_name, name, actual))
    return found


def onnx_round_trip(
    saved, path: Path, stage2: onnx.ModelProto, reference: ref.Reference, cases: list[str]
) -> tuple[list[Comparison], str | None]:
    """Write ``model.onnx`` from ``model.pt2`` as loaded (``saved``) and run it in
    onnxruntime on ``cases``: (its comparisons, None), or ([], why it could not be exported)."""
    from pipeline import ort

    proto, data, error = write_onnx(saved, path, stage2)
    if error is not None:
        return [], error
    return ort.check_against(proto, reference, artifacts.MODEL_ONNX, tuple(cases), data), None
