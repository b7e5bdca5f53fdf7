"""Stage 3, torch: ``stage2.onnx`` -> ``model.py`` (readable PyTorch source) + ``weights.pt``
(a state_dict ``torch.load(..., weights_only=True)`` reads), and for deployment
``model.pt2`` and ``model.onnx`` (``deploy``). The only stage that imports torch and
onnx2torch.

``python -m pipeline torch stage2.onnx OUT_DIR [--reference reference.npz]``
"""

from __future__ import annotations

import json
import os
import time
from contextlib import ExitStack
from pathlib import Path

import onnx
import torch

from pipeline import anchor_later, artifacts, hashing, metadata, progress
from pipeline import failed as failures
from pipeline import reference as ref
from pipeline.compare import Comparison
from pipeline.errors import BadInputError, MismatchError, UnsupportedError
from pipeline.problems import found_in
from pipeline.report import StageReport
from pipeline.torch_stage import (
    batchnorm,
    converters,
    emit,
    graph_outputs,
    regularization,
    source,
    verify,
)
from pipeline.torch_stage.light_shapes import convert

# model.py and its weights, and the same module for deployment (``deploy``)
OUTPUTS = (artifacts.MODEL_PY, artifacts.WEIGHTS, artifacts.MODEL_PT2, artifacts.MODEL_ONNX)


def _node_info(proto: onnx.ModelProto) -> dict[str, emit.NodeInfo]:
    info = {}
    for node in proto.graph.node:
        layer = metadata.layer_of(node.doc_string)
        info[node.name] = emit.NodeInfo(
            metadata.describe_node(node.name, node.op_type, node.doc_string),
            f"{layer[0]} ({layer[1]})" if layer else "",
        )
    return info


def _ports(values, perms: dict[str, tuple[int, ...]], output: bool = False) -> list[source.Port]:
    """Each value's name, shape, dtype and layout: for a value whose layout changed, the
    permutation between it and Keras' layout (``perms``: Keras -> torch for inputs, torch
    -> Keras for outputs)."""
    ports = []
    for value in values:
        dims = tuple(d.dim_param or str(d.dim_value) for d in value.type.tensor_type.shape.dim)
        dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).name
        note = "as in Keras"
        if value.name in perms and output:
            keras = ", ".join(dims[i] for i in perms[value.name])
            note = f"channels first; Keras gave [{keras}]: y.permute{perms[value.name]}"
        elif value.name in perms:
            inverse = tuple(perms[value.name].index(i) for i in range(len(dims)))
            keras = ", ".join(dims[i] for i in inverse)
            note = f"channels first; Keras took [{keras}]: feed x.permute{perms[value.name]}"
        ports.append(source.Port(value.name, dims, dtype, note))
    return ports


def _write_verified(text: str, state: dict, out_dir: Path, src: Path, reference_data):
    """Write model.py, weights.pt, model.pt2 and model.onnx under temporary names, hold them
    to the reference, and rename them into place only if they pass."""
    with ExitStack() as stack:
        tmp_py, tmp_w, tmp_pt2, tmp_onnx = (
            stack.enter_context(artifacts.atomic_path(out_dir / name)) for name in OUTPUTS
        )
        tmp_py.write_text(text, encoding="utf-8")
        torch.save(state, tmp_w)
        result = verify.verify(tmp_py, tmp_w, src, reference_data, tmp_pt2, onnx_out=tmp_onnx)
        comparisons = tuple(Comparison.from_json(c) for c in result["comparisons"])
        failed = found_in(comparisons, result)
        if failed:
            error = MismatchError(
                "the emitted PyTorch module fails its checks: " + "; ".join(failed)
            )
            made = dict(zip(OUTPUTS, (tmp_py, tmp_w, tmp_pt2, tmp_onnx), strict=True))
            raise failures.keep("torch", out_dir, lambda to: _move(made, to), error, src.parent)
    return comparisons, result


def _move(made: dict[str, Path], to: Path) -> None:
    """The files a failed check made (under temporary names), into ``to`` by their names."""
    for name, path in made.items():
        if path.is_file():
            os.replace(path, to / name)


def _drop_domains(gm: torch.fx.GraphModule) -> None:
    """onnx2torch names a custom-domain node's module '<domain>/<node>': keep '<node>'."""
    for node in gm.graph.nodes:
        if node.op == "call_module" and "/" in node.target:
            name = node.target.rsplit("/", 1)[-1]
            gm.add_submodule(name, gm.get_submodule(node.target))
            gm.delete_submodule(node.target)
            node.target = name
    gm.recompile()


