"""The float64 anchor of the check (``compare.ANCHOR_FACTOR``, rule 2): the same Keras model
computing in float64, run on every reference case at export; its outputs are stored in
``reference.npz`` (``exact/<case>/<name>``) next to Keras' float32 ones.

Keras' own float32 error, the measure rule 2 holds an artifact to, depends on how Keras runs
the model: eagerly (the reference outputs) or through its compiled ``predict`` graph, which
rounds differently. Where rule 2 can decide a case (``compare.rule2_can_decide``), the
compiled run's outputs are stored too (``compiled/<case>/<name>``), and the larger error
counts."""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np

from pipeline import compare
from pipeline import reference as ref
from pipeline.export import structure


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
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float64"})

    def float64_input(tensor):
        return keras.Input(batch_shape=tensor.shape, dtype=_float64(tensor.dtype), name=tensor.name)

    # a Functional's inputs in their structure (list, dict, one tensor); a Sequential's one
    structure = model.inputs if isinstance(model, keras.Sequential) else model.input
    inputs = keras.tree.map_structure(float64_input, structure)
    return keras.models.clone_model(model, input_tensors=inputs, clone_function=clone)


def _float64(dtype: str) -> str:
    return "float64" if dtype == "float32" else dtype


def anchored(model: keras.Model, reference: ref.Reference) -> tuple[ref.Reference, str]:
    """``reference`` with each case's float64 outputs, and what it cost or why there are none
    (a model that cannot be copied in float64: rule 2 is then not offered)."""
    start = time.perf_counter()
    try:
        copy = float64_copy(model)
        cases = {}
        for name, case in reference.cases.items():
            feeds = [
                v.astype(np.float64) if v.dtype == np.float32 else v for v in case.inputs.values()
            ]
            exact = structure.call(copy, feeds)
            outputs = dict(zip(reference.output_names, exact, strict=True))
            cases[name] = dataclasses.replace(
                case, exact={k: np.asarray(v, np.float64) for k, v in outputs.items()}
            )
    except Exception as exc:  # any layer may refuse float64 or a clone: the anchor is a help
        return reference, f"no float64 copy: {_reason(exc)}"
    seconds = time.perf_counter() - start
    anchored_reference = dataclasses.replace(reference, cases=cases)
    return _with_compiled(model, anchored_reference, f"stored ({seconds:.2f} s)")


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
