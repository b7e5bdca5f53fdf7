"""``python -m pipeline diagnose OUT``: which Keras layer first differs.

Each Keras layer's output on the first reference case (``pipeline.export.intermediates``, in
its own process) is compared with the same value in every artifact:

- ``stage1.onnx`` and ``stage2.onnx``: the output of the last node whose provenance
  (``doc_string``) names the layer, made a graph output of a debugging copy run by
  onnxruntime (for a nested model, the last node of any of its layers);
- ``model.py``: the value after the last ``forward`` line of the layer
  (``pipeline.torch_stage.intermediates``, in its own process).

Stage 2 and torch compute channels-first: a value is compared in Keras' layout and, if its
shape allows, channels-first; the smaller error counts. A value that holds the same numbers
in another order (a Flatten whose order stage 2 moved into the next Dense's kernel) is a
layout change, not a divergence. Prints the table in the model's layer order, marks the first
layer over the bar, and writes ``diagnose.json``. ``check`` runs it when a check fails, and
a stage whose own check fails runs it on ``OUT/failed`` (``pipeline.failed``), where it kept
its files with those of the stages before.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx

from pipeline import artifacts, crash, metadata, ort
from pipeline import reference as ref
from pipeline.errors import BadInputError

DIAGNOSE = artifacts.DIAGNOSE
ARTIFACTS = (artifacts.STAGE1, artifacts.STAGE2, artifacts.MODEL_PY)


def _side(module: str, out_dir: Path, values: str) -> dict[str, np.ndarray]:
    proc = subprocess.run(
        [sys.executable, "-m", module, str(out_dir)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        name = f"diagnose_{module.rsplit('.', 2)[-2]}"  # diagnose_export, diagnose_torch_stage
        raise crash.child_failed(f"diagnose: {module}", proc.stderr, out_dir, name)
    with np.load(out_dir / values) as data:
        result = {k: data[k] for k in data.files}
    (out_dir / values).unlink()
    return result


def _owns(layer: str, name: str) -> bool:
    """Does the (qualified) Keras layer ``name`` belong to the top-level layer ``layer``?"""
    return name == layer or name.startswith(f"{layer}/")


def onnx_values(path: Path, layers: list[str], reference: ref.Reference) -> dict[str, np.ndarray]:
    proto = onnx.load(path)
    last: dict[str, str] = {}
    for node in proto.graph.node:
        found = metadata.layer_of(node.doc_string)
        for layer in layers:
            if found and _owns(layer, found[0]) and node.output:
                last[layer] = node.output[0]
    outputs = {o.name for o in proto.graph.output}
    for value in dict.fromkeys(last.values()):
        if value not in outputs:
            proto.graph.output.append(onnx.ValueInfoProto(name=value))
    props = {p.key: p.value for p in proto.metadata_props}
    case = next(iter(reference.cases.values()))
    names = [o.name for o in proto.graph.output]
    results = ort.run(proto, metadata.adapt_inputs(case.inputs, metadata.input_perms(props)))
    by_value = dict(zip(names, results, strict=True))
    return {layer: by_value[value] for layer, value in last.items()}


def torch_values(out_dir: Path, layers: list[str], qualified: set[str]) -> dict[str, np.ndarray]:
    """The value after each Keras layer's last forward line: a line of the layer (its
    comment, or its module), or of a module named after one of its nested layers."""
    steps = _side("pipeline.torch_stage.intermediates", out_dir, "diagnose_torch.npz")
    owners = {name.replace("/", "_"): name for name in qualified}
    result = {}
    for key in sorted(steps):
        name = key.split(":", 1)[1]
        owner = owners.get(name) or next(
            (
                q
                for m, q in sorted(owners.items(), key=lambda x: -len(x[0]))
                if name.startswith(f"{m}_")
            ),
            name,
        )
        for layer in layers:
            if _owns(layer, owner):
                result[layer] = steps[key]
    return result


def layer_error(expected: np.ndarray, actual: np.ndarray) -> tuple[float | None, str]:
    """(scaled error, note): in Keras' layout or channels-first, whichever fits better; the
    same numbers in another order are a layout change (error 0)."""
    expected = np.asarray(expected, np.float64)
    actual = np.asarray(actual, np.float64)
    scale = max(float(np.max(np.abs(expected))), 1e-30) if expected.size else 1.0
    candidates = [expected]
    if expected.ndim >= 3:
        candidates.append(
            np.transpose(expected, (0, expected.ndim - 1, *range(1, expected.ndim - 1)))
        )
    errors = [
        float(np.max(np.abs(c - actual))) / scale for c in candidates if c.shape == actual.shape
    ]
    if not errors:
        return None, f"shape {list(actual.shape)}, Keras {list(expected.shape)}"
    if min(errors) > 0 and expected.size == actual.size:
        same = np.max(np.abs(np.sort(expected, axis=None) - np.sort(actual, axis=None))) / scale
        if same <= min(errors) * 1e-3 or same < 1e-6:
            return float(same), "same values in another order (a layout change)"
    return min(errors), ""


def run(out_dir: Path) -> dict:
    out_dir = Path(out_dir)
    reference = ref.load(out_dir / artifacts.REFERENCE)
    if not any((out_dir / n).is_file() for n in (artifacts.KERAS_MODEL, artifacts.EXPORT_REPORT)):
        raise BadInputError(
            f"'{out_dir}' has no Keras model to compare with ({artifacts.KERAS_MODEL} or "
            f"{artifacts.EXPORT_REPORT}): diagnose a directory the export stage wrote"
        )
    keras_values = _side("pipeline.export.intermediates", out_dir, "diagnose_keras.npz")
    layers = [str(n) for n in keras_values.pop("__order__")]
    # the artifacts there are (after a failed stage, OUT/failed holds those up to it)
    graphs = [a for a in (artifacts.STAGE1, artifacts.STAGE2) if (out_dir / a).is_file()]
    values = {a: onnx_values(out_dir / a, layers, reference) for a in graphs}
    if (out_dir / artifacts.MODEL_PY).is_file():
        stage2 = onnx.load(out_dir / artifacts.STAGE2, load_external_data=False)
        qualified = {f[0] for n in stage2.graph.node if (f := metadata.layer_of(n.doc_string))}
        values[artifacts.MODEL_PY] = torch_values(out_dir, layers, qualified)
    rows, first = [], None
    for layer in layers:
        row = {"layer": layer, "errors": {}, "notes": {}}
        for artifact, found in values.items():
            if layer in found:
                error, note = layer_error(keras_values[layer], found[layer])
                row["errors"][artifact], row["notes"][artifact] = error, note
        over = [a for a, e in row["errors"].items() if e is not None and e > reference.tolerance]
        row["over_bar"] = over
        if over and first is None:
            first = layer
        rows.append(row)
    result = {"first_diverging_layer": first, "tolerance": reference.tolerance, "layers": rows}
    artifacts.write_json(out_dir / DIAGNOSE, result)
    return result


def table(result: dict) -> str:
    lines = [f"{'layer':32} " + " ".join(f"{a:>12}" for a in ARTIFACTS)]
    for row in result["layers"]:
        cells = [
            "-" if row["errors"].get(a) is None else f"{row['errors'][a]:.1e}" for a in ARTIFACTS
        ]
        mark = "  <- first over the bar" if row["layer"] == result["first_diverging_layer"] else ""
        lines.append(f"{row['layer'][:32]:32} " + " ".join(f"{c:>12}" for c in cells) + mark)
    first = result["first_diverging_layer"]
    lines.append(
        f"first Keras layer over the bar ({result['tolerance']:g}, scaled): {first}"
        if first
        else f"no Keras layer differs beyond the bar ({result['tolerance']:g}, scaled)"
    )
    return "\n".join(lines)


def first_layer_note(out_dir: Path) -> str:
    """For a failure's message: which Keras layer first differs, by running ``diagnose`` on
    ``out_dir`` (its table printed too), and how to run it again."""
    try:
        result = run(out_dir)
    except Exception as exc:  # the diagnosis is a help: its own failure must not hide the error
        return f". (diagnose could not run: {type(exc).__name__}: {str(exc)[:300]})"
    print(table(result))
    first = result["first_diverging_layer"]
    where = f"Keras layer '{first}' is the first that differs" if first else "no single layer"
    return f". {where} (python -m pipeline diagnose {out_dir}: {out_dir / DIAGNOSE})"


def main(out_dir: Path) -> int:
    result = run(out_dir)
    print(table(result))
    print(f"[diagnose] wrote {Path(out_dir) / DIAGNOSE}")
    return 0
