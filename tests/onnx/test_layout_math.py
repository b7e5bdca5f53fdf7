"""Property tests of the layout arithmetic against plain numpy."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.passes.layout_math import compose, is_identity, nhwc_rows_to_nchw

dims = st.integers(min_value=1, max_value=5)


@settings(max_examples=60, deadline=None)
@given(n=dims, h=dims, w=dims, c=dims, out=dims, seed=st.integers(0, 2**31 - 1))
def test_flatten_row_permutation_matches_numpy(n, h, w, c, out, seed):
    rng = np.random.default_rng(seed)
    x_nchw = rng.standard_normal((n, c, h, w))
    kernel = rng.standard_normal((h * w * c, out))
    keras = x_nchw.transpose(0, 2, 3, 1).reshape(n, -1) @ kernel  # Keras: flatten (H, W, C)
    torch_like = x_nchw.reshape(n, -1) @ nhwc_rows_to_nchw(kernel, (h, w, c))  # (C, H, W)
    np.testing.assert_allclose(torch_like, keras, rtol=1e-12, atol=1e-12)


@given(st.permutations(range(4)), st.permutations(range(4)))
def test_compose_is_applying_both_transposes(first, then):
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(
        x.transpose(first).transpose(then), x.transpose(compose(tuple(first), tuple(then)))
    )


@given(st.permutations(range(4)))
def test_a_permutation_then_its_inverse_is_identity(perm):
    inverse = tuple(int(i) for i in np.argsort(perm))
    assert is_identity(compose(tuple(perm), inverse))


def test_wrong_row_count_is_refused():
    try:
        nhwc_rows_to_nchw(np.zeros((7, 2)), (2, 2, 2))
    except ValueError as exc:
        assert "expected H*W*C = 8" in str(exc)
    else:
        raise AssertionError("no error")


@settings(max_examples=40, deadline=None)
@given(spatial=st.lists(dims, min_size=1, max_size=3), c=dims, seed=st.integers(0, 2**31 - 1))
def test_flatten_row_permutation_of_any_rank_matches_numpy(spatial, c, seed):
    """A sequence [N, C, W] and a volume [N, C, D, H, W] too: Keras flattens channels last."""
    rng = np.random.default_rng(seed)
    x_first = rng.standard_normal((2, c, *spatial))
    kernel = rng.standard_normal((c * int(np.prod(spatial)), 3))
    to_last = (0, *range(2, x_first.ndim), 1)
    keras = x_first.transpose(to_last).reshape(2, -1) @ kernel
    torch_like = x_first.reshape(2, -1) @ nhwc_rows_to_nchw(kernel, (*spatial, c))
    np.testing.assert_allclose(torch_like, keras, rtol=1e-12, atol=1e-12)
