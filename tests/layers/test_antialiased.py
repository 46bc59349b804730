"""BlurPool and MaxBlurPool: NumPy references, antialiased-cnns, kornia, shapes, errors."""

import itertools

import antialiased_cnns
import keras
import kornia
import numpy as np
import pytest
import torch

import keras_pool
from tests import references as ref

BLUR = {1: keras_pool.BlurPooling1D, 2: keras_pool.BlurPooling2D, 3: keras_pool.BlurPooling3D}
MAXBLUR = {
    1: keras_pool.MaxBlurPooling1D,
    2: keras_pool.MaxBlurPooling2D,
    3: keras_pool.MaxBlurPooling3D,
}
MODES = ("reflect", "replicate", "zero")
PT_MODES = {"reflect": "refl", "replicate": "repl", "zero": "zero"}


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "rank,filter_size,padding_mode,data_format",
    list(itertools.product((1, 2, 3), (1, 2, 3, 4, 7), MODES,
                           ("channels_last", "channels_first"))),
)
def test_blur_matches_reference(rng, rank, filter_size, padding_mode, data_format):
    x = ref.random_input(rng, rank, data_format)  # every axis > 3 cells: reflect of 7 taps works
    layer = BLUR[rank](filter_size, 2, padding_mode, data_format)
    expected = ref.blur(x, (filter_size,) * rank, (2,) * rank, padding_mode, data_format)
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape(x.shape) == expected.shape


