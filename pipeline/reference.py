"""``reference.npz``: seeded inputs and the Keras outputs every artifact is checked against.

Layout (plain arrays, loadable without pickle):

- ``__meta__``: a JSON string: input names, output names and cases, in order;
- ``input/<case>/<name>``: a Keras-layout input (NHWC for images) of that case;
- ``output/<case>/<name>``: what Keras computed for it;
- ``labels/<case>``: ground-truth labels, for cases that are a labelled data set;
- ``exact/<case>/<name>``: what a float64 copy of the Keras model computed (the anchor of
  the check's rule 2, ``compare.ANCHOR_FACTOR``), where the model could be copied;
- ``compiled/<case>/<name>``: what Keras' compiled ``predict`` computed, where it was run
  (rule 2 takes Keras' own error as the larger of its eager and compiled runs');
- ``weight/<index>``: a seeded sample of the values of each weight Keras trains (its path
  and size in ``__meta__``), which the torch side must find in an ``nn.Parameter``.

Cases are named after what they hold: ``batch1``, ``batch4``, ``digits_test``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline import anchor_later
from pipeline.artifacts import atomic_path
from pipeline.compare import FLOAT32_TOL, Comparison, compare
from pipeline.errors import BadInputError


@dataclass(frozen=True)
class Case:
    """One set of inputs, the Keras outputs for them and, for a data set, its labels."""

    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    labels: np.ndarray | None = None
    exact: dict[str, np.ndarray] | None = None  # the float64 copy's outputs
    compiled: dict[str, np.ndarray] | None = None  # Keras' compiled predict's, where run

    def exact_output(self, name: str) -> np.ndarray | None:
        return None if self.exact is None else self.exact.get(name)

    def compiled_output(self, name: str) -> np.ndarray | None:
        return None if self.compiled is None else self.compiled.get(name)


@dataclass(frozen=True)
class KerasWeight:
    """A weight Keras trains: its path (``dense/kernel``), size and some of its values."""

    path: str
    size: int
    sample: np.ndarray


@dataclass(frozen=True)
class Reference:
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    cases: dict[str, Case] = field(default_factory=dict)
    tolerance: float = FLOAT32_TOL  # the scaled-error bar every artifact is held to
    weights: tuple[KerasWeight, ...] = ()  # what the port must keep as parameters
    # where the float64 anchor comes from when a comparison first needs it, if it is not
    # stored (``pipeline.anchor_later.Later``: the reference with it, or None)
    later: Callable[[Reference], Reference | None] | None = field(
        default=None, compare=False, repr=False
    )

    def compare(self, artifact: str, case_name: str, name: str, actual) -> Comparison:
        """``actual`` (Keras layout) against this case's Keras output and float64 anchor
        (fetched by ``later`` if the bar fails it and none is stored)."""
        found = self._compared(artifact, case_name, name, actual)
        stored = self.cases[case_name].exact_output(name) is not None
        if found.passed or stored or self.later is None:
            return found
        anchored = self.later(self)
        return found if anchored is None else anchored._compared(artifact, case_name, name, actual)

    def _compared(self, artifact: str, case_name: str, name: str, actual) -> Comparison:
        case = self.cases[case_name]
        return compare(
            artifact,
            case_name,
            name,
            case.outputs[name],
            actual,
            self.tolerance,
            case.exact_output(name),
            case.compiled_output(name),
        )


def save(path: Path, reference: Reference) -> None:
    arrays: dict[str, np.ndarray] = {}
    for case_name, case in reference.cases.items():
        for name, array in case.inputs.items():
            arrays[f"input/{case_name}/{name}"] = array
        for name, array in case.outputs.items():
            arrays[f"output/{case_name}/{name}"] = array
        if case.labels is not None:
            arrays[f"labels/{case_name}"] = case.labels
    arrays.update(anchor_later.anchor_arrays(reference))
    for index, weight in enumerate(reference.weights):
        arrays[f"weight/{index}"] = weight.sample
    meta = {
        "inputs": list(reference.input_names),
        "outputs": list(reference.output_names),
        "cases": list(reference.cases),
        "tolerance": reference.tolerance,
        "weights": [[w.path, w.size] for w in reference.weights],
    }
    with atomic_path(Path(path)) as tmp:
        np.savez(tmp, __meta__=np.array(json.dumps(meta)), **arrays)


def load(path: Path) -> Reference:
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"reference file not found: '{path}'. Run the export stage first.")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            cases = {
                case: Case(
                    inputs={n: data[f"input/{case}/{n}"] for n in meta["inputs"]},
                    outputs={n: data[f"output/{case}/{n}"] for n in meta["outputs"]},
                    labels=data[f"labels/{case}"] if f"labels/{case}" in data else None,
                )
                for case in meta["cases"]
            }
            weights = tuple(
                KerasWeight(path, size, data[f"weight/{index}"])
                for index, (path, size) in enumerate(meta.get("weights", []))
            )
            anchor = {k: data[k] for k in data.files if k.startswith(anchor_later.KINDS)}
    except (OSError, ValueError, KeyError) as exc:
        raise BadInputError(
            f"'{path}' is not a reference file written by the export stage ({exc}). "
            "Re-run the export stage."
        ) from exc
    tolerance = float(meta.get("tolerance", FLOAT32_TOL))
    found = Reference(tuple(meta["inputs"]), tuple(meta["outputs"]), cases, tolerance, weights)
    found = anchor_later.with_anchor(found, anchor)
    if any(case.exact for case in found.cases.values()):
        return found
    return anchor_later.attached(path, found)
