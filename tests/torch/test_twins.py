"""torchvision's twins of the zoo's models for `make bench`, and the MobileNetV2 variant
changed to pad as Keras does (pipeline/bench/torch_side/twins.py)."""

from __future__ import annotations

import torch
import torchvision
from pipeline.bench.torch_side import twins


def test_keras_padded_pads_each_strided_3x3_conv_bottom_and_right():
    module = twins.keras_padded(torchvision.models.mobilenet_v2(weights=None))
    pads = [m for m in module.modules() if isinstance(m, torch.nn.ZeroPad2d)]
    assert len(pads) == 5 and all(p.padding == (0, 1, 0, 1) for p in pads)  # Keras' 5
    strided = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]
    assert len(strided) == 5 and all(m.padding == (0, 0) for m in strided)
    assert module(torch.randn(1, 3, 96, 96)).shape == (1, 1000)


def test_a_twin_in_its_forms_and_none_for_a_model_without_one():
    found = twins.runners("MobileNetV2", lambda x: torch.from_numpy(x))
    labels = [label for label, _, _ in found]
    assert labels[0] == "torchvision mobilenet_v2 (NCHW)" and len(labels) == 5
    assert labels[-1].startswith(twins.KERAS_VARIANT)  # not one of the twin's own forms
    assert twins.runners("lenet4", lambda x: x) == []
