"""Mixed and gated max-average pooling (Lee et al. 2016): references, identities,
learned weights, their gradients and constraints."""

import itertools

import keras
import numpy as np
import pytest

import keras_pool
from tests import references as ref
from tests.backend_utils import value_and_grad

MIXED = {1: keras_pool.MixedPooling1D, 2: keras_pool.MixedPooling2D, 3: keras_pool.MixedPooling3D}
GATED = {1: keras_pool.GatedPooling1D, 2: keras_pool.GatedPooling2D, 3: keras_pool.GatedPooling3D}
CASES = list(itertools.product((1, 2, 3), ("valid", "same"), ("channels_last", "channels_first"),
                               ((2, None), (3, 2))))


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("rank,padding,data_format,window", CASES)
def test_mixed_with_per_channel_alpha_matches_reference(rng, rank, padding, data_format, window):
    pool_size, strides = window
    layer = MIXED[rank](pool_size, strides, padding, data_format, mixing="channel")
    x = ref.random_input(rng, rank, data_format)
    layer.build(x.shape)
    alpha = np.array([0.0, 0.3, 1.0])
    layer.alpha.assign(alpha)
    expected = ref.windowed(x, ref.mixed_reduce(alpha), (pool_size,) * rank,
                            (strides or pool_size,) * rank, padding, data_format)
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape(x.shape) == expected.shape


@pytest.mark.parametrize("rank,padding,data_format,window", CASES)
@pytest.mark.parametrize("gating", ["layer", "channel"])
def test_gated_matches_reference(rng, rank, padding, data_format, window, gating):
    pool_size, strides = window
    layer = GATED[rank](pool_size, strides, padding, data_format, gating=gating)
    x = ref.random_input(rng, rank, data_format)
    layer.build(x.shape)
    kernel = rng.normal(size=layer.gate_kernel.shape)
    layer.gate_kernel.assign(kernel)
    expected = ref.gated(x, kernel, (strides or pool_size,) * rank, padding, data_format)
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_mixed_ends_are_keras_max_and_average_pooling(rng, padding):
    x = rng.normal(size=(2, 9, 9, 3)).astype("float32")
    maxed = keras_pool.MixedPooling2D(3, 2, padding, alpha=1.0)(x)
    np.testing.assert_allclose(_np(maxed), _np(keras.layers.MaxPooling2D(3, 2, padding)(x)),
                               rtol=1e-6)
    if padding == "valid" or keras.backend.backend() != "torch":
        # Keras's torch backend averages "same" windows over edge-replicated cells.
        mean = keras_pool.MixedPooling2D(3, 2, padding, alpha=0.0)(x)
        np.testing.assert_allclose(
            _np(mean), _np(keras.layers.AveragePooling2D(3, 2, padding)(x)), rtol=1e-5, atol=1e-6
        )


def test_gate_kernel_of_zeros_is_an_even_mix(rng):
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(_np(keras_pool.GatedPooling2D(2)(x)),
                               _np(keras_pool.MixedPooling2D(2, alpha=0.5)(x)), rtol=1e-6)


def _finite_difference(fn, w, eps=1e-3):
    numeric = np.zeros_like(w, dtype="float64")
    for index in np.ndindex(w.shape):
        plus, minus = w.copy(), w.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (np.sum(_np(fn(plus)), dtype="float64")
                          - np.sum(_np(fn(minus)), dtype="float64")) / (2 * eps)
    return numeric


