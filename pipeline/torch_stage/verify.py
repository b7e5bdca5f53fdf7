"""Load the emitted ``model.py`` + ``weights.pt`` the way a user would (torch only) and hold
it to the Keras reference: outputs, top-1 agreement, trainability, parameter count and
``torch.export`` with a dynamic batch dimension, whose program is ``model.pt2``.

``python -m pipeline.torch_stage.verify OUT_DIR`` prints the result as JSON (the check
stage runs it so that its own process never imports torch).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import torch

from pipeline import artifacts, metadata
from pipeline import reference as ref
from pipeline.compare import accuracy
from pipeline.torch_stage import deploy, regularization


def load_module(model_py: Path, weights: Path) -> torch.nn.Module:
    spec = importlib.util.spec_from_file_location(f"emitted_{abs(hash(model_py))}", model_py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load(weights)


def param_count(model: torch.nn.Module) -> int:
    """Parameters plus the buffers torch.nn modules own (BatchNorm running statistics): what
    Keras counts as its trainable + non-trainable weights, less the values Keras computes
    with but does not train (stage 1 says which, ``inference_weight_count``). BatchNorm's
    ``num_batches_tracked`` is torch's bookkeeping and not counted; nor are the emitted
    module's own constant buffers (``constant_count``)."""
    buffers = sum(
        b.numel()
        for name, b in model.named_buffers()
        if "." in name and not name.endswith("num_batches_tracked")
    )
    return sum(p.numel() for p in model.parameters()) + buffers


def constant_count(model: torch.nn.Module) -> int:
    """Values of the constant buffers the emitter registered on the module itself (a fixed
    positional table, Normalization's folded offset and scale)."""
    return sum(b.numel() for name, b in model.named_buffers() if "." not in name)


def verify(
    model_py: Path,
    weights: Path,
    stage2: Path,
    reference: ref.Reference,
    pt2: Path | None = None,
    write_pt2: bool = False,
    recorded: dict | None = None,
) -> dict:
    """The module's results on every case and its facts; with ``pt2``, ``model.pt2`` held to
    the reference too (``write_pt2``: first saved there from this module's export). With
    ``recorded`` (the torch stage's report, whose files the check found unchanged), its
    torch.export facts are taken as they are rather than exporting the module again."""
    proto = onnx.load(stage2, load_external_data=False)
    props = {p.key: p.value for p in proto.metadata_props}
    perms = metadata.input_perms(props)
    model = load_module(model_py, weights)
    comparisons, accuracies = _on_cases(model, reference, perms, metadata.output_perms(props))
    first = next(iter(reference.cases.values()))
    example = {
        k: torch.from_numpy(np.repeat(v[:1], 2, axis=0))
        for k, v in metadata.adapt_inputs(first.inputs, perms).items()
    }
    keras_count = int(props.get(metadata.PARAM_COUNT, -1))
    if recorded is None:
        deployed = _deployed(model, example, proto, reference, pt2, write_pt2)
    else:
        deployed = _recorded(recorded, reference, props, pt2)
    comparisons += deployed.pop("comparisons")
    return {
        "comparisons": [c.to_json() for c in comparisons],
        "accuracy": [a.to_json() for a in accuracies],
        "param_count": param_count(model),
        "constant_count": constant_count(model),
        "keras_param_count": keras_count,
        **_frozen_counts(model, props),
        "regularization": regularization.check(model, _penalties(props)),
        **deployed,
        "module_types": sorted({type(m).__name__ for m in model.modules() if m is not model}),
    }


