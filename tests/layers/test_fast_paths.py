"""Every fast path in keras_pool.ops against the general path it shortcuts.

`keras_pool.ops._FAST_PATHS = False` forces the general path; values and
input gradients must agree. Window extraction (one implementation) and the
hashed uniform numbers are checked against NumPy directly.
"""

import importlib
import itertools

import keras
import numpy as np
import pytest
from scipy import stats

from keras_pool import ops as pool_ops
from tests import references as ref
from tests.backend_utils import value_and_grad

WINDOWS = [  # (pool_size, strides, padding): non-overlapping, overlapping, gaps, "same"
    (2, 2, "valid"),
    (3, 2, "same"),
    (3, 1, "valid"),
    (2, 3, "valid"),
    (3, 3, "same"),
]
SPATIAL = {1: (11,), 2: (7, 6), 3: (5, 4, 5)}


def _input(rng, rank, scale=1.0):
    # Distinct magnitudes so max/argmax are unique (gradients then agree exactly).
    shape = (2, *SPATIAL[rank], 3)
    values = (rng.permutation(np.prod(shape)) + 1.0) / np.prod(shape) * scale
    return (values * rng.choice([-1.0, 1.0], np.prod(shape))).reshape(shape).astype("float32")


def _fast_and_general(monkeypatch, fn, x):
    fast = value_and_grad(fn, x)
    with monkeypatch.context() as patch:
        patch.setattr(pool_ops, "_FAST_PATHS", False)
        general = value_and_grad(fn, x)
    return fast, general


def test_the_switch_is_one_flag_every_family_reads(monkeypatch):
    """`keras_pool.ops._FAST_PATHS` sets the one switch, in `keras_pool.ops.window`,
    which each family module reads at call time (no stale copy anywhere)."""
    from keras_pool.ops import window

    assert pool_ops._FAST_PATHS is window._FAST_PATHS is True
    with monkeypatch.context() as patch:
        patch.setattr(pool_ops, "_FAST_PATHS", False)
        assert window._FAST_PATHS is False and pool_ops._FAST_PATHS is False
    assert window._FAST_PATHS is True
    for name in ("blur_pooling", "lp_pooling", "mixed_pooling", "stochastic_pooling"):
        module = importlib.import_module(f"keras_pool.ops.{name}")
        assert "_FAST_PATHS" not in vars(module) and module._window is window, name


def _assert_same(fast, general, rtol=1e-5, atol=1e-6):
    for f, g in zip(fast, general):
        assert f.shape == g.shape
        np.testing.assert_allclose(f, g, rtol=rtol, atol=atol)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 4.0, float("inf")])
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_lp_integer_p_and_inf_match_general_path(monkeypatch, rng, p, normalize, rank):
    """Products for p = 2, 3, 4 (general: exp(p log r)), sqrt / identity roots,
    max_pool of |x| for p = inf (general: max over extracted windows)."""
    x = _input(rng, rank)
    for pool_size, strides, padding in WINDOWS:
        fn = lambda v: pool_ops.lp_pool(  # noqa: E731
            v, pool_size, strides, padding, p=p, normalize=normalize
        )
        _assert_same(*_fast_and_general(monkeypatch, fn, x))
    fn = lambda v: pool_ops.global_lp_pool(v, p=p, normalize=normalize)  # noqa: E731
    _assert_same(*_fast_and_general(monkeypatch, fn, x))


