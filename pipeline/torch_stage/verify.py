"""Load the emitted ``model.py`` + ``weights.pt`` the way a user would (torch only) and hold
it to the Keras reference: outputs, top-1 agreement, trainability, parameter count, every
Keras weight in an ``nn.Parameter`` and
``torch.export`` with a dynamic batch dimension, whose program is ``model.pt2``.

``python -m pipeline.torch_stage.verify OUT_DIR`` prints the result as JSON (the check
stage runs it so that its own process never imports torch).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import torch

from pipeline import artifacts, metadata, progress
from pipeline import reference as ref
from pipeline.compare import accuracy
from pipeline.torch_stage import counts, deploy, keras_weights, regularization

# model.py's optimize_for_inference(channels_last), each held to the reference as an artifact
OPTIMIZED = {"optimized": False, "optimized_cl": True}


def load_module(model_py: Path, weights: Path) -> torch.nn.Module:
    spec = importlib.util.spec_from_file_location(f"emitted_{abs(hash(model_py))}", model_py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load(weights)


def verify(
    model_py: Path,
    weights: Path,
    stage2: Path,
    reference: ref.Reference,
    pt2: Path | None = None,
    onnx_out: Path | None = None,
    recorded: dict | None = None,
) -> dict:
    """The module's results on every case and its facts; with ``pt2``, ``model.pt2`` held to
    the reference too. With ``onnx_out`` (the torch stage), ``model.pt2`` is first saved at
    ``pt2`` from this module's export, and ``model.onnx`` written at ``onnx_out`` from it as
    loaded back and held to the reference. With ``recorded`` (the torch stage's report), its
    torch.export facts are taken as they are rather than exporting the module again."""
    proto = onnx.load(stage2, load_external_data=False)
    props = {p.key: p.value for p in proto.metadata_props}
    perms = metadata.input_perms(props)
    model = load_module(model_py, weights)
    out_perms = metadata.output_perms(props)
    progress.step("model.py and its optimize_for_inference() forms against Keras")
    comparisons, accuracies = on_cases(model, reference, perms, out_perms)
    for artifact, channels_last in OPTIMIZED.items():  # optimize_for_inference(), both ways
        fast = copy.deepcopy(model).optimize_for_inference(channels_last)  # it works in place
        comparisons += on_cases(fast, reference, perms, out_perms, artifact, channels_last)[0]
    example = export_example(reference, perms)
    keras_count = int(props.get(metadata.PARAM_COUNT, -1))
    if recorded is None:
        progress.step("torch.export: model.pt2, then model.onnx from it; each against Keras")
        deployed = _deployed(model, example, proto, reference, pt2, onnx_out)
    else:
        deployed = _recorded(recorded, reference, props, pt2)
    comparisons += deployed.pop("comparisons")
    return {
        "comparisons": [c.to_json() for c in comparisons],
        "accuracy": [a.to_json() for a in accuracies],
        "param_count": counts.param_count(model),
        "constant_count": counts.constant_count(model),
        "keras_param_count": keras_count,
        **counts.frozen_counts(model, props),
        "weights_as_parameters": keras_weights.check(model, reference.weights),
        "regularization": regularization.check(model, _penalties(props)),
        **deployed,
        **counts.structure(model),
    }


def export_example(reference: ref.Reference, perms: dict) -> dict[str, torch.Tensor]:
    """The inputs torch.export traces with: the first case's first sample, twice (a batch
    of 2, so that torch.export keeps the batch dynamic), in the module's layout."""
    first = next(iter(reference.cases.values()))
    return {
        k: torch.from_numpy(np.repeat(v[:1], 2, axis=0))
        for k, v in metadata.adapt_inputs(first.inputs, perms).items()
    }


def on_cases(
    model,
    reference: ref.Reference,
    perms: dict,
    out_perms: dict,
    artifact: str = artifacts.MODEL_PY,
    channels_last: bool = False,
) -> tuple[list, list]:
    """``model.py``'s comparisons on every reference case (named ``artifact``; its 4-D
    inputs fed ``channels_last``), and its accuracy on the labelled ones."""
    comparisons, accuracies = [], []
    with torch.no_grad():
        for case_name, case in reference.cases.items():
            feeds = metadata.adapt_inputs(case.inputs, perms)
            result = model(**{k: _tensor(v, channels_last) for k, v in feeds.items()})
            if isinstance(result, dict):  # a Keras model with a dict of outputs
                result = tuple(result[name] for name in reference.output_names)
            result = result if isinstance(result, tuple) else (result,)
            for name, actual in zip(reference.output_names, result, strict=True):
                expected = case.outputs[name]
                actual = metadata.to_keras_layout(name, actual.numpy(), out_perms)
                comparisons.append(reference.compare(artifact, case_name, name, actual))
                if case.labels is not None and artifact == artifacts.MODEL_PY:
                    accuracies.append(
                        accuracy(artifacts.MODEL_PY, case_name, case.labels, expected, actual)
                    )
    return comparisons, accuracies


def _tensor(array: np.ndarray, channels_last: bool) -> torch.Tensor:
    tensor = torch.from_numpy(array)
    if channels_last and tensor.dim() == 4:
        return tensor.contiguous(memory_format=torch.channels_last)
    return tensor


def _penalties(props: dict) -> dict | None:
    return json.loads(props[metadata.REGULARIZERS]) if metadata.REGULARIZERS in props else None


def _deployed(model, example, proto, reference, pt2: Path | None, onnx_out: Path | None) -> dict:
    """torch.export of the module (the open axes dynamic); with ``pt2``, ``model.pt2`` (first
    saved there, and ``model.onnx`` made from it, with ``onnx_out``) on the cases it can
    run: its comparisons, the export errors, the open axes torch.export fixed and the cases
    ``model.pt2``/``model.onnx`` run."""
    props = {p.key: p.value for p in proto.metadata_props}
    axes = deploy.open_axes(proto)
    program, error = deploy.export_program(model, example, axes)
    fixed = deploy.fixed_axes(program, axes) if program is not None else {}
    cases = deploy.runnable_cases(reference, metadata.input_perms(props), fixed)
    found = {"comparisons": []}
    if onnx_out is not None and program is not None:
        deploy.write_pt2(program, pt2)
    if pt2 is not None and program is not None:
        artifacts.require_file(pt2, "artifact", "Run the torch stage.")
        saved = torch.export.load(pt2)  # as a user loads it, once for both checks
        try:
            found["comparisons"] = deploy.pt2_comparisons(saved, reference, props, cases)
        except RuntimeError as exc:  # a reference case the exported program refuses
            error = str(exc).splitlines()[0]
        if onnx_out is not None and error is None:
            onnx_found, found["onnx_export_error"] = deploy.onnx_round_trip(
                saved, onnx_out, proto, reference, cases
            )
            found["comparisons"] += onnx_found
    return {
        **found,
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
            saved = torch.export.load(pt2)
            comparisons = deploy.pt2_comparisons(saved, reference, props, facts["deploy_cases"])
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