def _on_cases(model, reference: ref.Reference, perms: dict, out_perms: dict) -> tuple[list, list]:
    """``model.py``'s comparisons on every reference case, and its accuracy on the labelled
    ones."""
    comparisons, accuracies = [], []
    with torch.no_grad():
        for case_name, case in reference.cases.items():
            feeds = metadata.adapt_inputs(case.inputs, perms)
            result = model(**{k: torch.from_numpy(v) for k, v in feeds.items()})
            if isinstance(result, dict):  # a Keras model with a dict of outputs
                result = tuple(result[name] for name in reference.output_names)
            result = result if isinstance(result, tuple) else (result,)
            for name, actual in zip(reference.output_names, result, strict=True):
                expected = case.outputs[name]
                actual = metadata.to_keras_layout(name, actual.numpy(), out_perms)
                comparisons.append(reference.compare(artifacts.MODEL_PY, case_name, name, actual))
                if case.labels is not None:
                    accuracies.append(
                        accuracy(artifacts.MODEL_PY, case_name, case.labels, expected, actual)
                    )
    return comparisons, accuracies


def _frozen_counts(model: torch.nn.Module, props: dict) -> dict[str, int]:
    """Parameters that do not require grad, and how many the layers Keras freezes hold: the
    two must be equal (a frozen base stays frozen, nothing else is)."""
    return {
        "frozen_param_count": sum(p.numel() for p in model.parameters() if not p.requires_grad),
        "keras_frozen_param_count": int(props.get(metadata.FROZEN_PARAM_COUNT, 0)),
    }


def _penalties(props: dict) -> dict | None:
    return json.loads(props[metadata.REGULARIZERS]) if metadata.REGULARIZERS in props else None


def _deployed(model, example, proto, reference, pt2: Path | None, write: bool) -> dict:
    """torch.export of the module (the open axes dynamic); with ``pt2``, ``model.pt2`` (first
    saved there if ``write``) on the cases it can run: its comparisons, the export error,
    the open axes torch.export fixed and the cases ``model.pt2``/``model.onnx`` run."""
    props = {p.key: p.value for p in proto.metadata_props}
    perms = metadata.input_perms(props)
    axes = deploy.open_axes(proto)
    program, error = deploy.export_program(model, example, axes)
    fixed = deploy.fixed_axes(program, axes) if program is not None else {}
    cases = deploy.runnable_cases(reference, perms, fixed)
    comparisons = []
    if write and program is not None:
        deploy.write_pt2(program, pt2)
    if pt2 is not None and program is not None:
        artifacts.require_file(pt2, "artifact", "Run the torch stage.")
        try:
            comparisons = deploy.pt2_comparisons(pt2, reference, props, cases)
        except RuntimeError as exc:  # a reference case the exported program refuses
            error = str(exc).splitlines()[0]
    return {
        "comparisons": comparisons,
        "torch_export_error": error,
        "deploy_fixed_axes": {name: {str(a): n for a, n in f.items()} for name, f in fixed.items()},
        "deploy_cases": cases,
    }


def _recorded(recorded: dict, reference, props: dict, pt2: Path) -> dict:
    """``_deployed``'s facts as the torch stage recorded them, and ``model.pt2`` on its cases."""
    facts = {k: recorded[k] for k in ("torch_export_error", "deploy_fixed_axes", "deploy_cases")}
    comparisons = []
    if facts["torch_export_error"] is None:
        artifacts.require_file(pt2, "artifact", "Run the torch stage.")
        try:
            comparisons = deploy.pt2_comparisons(pt2, reference, props, facts["deploy_cases"])
        except RuntimeError as exc:  # a reference case the exported program refuses
            facts["torch_export_error"] = str(exc).splitlines()[0]
    return {"comparisons": comparisons, **facts}


def main(argv: list[str]) -> int:
    """The check stage's run: the torch stage's report (``torch.json``) gives the export
    facts; ``model.pt2`` itself is loaded and held to the reference."""
    out_dir = Path(argv[0])
    recorded = out_dir / artifacts.TORCH_REPORT
    result = verify(
        out_dir / artifacts.MODEL_PY,
        out_dir / artifacts.WEIGHTS,
        out_dir / artifacts.STAGE2,
        ref.load(out_dir / artifacts.REFERENCE),
        out_dir / artifacts.MODEL_PT2,
        recorded=json.loads(recorded.read_text()) if recorded.is_file() else None,
    )
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