def test_alpha_gradient_matches_finite_differences(rng):
    x = rng.normal(size=(2, 6, 6, 3)).astype("float32")
    weights = rng.normal(size=(2, 3, 3, 3)).astype("float32")

    def fn(alpha):
        return keras_pool.ops.mixed_pool(x, 2, alpha=alpha) * keras.ops.convert_to_tensor(weights)

    alpha = np.array([0.2, 0.5, 0.9], "float32")
    _, grad = value_and_grad(fn, alpha)
    np.testing.assert_allclose(grad, _finite_difference(fn, alpha), rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_gate_kernel_gradient_matches_finite_differences(rng, padding):
    x = rng.normal(size=(2, 5, 5, 3)).astype("float32")
    out_shape = keras_pool.GatedPooling2D(3, 2, padding).compute_output_shape(x.shape)
    weights = rng.normal(size=out_shape).astype("float32")

    def fn(kernel):
        return keras_pool.ops.gated_pool(x, kernel, 2, padding) * keras.ops.convert_to_tensor(weights)

    kernel = rng.normal(size=(3, 3, 3)).astype("float32") * 0.3
    _, grad = value_and_grad(fn, kernel)
    np.testing.assert_allclose(grad, _finite_difference(fn, kernel), rtol=1e-2, atol=1e-3)


def test_training_moves_alpha_and_keeps_it_in_the_unit_interval(rng):
    # A target that is max pooling pulls alpha up, past 1 without the constraint.
    x = rng.normal(size=(64, 8, 8, 2)).astype("float32")
    target = _np(keras.layers.MaxPooling2D(2)(x)) * 3.0
    layer = keras_pool.MixedPooling2D(2, alpha=0.4)
    model = keras.Sequential([keras.Input((8, 8, 2)), layer])
    model.compile(keras.optimizers.SGD(1.0), "mse")
    model.fit(x, target, epochs=5, batch_size=16, verbose=0)
    assert float(_np(layer.alpha)) == 1.0
    clip = keras_pool.layers.UnitInterval()
    np.testing.assert_array_equal(_np(clip(keras.ops.convert_to_tensor([-0.5, 0.3, 2.0]))),
                                  np.array([0.0, 0.3, 1.0], "float32"))


def test_training_recovers_a_gate(rng):
    x = rng.normal(size=(64, 8, 8, 2)).astype("float32")
    true_kernel = rng.normal(size=(2, 2, 2)).astype("float32") * 2.0
    target = _np(keras_pool.ops.gated_pool(x, true_kernel))
    layer = keras_pool.GatedPooling2D(2, gating="channel")
    model = keras.Sequential([keras.Input((8, 8, 2)), layer])
    model.compile(keras.optimizers.Adam(0.1), "mse")
    before = model.evaluate(x, target, verbose=0)
    model.fit(x, target, epochs=30, batch_size=16, verbose=0)
    assert model.evaluate(x, target, verbose=0) < 0.05 * before
    learned = _np(layer.gate_kernel).ravel()
    assert np.corrcoef(learned, true_kernel.ravel())[0, 1] > 0.95


def test_per_channel_weights_need_known_channels():
    with pytest.raises(ValueError, match="known number of channels"):
        keras_pool.MixedPooling2D(2, mixing="channel").build((None, 8, 8, None))
    layer = keras_pool.GatedPooling1D(3, gating="channel", data_format="channels_first")
    layer.build((None, 5, 16))
    assert tuple(layer.gate_kernel.shape) == (3, 5)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_input_gradient_through_the_gate_matches_finite_differences(rng, padding):
    # Distinct, well separated values: the window maxima do not switch under eps.
    x = (rng.permutation(50).astype("float32") * 0.1 + 0.5).reshape(1, 5, 5, 2)
    kernel = rng.normal(size=(3, 3, 2)).astype("float32") * 0.3
    out_shape = keras_pool.GatedPooling2D(3, 2, padding).compute_output_shape(x.shape)
    weights = keras.ops.convert_to_tensor(rng.normal(size=out_shape).astype("float32"))

    def fn(v):
        return keras_pool.ops.gated_pool(v, kernel, 2, padding) * weights

    _, grad = value_and_grad(fn, x)
    np.testing.assert_allclose(grad, _finite_difference(fn, x, eps=1e-2), rtol=2e-2, atol=2e-3)