@pytest.mark.parametrize("p", [2.0, 3.0, 4.0])
def test_lp_general_path_keeps_extreme_values_accurate(monkeypatch, rng, p):
    """The general exp/log power is as accurate as the products on 1e-6 .. 1e4."""
    monkeypatch.setattr(pool_ops, "_FAST_PATHS", False)
    x = (10.0 ** rng.uniform(-6, 4, size=(2, 8, 8, 3))).astype("float32")
    out = keras.ops.convert_to_numpy(pool_ops.lp_pool(x, 3, 2, "same", p=p))
    expected = ref.windowed(x, ref.lp_reduce(p), (3, 3), (2, 2), "same")
    np.testing.assert_allclose(out, expected, rtol=1e-5)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_stochastic_inference_average_pools_match_windows(monkeypatch, rng, rank, data_format):
    """Inference over overlapping windows as avg_pool(a**2) / avg_pool(a) vs
    sum(a**2) / sum(a) over extracted windows (the path of the other windows)."""
    x = _input(rng, rank)
    x[0] = -np.abs(x[0])  # a sample whose every window is zero after the ReLU
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1).copy()
    for pool_size, strides, padding in WINDOWS:
        fn = lambda v: pool_ops.stochastic_pool(  # noqa: E731
            v, pool_size, strides, padding, data_format, training=False
        )
        (out, grad), general = _fast_and_general(monkeypatch, fn, x)
        _assert_same((out, grad), general)
        assert np.all(np.isfinite(grad))
        expected = ref.windowed(x, ref.stochastic_expectation, (pool_size,) * rank,
                                (strides,) * rank, padding, data_format)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("pool_size,strides", [(2, 2), (3, 2), (2, 1), (3, 3), (2, 3), (1, 1), (4, 2)])
