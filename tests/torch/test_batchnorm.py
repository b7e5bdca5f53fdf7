"""``model.py``'s BatchNorm (``pipeline.torch_stage.batchnorm``): ``KerasBatchNorm*d`` trains
with Keras' running-variance update and is ``nn.BatchNorm*d`` otherwise; which (conv,
BatchNorm) pairs ``optimize_for_inference()`` folds, and which it must not."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from pipeline.torch_stage import batchnorm
from torch import fx, nn

MOMENTUM = 0.01  # torch's, for Keras' default 0.99
STAT_TOL = 1e-6  # relative, float32 sums of 4 to 48 values


def _classes() -> dict:
    """The classes as model.py defines them (its text, run)."""
    init = ["self.a = KerasBatchNorm1d(3)", "self.b = KerasBatchNorm2d(3)"]
    scope = {"torch": torch, "nn": nn}
    exec(compile(batchnorm.definitions(init), "model.py", "exec"), scope)  # noqa: S102
    return scope


def test_definitions_only_for_the_classes_used():
    assert batchnorm.definitions(["self.fc = nn.Linear(3, 4)"]) == ""
    text = batchnorm.definitions(["self.bn = KerasBatchNorm2d(8, eps=0.001)"])
    assert "class KerasBatchNorm2d(nn.BatchNorm2d)" in text
    assert "KerasBatchNorm1d" not in text


@pytest.mark.parametrize(
    ("name", "shape"), [("KerasBatchNorm1d", (4, 3)), ("KerasBatchNorm2d", (4, 3, 2, 2))]
)
def test_train_mode_updates_the_running_variance_as_keras(name, shape):
    """Keras' update (its BatchNormalization.call): moving = moving * momentum + batch *
    (1 - momentum), the batch variance biased. torch's own BatchNorm differs by n/(n-1)
    (n = 4 values per channel for the 1-D case): far over the tolerance there."""
    cls = _classes()[name]
    torch.manual_seed(0)
    x = torch.randn(shape) * 3 + 1
    mine, plain = (
        cls(3, momentum=MOMENTUM),
        getattr(nn, name.removeprefix("Keras"))(3, momentum=MOMENTUM),
    )
    assert isinstance(mine, type(plain))
    y_mine, y_plain = mine.train()(x), plain.train()(x)
    dims = [0, *range(2, x.dim())]
    arr = x.double().numpy()
    keras_var = 1.0 * (1 - MOMENTUM) + arr.var(axis=tuple(dims)) * MOMENTUM
    keras_mean = 0.0 * (1 - MOMENTUM) + arr.mean(axis=tuple(dims)) * MOMENTUM
    np.testing.assert_allclose(mine.running_var.numpy(), keras_var, rtol=STAT_TOL)
    np.testing.assert_allclose(mine.running_mean.numpy(), keras_mean, rtol=STAT_TOL, atol=1e-9)
    assert int(mine.num_batches_tracked) == 1
    # the same normalized output and gradients as torch's own train-mode BatchNorm
    torch.testing.assert_close(y_mine, y_plain, rtol=0, atol=1e-6)
    if name == "KerasBatchNorm1d":  # what the class is for: torch's update is off here
        off = np.abs(plain.running_var.numpy() - keras_var) / keras_var
        assert off.max() > 1e-3
    # eval mode: nn.BatchNorm's own forward on the running statistics
    plain.load_state_dict(mine.state_dict())
    torch.testing.assert_close(mine.eval()(x), plain.eval()(x), rtol=0, atol=0)


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.conv2 = nn.Conv2d(3, 3, 1)
        self.bn2 = nn.BatchNorm2d(3)
        self.fc = nn.Linear(3, 3)
        self.bn3 = nn.BatchNorm1d(3)

    def forward(self, x):
        x = self.bn(self.conv(x))  # folds
        y = self.conv2(x)
        z = self.bn2(y) + y  # the conv's output is read by another node too: no fold
        return self.bn3(self.fc(z.mean((2, 3))))  # after a Linear: no fold


def test_fold_pairs_takes_only_a_conv_read_by_its_batchnorm_alone():
    assert batchnorm.fold_pairs(fx.symbolic_trace(_Net())) == [("conv", "bn")]


class _Shared(nn.Module):
    """One conv and one BatchNorm called twice (a shared Keras sub-model), and a BatchNorm
    called after two different convs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2)
        self.left, self.right, self.bn2 = nn.Conv2d(2, 2, 1), nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2)

    def forward(self, a, b):
        return self.bn(self.conv(a)) + self.bn(self.conv(b)), self.bn2(self.left(a)) + self.bn2(
            self.right(b)
        )


