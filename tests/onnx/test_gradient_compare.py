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


def test_a_composite_layer_s_parts_and_bare_parameters_are_its_own():
    """keras-hub's blocks: modules named ``<layer>_<part>`` and a bare ``<layer>_weight``
    are the layer's; a module named after a longer layer name ('dense_1') is that layer's."""
    w = RNG.standard_normal(6).astype(np.float32)
    keras = {
        "block/0": np.concatenate([w[:4], w[4:5]]),
        "block_pos/0": w[5:6],
        "dense/0": w[:2],
        "dense_1/0": w[2:4],
    }
    torch = {
        "block_kerasmultiheadattention.in_proj_weight": w[:4],
        "block_layernormalization.weight": w[4:5],
        "block_pos_weight": w[5:6],  # a bare parameter of layer block_pos, not of block
        "dense.weight": w[:2],
        "dense_1.weight": w[2:4],
    }
    results = {r.layer: r for r in gradients.compare_layers(keras, torch)}
    assert {k: (r.values, r.torch_values) for k, r in results.items()} == {
        "block": (5, 5),
        "block_pos": (1, 1),
        "dense": (2, 2),
        "dense_1": (2, 2),
    }
    assert all(r.passed for r in results.values())


def test_torch_values_beyond_keras_pass_only_with_a_zero_gradient():
    """Whisper's key projection has no bias; nn.MultiheadAttention's zero one gets a zero
    gradient (softmax ignores it): left out. A surplus that moves fails."""
    g = RNG.standard_normal(8).astype(np.float32)
    keras = {"attention/0": g}
    (still,) = gradients.compare_layers(keras, {"attention.in_proj_bias": np.r_[g, 0.0, 1e-12]})
    assert still.passed and (still.values, still.torch_values, still.still) == (8, 10, 2)
    (moving,) = gradients.compare_layers(keras, {"attention.in_proj_bias": np.r_[g, 0.0, 0.3]})
    assert not moving.passed and moving.still == 0