def test_window_extraction_matches_numpy(rank, pool_size, strides):
    """Reshapes, unit-stride slices and transposes (no strided slices) give every window.

    Cells come row-major for non-overlapping windows, shift-major otherwise
    (no reduction depends on the order), so each window is compared sorted.
    """
    for n in (pool_size, pool_size + 1, 7, 8):
        shape = (2,) + (n,) * rank + (3,)
        x = np.arange(np.prod(shape), dtype="float32").reshape(shape)
        windows = keras.ops.convert_to_numpy(
            pool_ops._windows(keras.ops.convert_to_tensor(x), (pool_size,) * rank, (strides,) * rank)
        )
        out = [(n - pool_size) // strides + 1] * rank
        assert windows.shape == (2, *out, pool_size**rank, 3)
        for index in itertools.product(*(range(o) for o in out)):
            cells = [
                x[(slice(None), *(i * strides + d for i, d in zip(index, offset)))]
                for offset in itertools.product(range(pool_size), repeat=rank)
            ]
            window = windows[(slice(None), *index)]
            if strides == pool_size:
                np.testing.assert_array_equal(window, np.stack(cells, axis=1))
            np.testing.assert_array_equal(np.sort(window, axis=1), np.sort(cells, axis=0).swapaxes(0, 1))


def test_hashed_uniform_is_uniform_reproducible_and_fresh():
    shape = (64, 32, 32)
    generator = keras.random.SeedGenerator(3)

    def uniform(seed):
        keys = pool_ops._draw_keys(np.zeros(1), True, seed)
        return keras.ops.convert_to_numpy(pool_ops._uniform(shape, "float32", keys))

    u1, u2 = uniform(generator).ravel(), uniform(generator).ravel()
    assert u1.dtype == np.float32 and 0.0 <= u1.min() and u1.max() < 1.0
    assert stats.kstest(u1, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(u1[:-1], u1[1:])[0, 1]) < 0.01  # neighbours independent
    assert abs(np.corrcoef(u1, u2)[0, 1]) < 0.01  # successive calls fresh
    assert np.mean(u1 == u2) < 1e-3
    same = [uniform(5) for _ in range(2)]
    np.testing.assert_array_equal(*same)  # an int seed reproduces


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_stochastic_training_cell_selects_match_window_cumsum(monkeypatch, rng, rank):
    """Running sums and selects over the window cells draw exactly what the
    cumsum / one-hot over stacked windows draws, from the same numbers."""
    x = _input(rng, rank)
    x[0, :2] = 0.0  # all-zero windows give 0 either way
    for pool_size, strides, padding in WINDOWS:
        fn = lambda v: pool_ops.stochastic_pool(  # noqa: E731
            v, pool_size, strides, padding, training=True, seed=7
        )
        (out, grad), general = _fast_and_general(monkeypatch, fn, x)
        _assert_same((out, grad), general, rtol=0, atol=0)
        assert np.all(grad == np.round(grad)) and grad.min() >= 0  # picks counted


def test_two_level_draw_over_a_long_axis_follows_a_over_sum_a():
    """Over more than 32 cells the draw picks a block of 32 by its sum, then a
    cell in it; cells in every block, and the padded tail, keep the law."""
    values = np.zeros(70, "float32")
    picks = {0: 1.0, 5: 2.0, 31: 0.5, 32: 3.0, 40: 1.5, 63: 2.5, 64: 0.75, 69: 4.0}
    for i, v in picks.items():
        values[i] = v
    values[10] = -3.0  # negative cells count as zero
    x = np.tile(values.reshape(1, 70, 1), (20000, 1, 1))
    draws = keras.ops.convert_to_numpy(
        pool_ops.global_stochastic_pool(x, training=True, seed=11)
    ).ravel()
    a = np.array(list(picks.values()))
    observed = np.array([(draws == v).sum() for v in a])
    assert np.isin(draws, a).all()
    assert stats.chisquare(observed, a / a.sum() * len(draws)).pvalue > 1e-3


@pytest.mark.parametrize("rank,filter_size,stride,mode", [
    (rank, f, s, m) for rank in (1, 2, 3) for f in (1, 2, 3, 4, 7) for s in (1, 2, 3)
    for m in ("reflect", "replicate", "zero")
])
def test_blur_matrices_match_the_slice_filter(monkeypatch, rng, rank, filter_size, stride, mode):
    """The blur as one matrix product per axis against pad + slice filter, on every
    backend: values and input gradients."""
    x = rng.normal(size=(2,) + (11, 8, 9)[:rank] + (3,)).astype("float32")
    args = ((filter_size,) * rank, (stride,) * rank, mode)
    fast, general = _fast_and_general(
        monkeypatch, lambda v: pool_ops._blur(v, *args) ** 2, x)
    _assert_same(fast, general)


def test_blur_matrix_against_numpy_padding():
    """Each row of `blur_matrix` is the filter applied to NumPy's padding of a unit vector."""
    modes = {"reflect": "reflect", "replicate": "edge", "zero": "constant"}
    for (n, f, s), mode in itertools.product([(7, 4, 2), (5, 3, 1), (6, 7, 3)], modes):
        taps = np.array(pool_ops.binomial_filter(f))
        expected = np.zeros(((n + s - 1) // s, n))
        for i in range(n):
            padded = np.pad(np.eye(n)[i], pool_ops.blur_pads(f), mode=modes[mode])
            expected[:, i] = np.correlate(padded, taps, "valid")[::s]
        np.testing.assert_allclose(pool_ops.blur_matrix(n, f, s, mode), expected, atol=1e-12)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("per_channel", [False, True])
def test_gate_as_depthwise_convolution_matches_the_slices(monkeypatch, rng, rank, per_channel):
    """The gate's window sum as a native depthwise convolution (PyTorch, TensorFlow
    outside XLA) against slices and multiply-adds: values, input and kernel gradients."""
    x = _input(rng, rank)
    for pool_size, strides, padding in WINDOWS:
        window = (pool_size,) * rank
        kernel = rng.normal(size=window + ((3,) if per_channel else ())).astype("float32")
        for fn, arg in [(lambda v: pool_ops.gated_pool(v, kernel, strides, padding), x),
                        (lambda k: pool_ops.gated_pool(x, k, strides, padding), kernel)]:
            _assert_same(*_fast_and_general(monkeypatch, fn, arg))


def test_long_axes_blur_by_slices_and_short_ones_by_matrices(monkeypatch, rng):
    """An axis longer than MATRIX_BLUR_MAX takes the slices, the other one of the same
    tensor the matrix; both paths together against the general path."""
    long = pool_ops.MATRIX_BLUR_MAX + 9
    x = rng.normal(size=(2, long, 6, 3)).astype("float32")
    fast, general = _fast_and_general(
        monkeypatch, lambda v: pool_ops.blur_pool(v, 4, 2, "reflect") ** 2, x)
    _assert_same(fast, general)
    assert fast[0].shape == (2, (long + 1) // 2, 3, 3)