def test_fold_pairs_shared_pair_folds_and_two_sources_do_not():
    assert batchnorm.fold_pairs(fx.symbolic_trace(_Shared())) == [("conv", "bn")]


def test_optimize_for_inference_method_folds_what_it_lists():
    """The method's text, run on a module: the same outputs in eval mode, the BatchNorm gone,
    and the channels_last weights."""
    text = batchnorm.method("_Net", [("conv", "bn")])
    scope = {"torch": torch, "nn": nn, "fuse_conv_bn_eval": torch.nn.utils.fusion.fuse_conv_bn_eval}
    exec(compile("class Mixin:\n" + text.replace("-> _Net", ""), "model.py", "exec"), scope)  # noqa: S102
    net = type("Folded", (scope["Mixin"], _Net), {})()
    with torch.no_grad():  # non-trivial statistics, so that folding them matters
        for bn in (net.bn, net.bn2, net.bn3):
            (
                bn.running_mean.uniform_(-1, 1),
                bn.running_var.uniform_(0.5, 2),
                bn.weight.uniform_(0.5, 2),
            )
    x = torch.randn(2, 2, 5, 5)
    expected = net.eval()(x)
    fast = net.optimize_for_inference(channels_last=True)
    assert isinstance(fast.bn, nn.Identity) and isinstance(fast.bn2, nn.BatchNorm2d)
    assert fast.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert {p.dtype for p in fast.parameters()} == {torch.float32}  # folded in float64 only
    torch.testing.assert_close(
        fast(x.contiguous(memory_format=torch.channels_last)), expected, rtol=1e-5, atol=1e-5
    )
    assert "nothing to fold" in batchnorm.method("_Net", [])


def test_the_fold_is_computed_in_float64_and_rounded_once():
    """The folded kernel is the float64 fold rounded to float32, not a float32 fold."""
    text = batchnorm.method("_Net", [("conv", "bn")])
    scope = {"torch": torch, "nn": nn, "fuse_conv_bn_eval": torch.nn.utils.fusion.fuse_conv_bn_eval}
    exec(compile("class Mixin:\n" + text.replace("-> _Net", ""), "model.py", "exec"), scope)  # noqa: S102
    torch.manual_seed(0)
    net = type("Folded", (scope["Mixin"], _Net), {})().eval()
    with torch.no_grad():
        net.bn.running_var.uniform_(1e-3, 1e-2)  # a large scale: float32 folding rounds
        net.bn.weight.uniform_(0.5, 2)
    exact = torch.nn.utils.fusion.fuse_conv_bn_eval(
        copy.deepcopy(net.conv).double(), copy.deepcopy(net.bn).double()
    )
    net.optimize_for_inference()
    assert torch.equal(net.conv.weight, exact.weight.float())
    assert torch.equal(net.conv.bias, exact.bias.float())


class _PaddedConv(nn.Module):
    """TensorFlow's uneven "same" padding of a strided conv, as model.py writes it, then its
    BatchNorm (MobileNetV2's and EfficientNet's strided blocks); and a Sequential that is not
    such a pair."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(2, 3, 3, stride=2))
        self.bn = nn.BatchNorm2d(3)
        self.other = nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU())
        self.bn2 = nn.BatchNorm2d(3)

    def forward(self, x):
        return self.bn2(self.other(self.bn(self.conv(x))))


def test_a_batchnorm_after_a_padded_conv_folds_into_its_conv():
    assert batchnorm.fold_pairs(fx.symbolic_trace(_PaddedConv())) == [("conv.1", "bn")]
    text = batchnorm.method("_PaddedConv", [("conv.1", "bn")])
    scope = {"torch": torch, "nn": nn, "fuse_conv_bn_eval": torch.nn.utils.fusion.fuse_conv_bn_eval}
    exec(compile("class Mixin:\n" + text.replace("-> _PaddedConv", ""), "model.py", "exec"), scope)  # noqa: S102
    net = type("Folded", (scope["Mixin"], _PaddedConv), {})()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-1, 1)
        net.bn.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 2, 8, 8)
    expected = net.eval()(x)
    fast = net.optimize_for_inference()
    assert isinstance(fast.bn, nn.Identity) and isinstance(fast.conv[0], nn.ZeroPad2d)
    torch.testing.assert_close(fast(x), expected, rtol=1e-5, atol=1e-5)
