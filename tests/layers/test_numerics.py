"""Every layer against the float64 NumPy references, on the current backend."""

import itertools

import keras
import numpy as np
import pytest

import keras_pool
from tests import references as ref

WINDOWS = [  # (pool_size, strides): non-overlapping, overlapping, strides != pool
    (2, None),
    (3, 2),
    (2, 1),
]
KINDS = {
    "min": (
        {1: keras_pool.MinPooling1D, 2: keras_pool.MinPooling2D, 3: keras_pool.MinPooling3D},
        {},
        ref.min_reduce,
    ),
    "lp3": (
        {1: keras_pool.LpPooling1D, 2: keras_pool.LpPooling2D, 3: keras_pool.LpPooling3D},
        {"p": 3.0},
        ref.lp_reduce(3.0),
    ),
    "lp2.5_mean": (
        {1: keras_pool.LpPooling1D, 2: keras_pool.LpPooling2D, 3: keras_pool.LpPooling3D},
        {"p": 2.5, "normalize": True},
        ref.lp_reduce(2.5, normalize=True),
    ),
    "soft": (
        {1: keras_pool.SoftPooling1D, 2: keras_pool.SoftPooling2D, 3: keras_pool.SoftPooling3D},
        {},
        ref.soft_reduce,
    ),
    "mixed0.3": (
        {1: keras_pool.MixedPooling1D, 2: keras_pool.MixedPooling2D,
         3: keras_pool.MixedPooling3D},
        {"alpha": 0.3},
        ref.mixed_reduce(0.3),
    ),
    "gated_initial": (  # a zero gate kernel: every window mixes max and mean 1:1
        {1: keras_pool.GatedPooling1D, 2: keras_pool.GatedPooling2D,
         3: keras_pool.GatedPooling3D},
        {},
        ref.mixed_reduce(0.5),
    ),
    "stochastic_inference": (
        {
            1: keras_pool.StochasticPooling1D,
            2: keras_pool.StochasticPooling2D,
            3: keras_pool.StochasticPooling3D,
        },
        {"seed": 0},
        ref.stochastic_expectation,
    ),
}
GLOBAL_KINDS = {
    "min": (
        {1: keras_pool.GlobalMinPooling1D, 2: keras_pool.GlobalMinPooling2D,
         3: keras_pool.GlobalMinPooling3D},
        {},
        ref.min_reduce,
    ),
    "lp4": (
        {1: keras_pool.GlobalLpPooling1D, 2: keras_pool.GlobalLpPooling2D,
         3: keras_pool.GlobalLpPooling3D},
        {"p": 4.0},
        ref.lp_reduce(4.0),
    ),
    "lp1.5_mean": (
        {1: keras_pool.GlobalLpPooling1D, 2: keras_pool.GlobalLpPooling2D,
         3: keras_pool.GlobalLpPooling3D},
        {"p": 1.5, "normalize": True},
        ref.lp_reduce(1.5, normalize=True),
    ),
    "soft": (
        {1: keras_pool.GlobalSoftPooling1D, 2: keras_pool.GlobalSoftPooling2D,
         3: keras_pool.GlobalSoftPooling3D},
        {},
        ref.soft_reduce,
    ),
    "stochastic_inference": (
        {1: keras_pool.GlobalStochasticPooling1D, 2: keras_pool.GlobalStochasticPooling2D,
         3: keras_pool.GlobalStochasticPooling3D},
        {"seed": 0},
        ref.stochastic_expectation,
    ),
}


def _assert_close(actual, expected):
    actual = keras.ops.convert_to_numpy(actual)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kind,rank,padding,data_format,window",
    list(itertools.product(KINDS, (1, 2, 3), ("valid", "same"),
                           ("channels_last", "channels_first"), WINDOWS)),
)
def test_windowed_matches_reference(rng, kind, rank, padding, data_format, window):
    classes, kwargs, reduce = KINDS[kind]
    pool_size, strides = window
    layer = classes[rank](pool_size=pool_size, strides=strides, padding=padding,
                          data_format=data_format, **kwargs)
    x = ref.random_input(rng, rank, data_format)
    sizes = (pool_size,) * rank
    expected = ref.windowed(x, reduce, sizes, (strides or pool_size,) * rank, padding,
                            data_format)
    _assert_close(layer(x), expected)
    assert layer.compute_output_shape(x.shape) == expected.shape


@pytest.mark.parametrize(
    "kind,rank,data_format,keepdims",
    list(itertools.product(GLOBAL_KINDS, (1, 2, 3), ("channels_last", "channels_first"),
                           (False, True))),
)
def test_global_matches_reference(rng, kind, rank, data_format, keepdims):
    classes, kwargs, reduce = GLOBAL_KINDS[kind]
    layer = classes[rank](data_format=data_format, keepdims=keepdims, **kwargs)
    x = ref.random_input(rng, rank, data_format)
    expected = ref.global_(x, reduce, data_format, keepdims)
    _assert_close(layer(x), expected)
    assert layer.compute_output_shape(x.shape) == expected.shape


def test_min_pooling_is_negated_max_pooling_of_negation(rng):
    x = rng.normal(size=(3, 9, 9, 4)).astype("float32")
    for padding in ("valid", "same"):
        ours = keras_pool.MinPooling2D(3, 2, padding)(x)
        keras_max = keras.layers.MaxPooling2D(3, 2, padding)(-x)
        _assert_close(ours, -keras.ops.convert_to_numpy(keras_max).astype(np.float64))


def test_padded_cells_never_win_for_min_pooling():
    x = np.full((1, 3, 3, 1), 5.0, "float32")  # positive input: a zero pad would win
    out = keras.ops.convert_to_numpy(keras_pool.MinPooling2D(2, padding="same")(x))
    np.testing.assert_array_equal(out, np.full((1, 2, 2, 1), 5.0))


def test_aliases_are_the_layers():
    assert keras_pool.MinPool2D is keras_pool.MinPooling2D
    assert keras_pool.LpPool3D is keras_pool.LpPooling3D
    assert keras_pool.GlobalStochasticPool1D is keras_pool.GlobalStochasticPooling1D
    assert keras_pool.MaxBlurPool2D is keras_pool.MaxBlurPooling2D
    assert keras_pool.GlobalSoftPool3D is keras_pool.GlobalSoftPooling3D


def test_functional_ops_match_layers(rng):
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    _assert_close(
        keras_pool.ops.lp_pool(x, 3, 2, "same", p=3.0),
        keras.ops.convert_to_numpy(keras_pool.LpPooling2D(3, 2, "same", p=3.0)(x)).astype(
            np.float64
        ),
    )
    _assert_close(keras_pool.ops.global_min_pool(x), x.min(axis=(1, 2)).astype(np.float64))
