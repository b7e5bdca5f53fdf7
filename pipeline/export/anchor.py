"""The float64 anchor of the check (``compare.ANCHOR_FACTOR``, rule 2): the same Keras model
computing in float64, run on every reference case when a comparison first needs it
(``pipeline.anchor_later``): in export (``in_process``; stored in ``reference.npz`` as
``exact/<case>/<name>``) or, for a later stage, by ``python -m pipeline.export.anchor
OUT_DIR``, which writes ``anchor.npz``.

Keras' own float32 error, the measure rule 2 holds an artifact to, depends on how Keras runs
the model: eagerly (the reference outputs) or through its compiled ``predict`` graph, which
rounds differently. Where rule 2 can decide a case (``compare.rule2_can_decide``), the
compiled run's outputs are stored too (``compiled/<case>/<name>``), and the larger error
counts."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

from pipeline import anchor_later, artifacts, compare, progress
from pipeline import reference as ref
from pipeline.export import structure
from pipeline.export.cases import SECOND_SIZE_CASE


def float64_copy(model: keras.Model) -> keras.Model:
    """The same layers and weights, computing in float64 (a layer that cannot be rebuilt from
    its config raises).

    Every model, the nested ones too (a Sequential block, a transfer-learning base called as
    a layer), is rebuilt with float64 inputs: a float32 ``InputLayer`` casts what it is fed
    back to float32, after which LayerNormalization and GroupNormalization (which do not
    autocast) compute in float32, and a nested model's layers kept their float32 policy."""
    copy = _copied(model)
    weights = [w.astype(np.float64) if w.dtype == np.float32 else w for w in model.get_weights()]
    copy.set_weights(weights)
    return copy


def _copied(model: keras.Model) -> keras.Model:
    def clone(layer):
        if isinstance(layer, keras.Model):  # a nested model: its layers and inputs too
            return _copied(layer)
        config = layer.get_config()
        if isinstance(layer, keras.layers.Layer):  # not an op of a mask (Masking's NotEqual)
            config = _float64_config(config)
        return layer.__class__.from_config(config)

    def float64_input(tensor):
        return keras.Input(batch_shape=tensor.shape, dtype=_float64(tensor.dtype), name=tensor.name)

    # a Functional's inputs in their structure (list, dict, one tensor); a Sequential's one
    structure = model.inputs if isinstance(model, keras.Sequential) else model.input
    inputs = keras.tree.map_structure(float64_input, structure)
    return keras.models.clone_model(model, input_tensors=inputs, clone_function=clone)


def _float64_config(config: dict) -> dict:
    """A layer's config computing in float64, and so the layers it wraps (TimeDistributed's
    Conv2D, Bidirectional's LSTMs: their own configs, nested, keep their float32 policy)."""
    found = {**config, "dtype": "float64"}
    for key, value in config.items():
        nested = value.get("config") if isinstance(value, dict) else None
        if isinstance(nested, dict) and "class_name" in value and "dtype" in nested:
            found[key] = {**value, "config": _float64_config(nested)}
    return found


def _float64(dtype: str) -> str:
    return "float64" if dtype == "float32" else dtype


def exact_outputs(model: keras.Model, inputs: dict[str, list[np.ndarray]]) -> tuple:
    """(per case, the float64 copy's outputs on ``inputs``; or None for a model that cannot
    be copied in float64, rule 2 then not offered), and what it cost or why there are none."""
    start = time.perf_counter()
    try:
        copy = float64_copy(model)
        found = {}
        for case, arrays in inputs.items():
            try:
                outputs = structure.call(copy, [_widened(x) for x in arrays])
            except Exception:  # a size the model refuses: Keras' own run says so
                if case != SECOND_SIZE_CASE:
                    raise
                continue
            found[case] = [np.asarray(v, np.float64) for v in outputs]
    except Exception as exc:  # any layer may refuse float64 or a clone: the anchor is a help
        return None, f"no float64 copy: {_reason(exc)}"
    return found, f"stored ({time.perf_counter() - start:.2f} s)"


