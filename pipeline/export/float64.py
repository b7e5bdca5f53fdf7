"""How far float32 itself is from the Keras model's exact output: Keras float32 and the
``stage1.onnx`` onnxruntime run, each against a float64 copy of the Keras model, on the
reference inputs (``python -m pipeline.export.float64 MODEL [STAGE1_ONNX]``).

A deep net with ill-conditioned outputs (a saturated softmax near a tie) can be further than
the deep-net bar from its own exact value in float32; no float32 conversion can then be held
to that bar. This says whether that is the case; it never changes a check.
"""

from __future__ import annotations

import sys

import numpy as np
import onnx

from pipeline import ort
from pipeline.compare import tolerance_for
from pipeline.export.anchor import float64_copy


def scaled(a: np.ndarray, exact: np.ndarray) -> float:
    return float(np.abs(a - exact).max() / max(np.abs(exact).max(), np.finfo(np.float32).tiny))


def main(argv: list[str]) -> int:
    from models import resolve

    from pipeline.export import reference_cases, tf2onnx_export

    model = resolve(argv[0]).model
    proto = onnx.load(argv[1]) if len(argv) > 1 else tf2onnx_export.to_onnx(model)
    names = tuple(i.name for i in proto.graph.input)
    outputs = tuple(o.name for o in proto.graph.output)
    reference = reference_cases(model, names, outputs)
    exact_model = float64_copy(model)
    print(f"{argv[0]}: scaled max abs difference from float64 Keras, per case and output")
    print(f"(the check's bar for this model: {tolerance_for(len(model.layers)):.0e})")
    for case_name, case in reference.cases.items():
        feed = [case.inputs[n].astype(np.float64) for n in names]
        exact = exact_model(feed if len(feed) > 1 else feed[0], training=False)
        exact = exact if isinstance(exact, list | tuple) else [exact]
        onnx_out = ort.run(proto, case.inputs)
        for name, want, got_onnx in zip(outputs, exact, onnx_out, strict=True):
            want = np.asarray(want)
            print(
                f"  {case_name} {name}: Keras float32 {scaled(case.outputs[name], want):.2e}, "
                f"stage1.onnx {scaled(got_onnx, want):.2e}, "
                f"Keras vs stage1.onnx {scaled(got_onnx, case.outputs[name]):.2e}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
