"""Every Keras weight in an nn.Parameter, none in a buffer: the check a parameter count
cannot make."""

from __future__ import annotations

import numpy as np
import torch
from pipeline.problems import weights_not_parameters
from pipeline.reference import KerasWeight
from pipeline.torch_stage import keras_weights

RNG = np.random.default_rng(0)
KERNEL = RNG.standard_normal((4, 3)).astype(np.float32)
BIAS = RNG.standard_normal(4).astype(np.float32)


def _weights() -> tuple[KerasWeight, ...]:
    """Keras' Dense kernel [in, out] and bias, as stage 1 samples them."""
    return (
        KerasWeight("dense/kernel", KERNEL.size, KERNEL.reshape(-1)[::2]),
        KerasWeight("dense/bias", BIAS.size, BIAS),
    )


class _Linear(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.dense = torch.nn.Linear(4, 3)
        with torch.no_grad():
            self.dense.weight.copy_(torch.from_numpy(KERNEL.T.copy()))  # the layout changes
            self.dense.bias.copy_(torch.from_numpy(BIAS[:3]))


class _BiasAsBuffer(torch.nn.Module):
    """The defect: the real bias added from a buffer, a zero bias parameter beside it."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = torch.nn.Conv1d(3, 4, 1)
        with torch.no_grad():
            self.dense.weight.copy_(torch.from_numpy(KERNEL.T.copy()).reshape(4, 3, 1))
            self.dense.bias.zero_()
        self.register_buffer("dense_add_const", torch.from_numpy(BIAS.copy()))


def test_weights_in_parameters_pass():
    module = torch.nn.Module()
    module.dense = torch.nn.Conv1d(3, 4, 1)
    with torch.no_grad():
        module.dense.weight.copy_(torch.from_numpy(KERNEL.T.copy()).reshape(4, 3, 1))
        module.dense.bias.copy_(torch.from_numpy(BIAS))
    result = keras_weights.check(module, _weights())
    assert result == {
        "keras_weights": 2,
        "constant": 0,
        "not_parameters": [],
        "passed": True,
        "held_by": {"dense/kernel": ["dense.weight"], "dense/bias": ["dense.bias"]},
    }


def test_a_weight_torch_splits_is_held_by_both_parts():
    module = torch.nn.Module()
    module.first = torch.nn.Parameter(torch.from_numpy(BIAS[:2].copy()))
    module.second = torch.nn.Parameter(torch.from_numpy(BIAS[2:].copy()))
    result = keras_weights.check(module, (_weights()[1],))
    assert result["passed"] and result["held_by"] == {"dense/bias": ["first", "second"]}


def test_a_bias_in_a_buffer_fails_naming_weight_and_buffer():
    result = keras_weights.check(_BiasAsBuffer(), _weights())
    assert not result["passed"]
    assert result["not_parameters"] == [{"weight": "dense/bias", "buffers": ["dense_add_const"]}]
    (line,) = weights_not_parameters(result)
    assert "'dense/bias' is not an nn.Parameter" in line and "'dense_add_const'" in line


def test_a_weight_in_no_tensor_at_all_fails():
    result = keras_weights.check(_Linear(), _weights())  # the bias cut short: a value lost
    assert result["not_parameters"] == [{"weight": "dense/bias", "buffers": []}]


def test_a_parameter_copied_into_a_buffer_too_fails():
    module = _BiasAsBuffer()
    with torch.no_grad():
        module.dense.bias.copy_(torch.from_numpy(BIAS))
    result = keras_weights.check(module, _weights())
    assert result["not_parameters"] == [{"weight": "dense/bias", "buffers": ["dense_add_const"]}]


def test_a_constant_weight_is_counted_not_judged():
    zeros = KerasWeight("dense/bias", 4, np.zeros(4, np.float32))
    result = keras_weights.check(_BiasAsBuffer(), (_weights()[0], zeros))
    assert (result["keras_weights"], result["constant"]) == (2, 1)
    assert result["passed"] and result["not_parameters"] == []