@pytest.mark.parametrize("strides", [1, 3, (2, 1), (1, 3)])
def test_blur_strides_and_per_axis_filters_match_reference(rng, strides):
    x = rng.normal(size=(2, 9, 8, 3)).astype("float32")
    for filter_size in (3, (2, 5)):
        layer = keras_pool.BlurPooling2D(filter_size, strides)
        expected = ref.blur(x, layer.filter_size, layer.strides, "reflect")
        np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "filter_size,stride,padding_mode",
    list(itertools.product(range(1, 8), (1, 2, 3), MODES)),
)
def test_blur_matches_antialiased_cnns(rng, filter_size, stride, padding_mode):
    x = rng.normal(size=(2, 3, 9, 10)).astype("float32")  # NCHW
    peer = antialiased_cnns.BlurPool(3, PT_MODES[padding_mode], filter_size, stride)
    expected = peer(torch.tensor(x)).numpy()
    ours = keras_pool.BlurPooling2D(filter_size, stride, padding_mode, "channels_first")(x)
    np.testing.assert_allclose(_np(ours), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("filter_size,padding_mode", list(itertools.product(range(1, 8), MODES)))
def test_blur_1d_matches_antialiased_cnns(rng, filter_size, padding_mode):
    x = rng.normal(size=(2, 3, 13)).astype("float32")
    peer = antialiased_cnns.BlurPool1D(3, PT_MODES[padding_mode], filter_size, 2)
    expected = peer(torch.tensor(x)).numpy()
    ours = keras_pool.BlurPooling1D(filter_size, 2, padding_mode, "channels_first")(x)
    np.testing.assert_allclose(_np(ours), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel_size", [3, 5, 7])
def test_blur_and_max_blur_match_kornia_with_zero_padding(rng, kernel_size):
    # kornia pads (k - 1) // 2 zeros on both sides: antialiased-cnns' placement for odd k.
    x = rng.normal(size=(2, 3, 9, 10)).astype("float32")
    expected = kornia.filters.blur_pool2d(torch.tensor(x), kernel_size, 2).numpy()
    ours = keras_pool.BlurPooling2D(kernel_size, 2, "zero", "channels_first")(x)
    np.testing.assert_allclose(_np(ours), expected, rtol=1e-5, atol=1e-5)
    expected = kornia.filters.max_blur_pool2d(torch.tensor(x), kernel_size, 2, 2).numpy()
    ours = keras_pool.MaxBlurPooling2D(2, 2, kernel_size, padding_mode="zero",
                                       data_format="channels_first")(x)
    np.testing.assert_allclose(_np(ours), expected, rtol=1e-5, atol=1e-5)


def test_max_blur_matches_antialiased_cnns_max_pool_then_blur_pool(rng):
    x = rng.normal(size=(2, 4, 12, 11)).astype("float32")
    peer = torch.nn.Sequential(torch.nn.MaxPool2d(kernel_size=2, stride=1),
                               antialiased_cnns.BlurPool(4, stride=2))
    ours = keras_pool.MaxBlurPooling2D(data_format="channels_first")(x)
    np.testing.assert_allclose(_np(ours), peer(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "rank,padding,data_format",
    list(itertools.product((1, 2, 3), ("valid", "same"), ("channels_last", "channels_first"))),
)
def test_max_blur_matches_reference(rng, rank, padding, data_format):
    x = ref.random_input(rng, rank, data_format)
    layer = MAXBLUR[rank](pool_size=2, strides=2, filter_size=3, padding=padding,
                          padding_mode="replicate", data_format=data_format)
    def maxed_reduce(values):
        return values.max(axis=0)

    maxed = ref.windowed(x, maxed_reduce, (2,) * rank, (1,) * rank, padding, data_format)
    expected = ref.blur(maxed, (3,) * rank, (2,) * rank, "replicate", data_format)
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape(x.shape) == expected.shape


def test_filter_size_one_is_plain_subsampling(rng):
    x = rng.normal(size=(2, 9, 8, 3)).astype("float32")
    np.testing.assert_array_equal(_np(keras_pool.BlurPooling2D(1, 2)(x)), x[:, ::2, ::2])
    np.testing.assert_array_equal(_np(keras_pool.BlurPooling2D(1, 3)(x)), x[:, ::3, ::3])


def test_blur_keeps_a_constant_and_averages_a_checkerboard(rng):
    constant = np.full((1, 8, 8, 2), 3.0, "float32")
    for mode in MODES[:2]:  # zero padding darkens the border; the others keep it
        np.testing.assert_allclose(_np(keras_pool.BlurPooling2D(padding_mode=mode)(constant)),
                                   3.0, rtol=1e-6)
    board = (np.indices((8, 8)).sum(0) % 2).astype("float32").reshape(1, 8, 8, 1)
    # Max pooling keeps the highest frequency as 1s; the binomial filter removes it.
    interior = _np(keras_pool.BlurPooling2D(3, 1, "zero")(board))[0, 1:-1, 1:-1, 0]
    np.testing.assert_allclose(interior, 0.5, atol=1e-6)


def test_blur_is_shift_equivariant_where_max_pooling_is_not():
    # Zhang (2019): a one-cell shift of a pulse changes max pooling's output a lot,
    # the blurred max pooling's output little.
    x = np.zeros((1, 16, 1), "float32")
    x[0, 7] = 1.0
    shifted = np.roll(x, 1, axis=1)

    def change(layer):
        return float(np.abs(_np(layer(x)) - _np(layer(shifted))).sum())

    assert change(keras.layers.MaxPooling1D(2)) == 2.0  # the pulse jumps a cell
    assert change(keras_pool.MaxBlurPooling1D(filter_size=4)) < 1.0


def test_reflect_padding_needs_more_cells_than_it_mirrors():
    with pytest.raises(ValueError, match=r"spatial size is \(2, 8\)"):
        keras_pool.BlurPooling2D(4)(np.zeros((1, 2, 8, 1), "float32"))
    with pytest.raises(ValueError, match="padding_mode='reflect'"):
        keras_pool.ops.max_blur_pool(np.zeros((1, 3, 3, 1), "float32"), 2, 2, 5)
    out = keras_pool.BlurPooling2D(4, padding_mode="replicate")(np.ones((1, 2, 8, 1), "float32"))
    assert tuple(out.shape) == (1, 1, 4, 1)
