"""``pipeline.gradients``' comparisons, on arrays: per layer the sorted gradient values (the
layouts re-arrange the same numbers), and per BatchNorm statistic its values in order."""

from __future__ import annotations

import numpy as np

from pipeline import gradients

RNG = np.random.default_rng(3)


def test_layer_gradients_compare_as_sorted_values():
    kernel = RNG.standard_normal((3, 3, 2, 4)).astype(np.float32)
    keras = {"block/conv/0": kernel, "block/conv/1": np.ones(4, np.float32)}
    torch = {"block_conv.weight": kernel.transpose(3, 2, 0, 1), "block_conv.bias": np.ones(4)}
    (result,) = gradients.compare_layers(keras, torch)
    assert result.module == "block_conv" and result.values == result.torch_values == 76
    assert result.passed and result.max_rel == 0.0
    torch["block_conv.bias"] = np.ones(4) * (1 + 1e-3)  # one value off: over the bar
    (result,) = gradients.compare_layers(keras, torch)
    assert not result.passed and result.max_rel > gradients.GRADIENT_TOL


def test_batchnorm_statistics_compare_in_order_and_a_missing_one_fails():
    var = RNG.uniform(0.5, 2.0, 8).astype(np.float32)
    keras = {"stem_bn/running_var": var}
    (same,) = gradients.compare_statistics(keras, {"stem_bn/running_var": var.copy()})
    assert same.passed and same.max_rel == 0.0
    # the same values in another channel order would pass a sorted comparison; not this one
    (off,) = gradients.compare_statistics(keras, {"stem_bn/running_var": var[::-1].copy()})
    assert not off.passed
    (missing,) = gradients.compare_statistics(keras, {})
    assert not missing.passed and missing.torch_values == 0
