"""Independent float64 NumPy references for every pooling kind (test helper).

Windows are walked one by one (slow, obvious code); "same" padding follows
Keras/TF placement and padded cells are simply not part of a window.
"""

import itertools

import numpy as np


def to_channels_last(x, data_format):
    if data_format == "channels_first":
        return np.moveaxis(x, 1, -1)
    return x


def from_channels_last(x, data_format):
    if data_format == "channels_first":
        return np.moveaxis(x, -1, 1)
    return x


def windowed(x, reduce, pool_size, strides, padding, data_format="channels_last"):
    """Apply `reduce(values)` (values: (cells, C) float64 -> (C,)) to each window."""
    x = to_channels_last(np.asarray(x, np.float64), data_format)
    spatial = x.shape[1:-1]
    starts = []
    for n, k, s in zip(spatial, pool_size, strides):
        if padding == "same":
            out = -(-n // s)
            before = max((out - 1) * s + k - n, 0) // 2
        else:
            out, before = (n - k) // s + 1, 0
        starts.append([i * s - before for i in range(out)])
    result = np.zeros((x.shape[0], *[len(s) for s in starts], x.shape[-1]))
    for b in range(x.shape[0]):
        for index in itertools.product(*(range(len(s)) for s in starts)):
            region = tuple(
                slice(max(st[i], 0), min(st[i] + k, n))
                for st, i, k, n in zip(starts, index, pool_size, spatial)
            )
            values = x[(b,) + region].reshape(-1, x.shape[-1])
            result[(b,) + index] = reduce(values)
    return from_channels_last(result, data_format)


def global_(x, reduce, data_format="channels_last", keepdims=False):
    """Apply `reduce` to all spatial positions of each sample at once."""
    x = to_channels_last(np.asarray(x, np.float64), data_format)
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    out = np.stack([reduce(sample) for sample in flat])
    if keepdims:
        out = out.reshape((x.shape[0],) + (1,) * (x.ndim - 2) + (x.shape[-1],))
        return from_channels_last(out, data_format)
    return out


def min_reduce(values):
    return values.min(axis=0)


def lp_reduce(p, normalize=False):
    def reduce(values):
        a = np.abs(values)
        m = a.max(axis=0)
        if np.isinf(p):
            return m
        safe = np.where(m > 0, m, 1.0)
        s = ((a / safe) ** p).sum(axis=0)
        if normalize:
            s = s / a.shape[0]
        return np.where(m > 0, safe * s ** (1.0 / p), 0.0)

    return reduce


def stochastic_expectation(values):
    a = np.maximum(values, 0.0)
    total = a.sum(axis=0)
    return np.where(total > 0, (a * a).sum(axis=0) / np.where(total > 0, total, 1.0), 0.0)
