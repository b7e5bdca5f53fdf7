"""Pure layout arithmetic the passes use (and property tests check against numpy)."""

from __future__ import annotations

import numpy as np


def nhwc_rows_to_nchw(weight: np.ndarray, hwc: tuple[int, int, int]) -> np.ndarray:
    """Re-order the rows of a Dense kernel that follows a Flatten.

    Keras flattens an (H, W, C) activation, so row ``h*W*C + w*C + c`` of the kernel
    multiplies element (h, w, c); PyTorch flattens (C, H, W), where that element sits at
    ``c*H*W + h*W + w``. For every x:

        flatten_hwc(x) @ weight == flatten_chw(x) @ nhwc_rows_to_nchw(weight, (H, W, C))

    This is the reference post's manual fix (reshape to (H, W, C, out), transpose to
    (C, H, W, out), flatten back), automated.
    """
    h, w, c = hwc
    if weight.shape[0] != h * w * c:
        raise ValueError(f"weight has {weight.shape[0]} rows, expected H*W*C = {h * w * c}")
    out_shape = weight.shape[1:]
    return np.ascontiguousarray(
        weight.reshape(h, w, c, *out_shape)
        .transpose(2, 0, 1, *range(3, 3 + len(out_shape)))
        .reshape(h * w * c, *out_shape)
    )


def compose(first: tuple[int, ...], then: tuple[int, ...]) -> tuple[int, ...]:
    """The single permutation equal to Transpose(first) followed by Transpose(then)."""
    return tuple(first[axis] for axis in then)


def is_identity(perm: tuple[int, ...]) -> bool:
    return tuple(perm) == tuple(range(len(perm)))
