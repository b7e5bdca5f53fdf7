"""pipeline.fuzz.classify: every conversion outcome in exactly one class."""

from __future__ import annotations

import pytest

from pipeline.fuzz import classify


@pytest.mark.parametrize(
    ("code", "output", "expected"),
    [
        (0, "[check] done in 3.0 s", ("ok", "")),
        (
            2,
            "[export] error: layer 'ln_3' (LayerNormalization): over axes [0, 1] ...",
            ("refused", "export"),
        ),
        (
            3,
            "[torch] error: onnx2torch cannot convert node 'conv' (Conv) of Keras layer 'conv'",
            ("refused", "torch"),
        ),
        (
            4,
            "[torch] error: the emitted PyTorch module fails its checks: 10 parameters, Keras 12",
            ("mismatch", "torch"),
        ),
        (4, "[passes] error: pass 'gemm' changed the model's outputs: ...", ("mismatch", "passes")),
        (4, "[export] error: stage 1 does not match Keras: ...", ("mismatch", "export")),
        (1, "Traceback (most recent call last):\n  ...\nKeyError: 'x'", ("crash", "")),
        (1, "[export] error: something went wrong", ("crash", "export")),
        (
            1,
            "[passes] error: pass 'x' left an invalid ONNX graph: node 'conv' ...",
            ("crash", "passes"),
        ),
        (-11, "", ("crash", "")),  # a segfault prints nothing
        (
            6,
            "[torch] internal error: KeyError: 'x' (working on Keras layer 'conv' (Conv2D)). "
            "The full traceback is in out/torch.traceback.txt.",
            ("crash", "torch"),
        ),
        (
            4,
            "[torch] error: the emitted PyTorch module fails its checks: Keras weight "
            "'conv/bias' is not an nn.Parameter (its values are in buffer 'conv_add_const')",
            ("weight_as_buffer", "torch"),
        ),
    ],
)
def test_each_outcome_has_one_class(code, output, expected):
    kind, stage, _ = classify(code, output)
    assert (kind, stage) == expected