def _keras_momentum(gm: torch.fx.GraphModule, info, momentum: dict[str, float]) -> None:
    """Each BatchNorm module gets its Keras layer's momentum, the other way round: Keras
    keeps ``m`` of the running statistic per batch, torch replaces ``momentum`` of it."""
    for name, module in gm.named_modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and name in info:
            layer = info[name].layer.rsplit(" (", 1)[0]
            if layer in momentum:
                module.momentum = round(1.0 - momentum[layer], 12)


def emit_source(
    proto: onnx.ModelProto, gm: torch.fx.GraphModule, origin: str
) -> tuple[str, dict[str, torch.Tensor]]:
    """The text of model.py and the state_dict it loads."""
    weights = {t.name for t in proto.graph.initializer if t.doc_string == metadata.KERAS_WEIGHT}
    props = {p.key: p.value for p in proto.metadata_props}
    keys = json.loads(props[metadata.OUTPUT_KEYS]) if metadata.OUTPUT_KEYS in props else None
    info = _node_info(proto)
    _keras_momentum(gm, info, json.loads(props.get(metadata.BATCHNORM_MOMENTUM, "{}")))
    frozen = frozenset(json.loads(props.get(metadata.FROZEN_LAYERS, "[]")))
    emitted = emit.emit(gm, info, weights, keys, frozen)
    penalties = json.loads(props[metadata.REGULARIZERS]) if metadata.REGULARIZERS in props else None
    text = source.render(
        keras_name=props.get(metadata.MODEL_NAME, proto.graph.name or "model"),
        source=origin,
        inputs=_ports(proto.graph.input, metadata.input_perms(props)),
        outputs=_ports(proto.graph.output, metadata.output_perms(props), output=True),
        init=emitted.init,
        dict_outputs=keys is not None,
        forward=emitted.forward,
        frozen=emitted.frozen,
        frozen_batchnorm=emitted.frozen_batchnorm,
        regularization=regularization.method(gm, info, penalties),
        fold=batchnorm.fold_pairs(gm),  # gm as emit lowered it: model.py's attributes
    )
    return text, emitted.state


def run(src: Path, out_dir: Path, reference: Path | None = None) -> StageReport:
    src, out_dir = Path(src), Path(out_dir)
    outputs = [out_dir / name for name in OUTPUTS]
    with artifacts.stage_outputs([*outputs, out_dir / artifacts.TORCH_REPORT]):
        return _run(src, out_dir, reference)


def _run(src: Path, out_dir: Path, reference: Path | None) -> StageReport:
    start = time.perf_counter()
    model_py, weights = out_dir / artifacts.MODEL_PY, out_dir / artifacts.WEIGHTS
    artifacts.require_file(src, "ONNX model", "Run the passes stage first.")
    try:
        proto = onnx.load(src)
    except Exception as exc:
        raise BadInputError(f"'{src}' is not an ONNX model: {exc}") from exc
    reference = reference or src.parent / artifacts.REFERENCE
    hashing.hash_soon(src, reference)  # for this stage's report, while it converts
    reference_data = ref.load(reference)
    converters.ensure_convertible(proto)
    progress.step("onnx2torch: converting %s (%d nodes)", src.name, len(proto.graph.node))
    try:
        gm = convert(proto, save_input_names=True, attach_onnx_mapping=True)
    except NotImplementedError as exc:  # an onnx2torch converter refused a node's form
        suspects = converters.refused_nodes(proto)
        raise UnsupportedError(
            f"onnx2torch cannot convert {', '.join(suspects) or 'a node'}: {exc}. Replace that "
            "Keras layer or its configuration (README, 'Supported layers')."
        ) from exc
    graph_outputs.select(gm, proto)
    _drop_domains(gm)
    progress.step("writing model.py")
    text, state = emit_source(proto, gm, src.name)
    comparisons, result = _write_verified(text, state, out_dir, src, reference_data)
    report = StageReport(
        "torch",
        {
            "model_py": str(model_py),
            "weights": str(weights),
            "model_pt2": str(out_dir / artifacts.MODEL_PT2),
            "model_onnx": str(out_dir / artifacts.MODEL_ONNX),
        },
        time.perf_counter() - start,
        comparisons,
        details={k: v for k, v in result.items() if k != "comparisons"},
        # check takes the comparisons while these are unchanged (anchor.npz: if a comparison
        # needed the float64 anchor, pipeline.anchor_later)
        inputs=(str(src), str(reference), str(anchor_later.path_for(reference))),
    )
    artifacts.write_json(out_dir / artifacts.TORCH_REPORT, report.to_json())
    return report
