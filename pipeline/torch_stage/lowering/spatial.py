"""onnx2torch's spatial wrappers as torch modules: padding (``nn.ZeroPad2d``,
``nn.ConstantPad1d``), resizing (``nn.Upsample``), global average pooling
(``nn.AdaptiveAvgPool2d(1)``). A form with no module is left alone (None)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from onnx2torch.node_converters.global_average_pool import (
    OnnxGlobalAveragePool,
    OnnxGlobalAveragePoolWithKnownInputShape,
)
from onnx2torch.node_converters.pad import OnnxPadDynamic, OnnxPadStatic
from onnx2torch.node_converters.resize import OnnxResize
from torch import nn

from pipeline.torch_stage.lowering.elementwise import Consts, Lowered

_ZERO_PADS = {1: nn.ZeroPad1d, 2: nn.ZeroPad2d, 3: nn.ZeroPad3d}
_CONSTANT_PADS = {1: nn.ConstantPad1d, 2: nn.ConstantPad2d, 3: nn.ConstantPad3d}


def _pad_module(pads: Sequence[int], mode: str, value: float) -> nn.Module | None:
    """nn.ZeroPad{1,2,3}d / nn.ConstantPad{1,2,3}d for torch-order pads (last dim first,
    (begin, end) each): the fewest last dims that hold every pad, one to three (NCHW's H and
    W; H, W and C of an image left channels-last)."""
    pads = [int(p) for p in pads]
    if len(pads) % 2 or len(pads) < 2 or mode != "constant":
        return None
    dims = max([d + 1 for d in range(len(pads) // 2) if any(pads[2 * d : 2 * d + 2])] or [1])
    if dims > 3:
        return None
    pads = tuple(pads[: 2 * dims])
    return _ZERO_PADS[dims](pads) if value == 0 else _CONSTANT_PADS[dims](pads, value)


def _pad_static(module: OnnxPadStatic, consts: Consts) -> Lowered | None:
    """A Pad node's pads over every dim, or a Conv's over its spatial dims (torch order):
    the module pads the same last dims, so it is exact either way."""
    padding = _pad_module(module.pads, module.mode, float(module.constant_value))
    return (padding, None) if padding is not None else None


def _pad_dynamic(module: OnnxPadDynamic, consts: Consts) -> Lowered | None:
    """Pad whose pads are a constant input: ONNX [x1_begin, x2_begin, ..., x1_end, ...]."""
    if len(consts) < 2 or consts[1] is None or module.mode != "constant":
        return None
    onnx_pads = [int(p) for p in consts[1].reshape(-1)]
    rank = len(onnx_pads) // 2
    begins, ends = onnx_pads[:rank], onnx_pads[rank:]
    if rank < 2 or begins[0] or ends[0]:  # the batch is never padded
        return None
    value = float(consts[2].reshape(())) if len(consts) > 2 and consts[2] is not None else 0.0
    # the last two axes at most (_pad_module): NCHW's H and W, or a sequence's steps and
    # channels when it is padded channels-last ([N, T, C]: a causal Conv1D after an Embedding)
    torch_pads = [p for axis in reversed(range(1, rank)) for p in (begins[axis], ends[axis])]
    padding = _pad_module(torch_pads, "constant", value)
    return (padding, 1) if padding is not None else None


def _resize(module: OnnxResize, consts: Consts) -> Lowered | None:
    """Upsampling by constant integer factors (Keras UpSampling2D): nearest (for integer
    factors every ONNX coordinate mode tf2onnx writes picks the same pixels as
    ``nn.Upsample``'s) or bilinear with TensorFlow 2's half-pixel centers, which is
    ``nn.Upsample(mode="bilinear")`` (``align_corners=False``). Bilinear by other factors
    (Keras Resizing, stage 1's scales): ``recompute_scale_factor=True``, so that torch maps
    coordinates by the exact size ratio, as TensorFlow does."""
    linear = module.onnx_mode == "linear" and module.align_corners is False
    if not (module.onnx_mode == "nearest" or linear) or len(consts) < 3 or consts[2] is None:
        return None
    scales = [float(v) for v in consts[2].reshape(-1)]
    if len(scales) != 4 or scales[:2] != [1.0, 1.0]:
        return None
    if all(v.is_integer() for v in scales):
        factor = (int(scales[2]), int(scales[3]))
        return nn.Upsample(scale_factor=factor, mode="bilinear" if linear else "nearest"), 1
    if not linear:
        return None
    upsample = nn.Upsample(scale_factor=tuple(scales[2:]), mode="bilinear")
    upsample.recompute_scale_factor = True
    return upsample, 1


_ADAPTIVE_AVERAGE = {
    (2,): nn.AdaptiveAvgPool1d,
    (2, 3): nn.AdaptiveAvgPool2d,
    (2, 3, 4): nn.AdaptiveAvgPool3d,
}


def _global_average_pool(module: nn.Module, consts: Consts) -> Lowered | None:
    """Over the spatial dims of NCW or NCHW data (Keras GlobalAveragePooling1D after a
    Conv1D, GlobalAveragePooling2D): ``nn.AdaptiveAvgPool1d(1)`` / ``nn.AdaptiveAvgPool2d(1)``."""
    pool = _ADAPTIVE_AVERAGE.get(tuple(getattr(module, "_x_dims", (2, 3))))
    return (pool(1), None) if pool is not None else None


LOWERINGS: dict[type, Callable[[nn.Module, Consts], Lowered | None]] = {
    OnnxGlobalAveragePoolWithKnownInputShape: _global_average_pool,
    OnnxGlobalAveragePool: _global_average_pool,
    OnnxPadStatic: _pad_static,
    OnnxPadDynamic: _pad_dynamic,
    OnnxResize: _resize,
}
