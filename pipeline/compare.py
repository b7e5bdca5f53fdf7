"""Compare an artifact's outputs with the Keras reference; tolerances are named here.

The error measure is max |actual - keras| divided by the output scale, max |keras| (the
largest magnitude Keras produced for that output): 1e-5 means five significant digits of
the largest value agree, whether the output is a 1000-way softmax (values ~1e-3) or logits
in the hundreds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

# float32 end to end: what re-associated sums (a different conv algorithm, a fused Gemm)
# may legitimately change. Anything above is a conversion bug.
FLOAT32_TOL = 1e-5
# Deep nets (more than DEEP_NET_LAYERS Keras layers) in float32: tens to hundreds of layers
# of re-associated sums (oneDNN vs onnxruntime vs torch kernels) legitimately drift further.
DEEP_FLOAT32_TOL = 1e-4
DEEP_NET_LAYERS = 50
# Below this an output is taken as all zeros and its error is measured absolutely.
SCALE_FLOOR = 1e-12


def tolerance_for(layer_count: int) -> float:
    """The bar a model is held to, decided once at export and stored in reference.npz."""
    return DEEP_FLOAT32_TOL if layer_count > DEEP_NET_LAYERS else FLOAT32_TOL


# The float64 anchor (rule 2): an artifact above the bar still passes a case when its error
# against a float64 copy of the Keras model is at most this many times Keras' own float32
# error against that copy: it is as close to the exact answer as Keras itself is (an
# ill-conditioned output: a LayerNorm of nearly equal values, a deep net's saturated softmax).
ANCHOR_FACTOR = 2.0
# Keras' own error: the larger of its eager call's (the reference) and, where run, its
# compiled predict's, which rounds differently (EfficientNetV2B0, random weights, batch 4:
# 4.6e-5 and 1.06e-4 from float64). Run only where rule 2 can decide (rule2_can_decide).


def rule2_can_decide(keras_exact_rel: float, tol: float) -> bool:
    """Whether rule 2 can pass what the bar fails, Keras' own error being ``k``: within
    ANCHOR_FACTOR * k of float64 is within (1 + ANCHOR_FACTOR) * k of Keras."""
    return (1 + ANCHOR_FACTOR) * keras_exact_rel > tol


# Top-1 predictions on a labelled data set must agree exactly between Keras and torch.
TOP1_AGREEMENT_REQUIRED = 1.0


@dataclass(frozen=True)
class Comparison:
    """One output of one artifact on one case."""

    artifact: str
    case: str
    output: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float  # max_abs / output scale: the figure held against ``tol``
    tol: float
    passed: bool
    # the float64 anchor, where the reference has it: the artifact's and Keras float32's
    # scaled errors against the float64 copy (Keras': the larger of its eager and compiled
    # runs, where both were made), and the rule that passed ("float32": the bar;
    # "float64": within ANCHOR_FACTOR of Keras' own error; "" for a failure)
    exact_rel: float | None = None
    keras_exact_rel: float | None = None
    rule: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping) -> Comparison:
        return cls(**{**data, "shape": tuple(data["shape"])})

    def describe(self) -> str:
        verdict = "ok" if self.passed else "MISMATCH"
        anchor = ""
        if self.exact_rel is not None:
            anchor = (
                f"; vs float64 {self.exact_rel:.2e}, Keras float32 vs float64 "
                f"{self.keras_exact_rel:.2e}"
            )
        return (
            f"{self.artifact} [{self.case}] {self.output}: max abs {self.max_abs:.2e}, "
            f"scaled {self.max_rel:.2e} (tol {self.tol:.0e}{anchor}) {verdict}"
        )


def _scaled(actual: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """(max abs, max abs / the output scale max |expected|)."""
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    max_abs = float(diff.max()) if diff.size else 0.0
    scale = float(np.abs(expected).max()) if expected.size else 1.0
    scale = scale if scale > SCALE_FLOOR else 1.0  # an all-zero output: absolute error
    return max_abs, max_abs / scale


def compare(
    artifact: str,
    case: str,
    output: str,
    expected: np.ndarray,
    actual: np.ndarray,
    tol: float = FLOAT32_TOL,
    exact: np.ndarray | None = None,
    compiled: np.ndarray | None = None,
) -> Comparison:
    """``actual`` against Keras' ``expected``: within ``tol`` scaled (rule "float32"), or, with
    the float64 copy's ``exact`` output, no further from it than ANCHOR_FACTOR times Keras'
    own float32 output is (rule "float64"; Keras' own: ``expected``, or Keras' ``compiled``
    output where it is further). An integer or boolean output must be equal, element for
    element, and integer too (rule "exact")."""
    expected = np.asarray(expected)
    actual = np.asarray(actual)
    if expected.shape != actual.shape:
        return Comparison(
            artifact, case, output, tuple(actual.shape), float("inf"), float("inf"), tol, False
        )
    max_abs, max_rel = _scaled(actual, expected)
    if expected.dtype.kind in "biu":  # class ids, counts, masks: no rounding to allow for
        passed = bool(max_abs == 0 and actual.dtype.kind in "biu")
        return Comparison(
            artifact, case, output, expected.shape, max_abs, max_rel, 0.0, passed, rule="exact"
        )
    passed = bool(np.isfinite(max_rel) and max_rel <= tol)
    exact_rel, keras_exact_rel = _against_exact(actual, expected, exact, compiled)
    anchored = (
        not passed
        and exact_rel is not None
        and bool(np.isfinite(exact_rel))
        and exact_rel <= ANCHOR_FACTOR * keras_exact_rel
    )
    rule = "float32" if passed else "float64" if anchored else ""
    return Comparison(
        artifact,
        case,
        output,
        tuple(expected.shape),
        max_abs,
        max_rel,
        tol,
        passed or anchored,
        exact_rel,
        keras_exact_rel,
        rule,
    )


@dataclass(frozen=True)
class Accuracy:
    """Top-1 accuracy of Keras and of an artifact on a labelled case, and their agreement."""

    artifact: str
    case: str
    samples: int
    keras_accuracy: float
    accuracy: float
    top1_agreement: float
    passed: bool

    def to_json(self) -> dict:
        return asdict(self)


def accuracy(
    artifact: str, case: str, labels: np.ndarray, expected: np.ndarray, actual: np.ndarray
) -> Accuracy:
    keras_top1 = np.argmax(expected, axis=-1)
    top1 = np.argmax(actual, axis=-1)
    agreement = float(np.mean(keras_top1 == top1))
    return Accuracy(
        artifact,
        case,
        int(labels.shape[0]),
        keras_accuracy=float(np.mean(keras_top1 == labels)),
        accuracy=float(np.mean(top1 == labels)),
        top1_agreement=agreement,
        passed=agreement >= TOP1_AGREEMENT_REQUIRED,
    )


def _against_exact(actual, expected, exact, compiled) -> tuple[float | None, float | None]:
    """The artifact's and Keras' own scaled errors against ``exact`` (None, None without)."""
    if exact is None or np.asarray(exact).shape != expected.shape:
        return None, None
    exact = np.asarray(exact)
    return _scaled(actual, exact)[1], keras_error(expected, exact, compiled)


def keras_error(expected: np.ndarray, exact: np.ndarray, compiled: np.ndarray | None) -> float:
    """Keras float32's own scaled error against the float64 copy: its eager output's, or its
    compiled output's where that was run and is further."""
    error = _scaled(expected, exact)[1]
    if compiled is not None and np.asarray(compiled).shape == exact.shape:
        error = max(error, _scaled(np.asarray(compiled), exact)[1])
    return error
