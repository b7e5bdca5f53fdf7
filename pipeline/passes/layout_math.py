"""Pure layout arithmetic the passes use (and property tests check against numpy)."""

from __future__ import annotations

import numpy as np


def nhwc_rows_to_nchw(weight: np.ndarray, hwc: tuple[int, ...]) -> np.ndarray:
    """Re-order the rows of a Dense kernel that follows a Flatten.

    Keras flattens an (H, W, C) activation, so row ``h*W*C + w*C + c`` of the kernel
    multiplies element (h, w, c); PyTorch flattens (C, H, W), where that element sits at
    ``c*H*W + h*W + w``. For every x:

        flatten_hwc(x) @ weight == flatten_chw(x) @ nhwc_rows_to_nchw(weight, (H, W, C))

    This is the reference post's manual fix (reshape to (H, W, C, out), transpose to
    (C, H, W, out), flatten back), automated. ``hwc`` is any channels-last shape, the
    channels last: (W, C) for a sequence, (D, H, W, C) for a volume.
    """
    *spatial, c = hwc
    rank = len(hwc)
    size = int(np.prod(hwc))
    if weight.shape[0] != size:
        raise ValueError(f"weight has {weight.shape[0]} rows, expected H*W*C = {size}")
    out_shape = weight.shape[1:]
    order = (rank - 1, *range(rank - 1), *range(rank, rank + len(out_shape)))
    return np.ascontiguousarray(
        weight.reshape(*spatial, c, *out_shape).transpose(order).reshape(size, *out_shape)
    )


def compose(first: tuple[int, ...], then: tuple[int, ...]) -> tuple[int, ...]:
    """The single permutation equal to Transpose(first) followed by Transpose(then)."""
    return tuple(first[axis] for axis in then)


def is_identity(perm: tuple[int, ...]) -> bool:
    return tuple(perm) == tuple(range(len(perm)))


def channels_first(rank: int) -> tuple[int, ...]:
    """The layout change channels-last -> channels-first of ``rank``: (0, rank-1, 1, ...)."""
    return (0, rank - 1, *range(1, rank - 1))


def channels_last(rank: int) -> tuple[int, ...]:
    """The layout change channels-first -> channels-last of ``rank``: (0, 2, ..., 1)."""
    return (0, *range(2, rank), 1)