def _widened(array: np.ndarray) -> np.ndarray:
    return array.astype(np.float64) if array.dtype == np.float32 else array


def anchored(model: keras.Model, reference: ref.Reference) -> tuple[ref.Reference, str]:
    """``reference`` with each case's float64 outputs, and what it cost or why there are none."""
    inputs = {name: list(case.inputs.values()) for name, case in reference.cases.items()}
    found, note = exact_outputs(model, inputs)
    if found is None:
        return reference, note
    cases = {
        name: dataclasses.replace(
            case, exact=dict(zip(reference.output_names, found[name], strict=True))
        )
        if name in found
        else case
        for name, case in reference.cases.items()
    }
    return _with_compiled(model, dataclasses.replace(reference, cases=cases), note)


def _with_compiled(model: keras.Model, reference: ref.Reference, note: str):
    """``reference`` with Keras' compiled outputs on the cases where rule 2 can decide, and
    ``note`` saying which (a model whose compiled run fails keeps its eager error alone:
    rule 2 is then only stricter)."""
    start = time.perf_counter()
    cases = dict(reference.cases)
    decided = [name for name, case in cases.items() if _can_decide(case, reference.tolerance)]
    try:
        for name in decided:
            outputs = structure.call(model, list(cases[name].inputs.values()), compiled=True)
            compiled = dict(zip(reference.output_names, outputs, strict=True))
            cases[name] = dataclasses.replace(cases[name], compiled=compiled)
    except Exception as exc:  # as the copy: a help, never a reason to refuse
        return reference, f"{note}; no compiled run: {_reason(exc)}"
    if not decided:
        return reference, note
    seconds = time.perf_counter() - start
    note += f"; Keras compiled on {', '.join(decided)} ({seconds:.2f} s)"
    return dataclasses.replace(reference, cases=cases), note


def _can_decide(case: ref.Case, tol: float) -> bool:
    """Whether rule 2 can decide some float output of ``case`` with Keras' eager error."""
    return any(
        out.dtype.kind == "f"
        and (exact := case.exact_output(name)) is not None
        and compare.rule2_can_decide(compare.keras_error(out, exact, None), tol)
        for name, out in case.outputs.items()
    )


def _reason(exc: Exception) -> str:
    """Why a copy or run failed, in one short line: the exception's type and first line."""
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {lines[0][:200] if lines else ''}"


def in_process(model: keras.Model) -> anchor_later.Later:
    """Export's ``Later``: the copy of ``model``, made in this process when needed."""

    def fetch(reference: ref.Reference) -> tuple:
        progress.step("Keras: the float64 copy's outputs (the check's rule 2)")
        anchored_reference, note = anchored(model, reference)
        found = any(case.exact for case in anchored_reference.cases.values())
        return (anchored_reference if found else None), note

    return anchor_later.Later(fetch)


def _model(out_dir: Path) -> keras.Model:
    """The model export converted: the Keras model it built, or the user's file as export
    loaded it (its load options, as export.json records them)."""
    from models import LoadOptions, resolve

    if (out_dir / artifacts.KERAS_MODEL).is_file():
        return keras.saving.load_model(out_dir / artifacts.KERAS_MODEL, compile=False)
    report = json.loads((out_dir / artifacts.EXPORT_REPORT).read_text())
    options = report.get("load_options", {})
    custom = options.get("custom_objects")
    loading = LoadOptions(Path(custom) if custom else None, options.get("unsafe", False))
    return resolve(options.get("model", report["model"]), loading).model


def main(argv: list[str]) -> int:
    """``python -m pipeline.export.anchor OUT_DIR``: ``anchor.npz`` for OUT_DIR's reference."""
    out_dir = Path(argv[0])
    path = out_dir / artifacts.REFERENCE
    reference = dataclasses.replace(ref.load(path), later=None)
    found, note = anchored(_model(out_dir), reference)
    anchor_later.save(path, found, note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
