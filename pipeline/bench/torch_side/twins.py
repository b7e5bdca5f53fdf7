"""The expert-written PyTorch a user would otherwise pick: torchvision's model of the same
architecture as a ``keras.applications`` model (``TWINS``), built with random weights
(``weights=None``), fed the same NCHW input as the emitted module, in each of its fastest
documented forms: as built, ``channels_last``, and Conv+BatchNorm folded by
``torch.fx.experimental.optimization.fuse`` (torchvision's documented inference fusion), in
both memory formats.

They are the same architecture, not the same network: torchvision's classifier heads and a
few blocks differ from Keras' (docs/performance.md says where), so their outputs are not
compared, only their speed."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torchvision
from torch.fx.experimental.optimization import fuse

# keras.applications name -> torchvision.models builder
TWINS = {
    "MobileNetV2": "mobilenet_v2",
    "ResNet50": "resnet50",
    "VGG16": "vgg16",
    "EfficientNetB0": "efficientnet_b0",
    "ConvNeXtTiny": "convnext_tiny",
    "DenseNet121": "densenet121",
}
PREFIX = "torchvision "
KERAS_VARIANT = "variant: torchvision "  # not a form a user picks: not the twin's fastest
# twins whose gap to the emitted module is Keras' architecture: timed once more, changed to
# compute what Keras computes (TensorFlow's "same" padding of a strided 3x3 conv pads the
# bottom and right only, so Keras' MobileNetV2 pads explicitly, ZeroPadding2D((0, 1), (0, 1)),
# before each of its 5 strided convs; torchvision's convolutions pad 1 all round)
KERAS_PADS = {"MobileNetV2"}


def keras_padded(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` with each strided 3x3 ``nn.Conv2d`` padded 1 all round replaced by
    ``nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(padding=0))``, as model.py writes
    Keras' strided convs (same weights: the outputs differ by where the window starts)."""
    for name, child in list(module.named_children()):
        if (
            isinstance(child, torch.nn.Conv2d)
            and child.stride == (2, 2)
            and child.kernel_size == (3, 3)
            and child.padding == (1, 1)
        ):
            child.padding = (0, 0)
            setattr(module, name, torch.nn.Sequential(torch.nn.ZeroPad2d((0, 1, 0, 1)), child))
        else:
            keras_padded(child)
    return module


def _channels_last(feed: Callable) -> Callable:
    return lambda keras_x: feed(keras_x).contiguous(memory_format=torch.channels_last)


def runners(model: str, nchw: Callable) -> list[tuple[str, torch.nn.Module, Callable]]:
    """torchvision's twin of ``model`` in each form (none if it has no twin)."""
    if model not in TWINS:
        return []
    name = TWINS[model]

    torch.manual_seed(0)
    built = getattr(torchvision.models, name)(weights=None).eval()

    def build() -> torch.nn.Module:  # a copy: the same weights, built once (VGG16: 138M)
        return copy.deepcopy(built)

    found = [
        (f"{PREFIX}{name} (NCHW)", build(), nchw),
        (
            f"{PREFIX}{name} (channels_last)",
            build().to(memory_format=torch.channels_last),
            _channels_last(nchw),
        ),
    ]
    try:
        fused = fuse(build())
    except Exception as exc:  # a twin fx cannot trace: said in the results, not hidden
        return [
            *found,
            (f"{PREFIX}{name}, fx fuse: cannot trace ({type(exc).__name__})", None, nchw),
        ]
    found.append((f"{PREFIX}{name}, fx fuse (Conv+BN folded)", fused, nchw))
    found.append(
        (
            f"{PREFIX}{name}, fx fuse, channels_last",
            fuse(build()).to(memory_format=torch.channels_last),
            _channels_last(nchw),
        )
    )
    if model in KERAS_PADS:
        found.append(
            (
                f"{KERAS_VARIANT}{name} with Keras' pads, fx fuse, channels_last",
                fuse(keras_padded(build())).to(memory_format=torch.channels_last),
                _channels_last(nchw),
            )
        )
    return found
