"""Lp pooling: the Lp norm per window (or the power mean, GeM), and its global form."""

import math

from keras import ops

from keras_pool.ops import docs
from keras_pool.ops import window as _window  # for `_window._FAST_PATHS`, read at call time
from keras_pool.ops.arguments import normalize_bool, normalize_number
from keras_pool.ops.window import _global, _valid_counts, _windowed, _windows
from keras_pool.xla_clusters import cluster


# The Args entries of `lp_pool` and `global_lp_pool` (see `docs.document`).
LP_ARGS = {
    "p": """\
a number in [1, inf] (`float("inf")` is the max of |x|) or a scalar
tensor (a trainable p).""",
    "normalize": "bool; True for the power mean (GeM).",
}


def normalize_p(p):
    """`p` as a float in [1, inf]; ValueError naming the value otherwise."""
    return normalize_number(p, "p", 1.0, math.inf)


def _p_argument(p):
    """A Python value is checked and made a float; a tensor/variable p passes."""
    return normalize_p(p) if isinstance(p, (int, float, str, bool)) else p


def _power(r, p):
    """r ** p for r in [0, 1], with finite gradients (in r and in a tensor p) at 0.

    General path: exp(p log r); TensorFlow's CPU `pow` kernel is ~4x slower
    than exp and log together. Fast path: p = 1, 2, 3, 4 by products.
    """
    if _window._FAST_PATHS and isinstance(p, float) and p in (1.0, 2.0, 3.0, 4.0):
        if p == 1.0:
            return r
        square = ops.square(r)
        if p == 2.0:
            return square
        return r * square if p == 3.0 else ops.square(square)
    positive = r > 0
    safe = ops.where(positive, r, ops.ones_like(r))
    return ops.where(positive, ops.exp(p * ops.log(safe)), ops.zeros_like(r))


def _root(total, p):
    """total ** (1 / p) for total > 0: exp(log(total) / p); p = 1, 2 fast paths."""
    if _window._FAST_PATHS and isinstance(p, float) and p in (1.0, 2.0):
        return total if p == 1.0 else ops.sqrt(total)
    return ops.exp(ops.log(total) / p)


def _lp_reduce(a, p, axis, normalize, count):
    """(sum a**p)**(1/p) over `axis` (or the power mean), scaled by the max.

    `a >= 0`. Dividing by the window maximum keeps every term in [0, 1], so
    nothing overflows for large p or huge values, and tiny windows keep their
    precision. The max gets no gradient: the result does not depend on it.
    """
    if isinstance(p, float) and math.isinf(p):
        return ops.max(a, axis=axis)
    m = ops.stop_gradient(ops.max(a, axis=axis, keepdims=True))
    positive = m > 0
    m = ops.where(positive, m, ops.ones_like(m))
    total = ops.sum(_power(a / m, p), axis=axis, keepdims=True)
    if normalize:
        total = total / count
    # total >= 1 / count wherever the window holds a positive value.
    total = ops.where(positive, total, ops.ones_like(total))
    out = ops.where(positive, m * _root(total, p), ops.zeros_like(m))
    return ops.squeeze(out, axis=axis)


@docs.document(docs.WINDOWED_RETURNS, **LP_ARGS)
@cluster
def lp_pool(
    inputs,
    pool_size,
    strides=None,
    padding="valid",
    data_format=None,
    p=2.0,
    normalize=False,
):
    """Lp pooling: the Lp norm `(sum |x_i|**p)**(1/p)` per window, or the power mean.

    With `normalize=True` the sum becomes a mean over the window's real
    (non-padded) cells: the generalized mean (GeM), which is average pooling
    of |x| at p=1 and max pooling of |x| as p -> inf. Each window is scaled
    by its maximum first, so large p and extreme magnitudes stay finite;
    half-precision inputs are pooled in float32.

    >>> import numpy as np
    >>> x = np.ones((1, 4, 4, 1), "float32")
    >>> float(lp_pool(x, 2, p=2.0)[0, 0, 0, 0])  # sqrt(4 * 1**2)
    2.0
    """
    p = _p_argument(p)
    normalize = normalize_bool(normalize, "normalize")

    def reduce(x, pool_size, strides, padding, spatial, befores):
        count = None
        if normalize:
            count = (
                _valid_counts(spatial, pool_size, strides, befores, x.dtype)
                if padding == "same"
                else float(math.prod(pool_size))
            )
        power = p if isinstance(p, float) else ops.cast(p, x.dtype)
        if _window._FAST_PATHS and isinstance(p, float) and math.isinf(p):
            # x is zero-padded already; a padded 0 never beats |x|.
            return ops.max_pool(ops.abs(x), pool_size, strides, "valid")
        windows = _windows(ops.abs(x), pool_size, strides)
        return _lp_reduce(windows, power, -2, normalize, count)

    return _windowed("lp_pool", inputs, pool_size, strides, padding, data_format, reduce)


@docs.document(docs.GLOBAL_RETURNS, **LP_ARGS)
@cluster
def global_lp_pool(inputs, data_format=None, keepdims=False, p=2.0, normalize=False):
    """Lp norm `(sum |x_i|**p)**(1/p)` over all spatial positions, per channel, or
    the power mean (GeM) with `normalize=True`; see `lp_pool`.

    >>> import numpy as np
    >>> x = np.array([3.0, 4.0], "float32").reshape(1, 2, 1)
    >>> float(global_lp_pool(x, p=2.0)[0, 0])
    5.0
    """
    p = _p_argument(p)
    normalize = normalize_bool(normalize, "normalize")

    def reduce(flat, axis):
        count = float(flat.shape[axis]) if flat.shape[axis] is not None else ops.cast(
            ops.shape(flat)[axis], flat.dtype
        )
        power = p if isinstance(p, float) else ops.cast(p, flat.dtype)
        return _lp_reduce(ops.abs(flat), power, axis, normalize, count)

    return _global("global_lp_pool", inputs, data_format, keepdims, reduce)
