"""SoftPool: the softmax-weighted mean, its stability and its place between avg and max."""

import keras
import numpy as np
import pytest

import keras_pool
from tests import references as ref
from tests.backend_utils import value_and_grad


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_between_average_and_max_pooling(rng):
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    soft = _np(keras_pool.SoftPooling2D(2)(x))
    assert np.all(soft <= _np(keras.layers.MaxPooling2D(2)(x)) + 1e-6)
    assert np.all(soft >= _np(keras.layers.AveragePooling2D(2)(x)) - 1e-6)


def test_scaled_up_it_approaches_max_pooling_and_scaled_down_average(rng):
    x = rng.uniform(-1, 1, size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(_np(keras_pool.SoftPooling2D(2)(x * 1e3)) / 1e3,
                               _np(keras.layers.MaxPooling2D(2)(x)), atol=1e-2)
    np.testing.assert_allclose(_np(keras_pool.SoftPooling2D(2)(x * 1e-4)) / 1e-4,
                               _np(keras.layers.AveragePooling2D(2)(x)), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("scale", [1e4, 1e30, -1e30])
def test_huge_values_stay_finite_with_finite_gradients(rng, scale):
    x = (rng.uniform(0.5, 1, size=(2, 6, 6, 2)) * scale).astype("float32")
    for layer in (keras_pool.SoftPooling2D(3, 2, "same"), keras_pool.GlobalSoftPooling2D()):
        out, grad = value_and_grad(layer, x)
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad))
        if out.ndim == 2:
            expected = ref.global_(x, ref.soft_reduce)
        else:
            expected = ref.windowed(x, ref.soft_reduce, (3, 3), (2, 2), "same")
        np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_padded_cells_take_no_part():
    x = np.full((1, 3, 3, 1), -100.0, "float32")  # a zero pad would dominate every window
    out = _np(keras_pool.SoftPooling2D(2, padding="same")(x))
    np.testing.assert_allclose(out, np.full((1, 2, 2, 1), -100.0))


def test_gradient_is_the_softmax_weights_plus_their_correction(rng):
    # d/dx_i sum softmax(x)_j x_j = w_i (1 + x_i - out): check on one window.
    x = np.array([[[0.5], [1.5], [-1.0]]], "float32")
    out, grad = value_and_grad(keras_pool.SoftPooling1D(3), x)
    w = np.exp(x[0, :, 0]) / np.exp(x[0, :, 0]).sum()
    np.testing.assert_allclose(grad[0, :, 0], w * (1 + x[0, :, 0] - out.ravel()[0]), rtol=1e-5)
