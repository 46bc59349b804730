"""Independent float64 NumPy references for every pooling kind (test helper).

Windows are walked one by one (slow, obvious code); "same" padding follows
Keras/TF placement and padded cells are simply not part of a window.
"""

import itertools
import math

import numpy as np


SPATIAL = {1: (11,), 2: (7, 6), 3: (5, 4, 5)}  # odd and even sizes for the layer tests


def random_input(rng, rank, data_format="channels_last", channels=3):
    """A float32 normal batch of 2 with the `SPATIAL` sizes of `rank`, in `data_format`."""
    shape = (2, *SPATIAL[rank], channels)
    if data_format == "channels_first":
        shape = (2, channels, *SPATIAL[rank])
    return rng.normal(size=shape).astype("float32")


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
    starts = [_starts(n, k, s, padding) for n, k, s in zip(spatial, pool_size, strides)]
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


def mixed_reduce(alpha):
    """alpha * max + (1 - alpha) * mean over a window's real cells (alpha: number or (C,))."""

    def reduce(values):
        return alpha * values.max(axis=0) + (1.0 - alpha) * values.mean(axis=0)

    return reduce


def soft_reduce(values):
    """sum softmax(v)_i * v_i over a window's real cells."""
    weights = np.exp(values - values.max(axis=0))
    return (weights * values).sum(axis=0) / weights.sum(axis=0)


def _starts(n, k, s, padding):
    if padding == "same":
        out = -(-n // s)
        before = max((out - 1) * s + k - n, 0) // 2
    else:
        out, before = (n - k) // s + 1, 0
    return [i * s - before for i in range(out)]


def gated(x, kernel, strides, padding, data_format="channels_last"):
    """Gated max-average pooling, walked window by window with explicit offsets.

    g = sigmoid(sum_d kernel[d] * x[start + d]) over the window's real cells
    (padded cells add nothing); out = g * max + (1 - g) * mean of real cells.
    """
    x = to_channels_last(np.asarray(x, np.float64), data_format)
    kernel = np.asarray(kernel, np.float64)
    rank = x.ndim - 2
    window = kernel.shape[:rank]
    starts = [_starts(n, k, s, padding) for n, k, s in zip(x.shape[1:-1], window, strides)]
    result = np.zeros((x.shape[0], *[len(s) for s in starts], x.shape[-1]))
    for index in itertools.product(*(range(len(s)) for s in starts)):
        cells, logit = [], 0.0
        for offset in itertools.product(*(range(k) for k in window)):
            position = tuple(st[i] + d for st, i, d in zip(starts, index, offset))
            if all(0 <= p < n for p, n in zip(position, x.shape[1:-1])):
                value = x[(slice(None),) + position]  # (batch, C)
                cells.append(value)
                logit = logit + kernel[offset] * value
        cells = np.stack(cells)
        gate = 1.0 / (1.0 + np.exp(-logit))
        result[(slice(None),) + index] = gate * cells.max(0) + (1 - gate) * cells.mean(0)
    return from_channels_last(result, data_format)


def binomial(filter_size):
    row = np.array([math.comb(filter_size - 1, i) for i in range(filter_size)], np.float64)
    return row / row.sum()


def blur(x, filter_size, strides, padding_mode, data_format="channels_last"):
    """BlurPool with np.pad and the full (outer-product) filter, output by output."""
    x = to_channels_last(np.asarray(x, np.float64), data_format)
    rank = x.ndim - 2
    mode = {"reflect": "reflect", "replicate": "edge", "zero": "constant"}[padding_mode]
    pads = [(0, 0)] + [((f - 1) // 2, f // 2) for f in filter_size] + [(0, 0)]
    padded = np.pad(x, pads, mode=mode)
    kernel = binomial(filter_size[0])
    for f in filter_size[1:]:
        kernel = np.multiply.outer(kernel, binomial(f))
    outs = [-(-n // s) for n, s in zip(x.shape[1:-1], strides)]
    result = np.zeros((x.shape[0], *outs, x.shape[-1]))
    for index in itertools.product(*(range(o) for o in outs)):
        region = tuple(slice(i * s, i * s + f) for i, s, f in zip(index, strides, filter_size))
        patch = padded[(slice(None),) + region]  # (batch, *filter, C)
        weights = kernel.reshape((1, *filter_size, 1))
        result[(slice(None),) + index] = (patch * weights).sum(axis=tuple(range(1, rank + 1)))
    return from_channels_last(result, data_format)
