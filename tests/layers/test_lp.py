"""Lp pooling: identities with Keras built-ins, torch, extreme p and values."""

import keras
import numpy as np
import pytest
import torch

import keras_pool
from tests import references as ref
from tests.backend_utils import value_and_grad


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_p_inf_is_max_pooling_of_abs(rng, padding):
    x = rng.normal(size=(2, 9, 9, 3)).astype("float32")
    ours = keras_pool.LpPooling2D(3, 2, padding, p=float("inf"))(x)
    expected = keras.layers.MaxPooling2D(3, 2, padding)(np.abs(x))
    np.testing.assert_array_equal(_np(ours), _np(expected))
    np.testing.assert_array_equal(
        _np(keras_pool.GlobalLpPooling2D(p=float("inf"))(x)),
        _np(keras.layers.GlobalMaxPooling2D()(np.abs(x))),
    )


def test_power_mean_p1_is_average_pooling_of_abs(rng):
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    ours = keras_pool.LpPooling2D(2, p=1.0, normalize=True)(x)
    expected = keras.layers.AveragePooling2D(2)(np.abs(x))
    np.testing.assert_allclose(_np(ours), _np(expected), rtol=1e-5)
    np.testing.assert_allclose(
        _np(keras_pool.GlobalLpPooling2D(p=1.0, normalize=True)(x)),
        _np(keras.layers.GlobalAveragePooling2D()(np.abs(x))),
        rtol=1e-5,
    )


def test_power_mean_approaches_max_pooling_for_large_p(rng):
    x = rng.uniform(0.1, 1.0, size=(2, 8, 8, 3)).astype("float32")
    gem = _np(keras_pool.LpPooling2D(2, p=2000.0, normalize=True)(x))
    np.testing.assert_allclose(gem, _np(keras.layers.MaxPooling2D(2)(x)), rtol=1e-3)


@pytest.mark.parametrize("p,kernel,stride", [(2.0, 2, 2), (3.0, 2, 2), (3.0, 3, 2), (1.5, 3, 1)])
def test_matches_torch_lp_pool2d_on_nonnegative_input(rng, p, kernel, stride):
    x = rng.uniform(0, 2, size=(2, 3, 9, 10)).astype("float32")  # NCHW
    expected = torch.nn.functional.lp_pool2d(torch.tensor(x), p, kernel, stride).numpy()
    ours = keras_pool.LpPooling2D(kernel, stride, p=p, data_format="channels_first")(x)
    np.testing.assert_allclose(_np(ours), expected, rtol=1e-5, atol=1e-6)


def test_matches_torch_lp_pool1d(rng):
    x = rng.uniform(0, 2, size=(2, 3, 17)).astype("float32")
    expected = torch.nn.functional.lp_pool1d(torch.tensor(x), 4.0, 3, 2).numpy()
    ours = keras_pool.LpPooling1D(3, 2, p=4.0, data_format="channels_first")(x)
    np.testing.assert_allclose(_np(ours), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("p", [1.0, 2.0, 7.0, 30.0, 100.0])
@pytest.mark.parametrize("normalize", [False, True])
def test_large_p_and_extreme_values_stay_finite_and_accurate(rng, p, normalize):
    # Magnitudes from 1e-6 to 1e4, with windows of only tiny values and only huge ones.
    x = (10.0 ** rng.uniform(-6, 4, size=(2, 8, 8, 3))) * rng.choice([-1, 1], (2, 8, 8, 3))
    x[0, :2, :2] = 1e-6 * rng.uniform(1, 2, size=(2, 2, 3))
    x[0, 2:4, 2:4] = 1e4 * rng.uniform(0.5, 1, size=(2, 2, 3))
    x = x.astype("float32")
    for layer, expected in [
        (keras_pool.LpPooling2D(2, p=p, normalize=normalize),
         ref.windowed(x, ref.lp_reduce(p, normalize), (2, 2), (2, 2), "valid")),
        (keras_pool.LpPooling2D(3, 2, "same", p=p, normalize=normalize),
         ref.windowed(x, ref.lp_reduce(p, normalize), (3, 3), (2, 2), "same")),
        (keras_pool.GlobalLpPooling2D(p=p, normalize=normalize),
         ref.global_(x, ref.lp_reduce(p, normalize))),
    ]:
        out = _np(layer(x))
        assert np.all(np.isfinite(out))
        np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_unscaled_reference_agrees_for_moderate_p(rng):
    # An independent check of the reference's own scaling trick.
    x = rng.uniform(-3, 3, size=(1, 6, 6, 2))
    direct = ref.windowed(x, lambda v: (np.abs(v) ** 5).sum(0) ** 0.2, (2, 2), (2, 2), "valid")
    scaled = ref.windowed(x, ref.lp_reduce(5.0), (2, 2), (2, 2), "valid")
    np.testing.assert_allclose(scaled, direct, rtol=1e-12)


def test_trainable_p_is_a_weight_with_gradient_and_kept_at_least_one(rng):
    layer = keras_pool.LpPooling2D(2, p=3.0, trainable_p=True)
    x = rng.uniform(0.5, 2.0, size=(4, 8, 8, 2)).astype("float32")
    layer.build(x.shape)
    assert [w.name for w in layer.trainable_weights] == ["p"]
    np.testing.assert_allclose(_np(layer(x)), _np(keras_pool.LpPooling2D(2, p=3.0)(x)), rtol=1e-6)
    model = keras.Sequential([keras.Input((8, 8, 2)), layer, keras.layers.Flatten()])
    # Minimizing the output pushes p up; maximizing it pushes p toward (and clamps at) 1.
    model.compile(optimizer=keras.optimizers.SGD(50.0), loss=lambda y, pred: -keras.ops.mean(pred))
    model.fit(x, np.zeros((4, 32)), epochs=3, verbose=0)
    assert float(_np(layer.p)) == pytest.approx(1.0)
    np.testing.assert_allclose(
        _np(layer(x)), _np(keras_pool.LpPooling2D(2, p=1.0)(x)), rtol=1e-5
    )


def test_trainable_p_gradient_matches_finite_difference(rng):
    x = rng.uniform(0.1, 2.0, size=(1, 4, 4, 1))
    p0, eps = 2.5, 1e-4

    def lp(p):
        return ref.windowed(x, ref.lp_reduce(p), (2, 2), (2, 2), "valid").sum()

    fd = (lp(p0 + eps) - lp(p0 - eps)) / (2 * eps)
    layer = keras_pool.LpPooling2D(2, p=p0, trainable_p=True)
    layer.build(x.shape)
    # d/dp through the layer: perturb the variable itself.
    outs = []
    for p in (p0 + 1e-2, p0 - 1e-2):
        layer.p.assign(p)
        outs.append(float(np.sum(_np(layer(x.astype("float32"))))))
    assert (outs[0] - outs[1]) / 2e-2 == pytest.approx(fd, rel=1e-2)
    assert fd < 0  # the Lp norm falls as p grows


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16", "float16", "bfloat16"])
def test_half_precision_policies_stay_finite(rng, policy):
    x = (10.0 ** rng.uniform(-3, 4, size=(2, 8, 8, 3))).astype("float32")
    for layer in [
        keras_pool.LpPooling2D(2, p=8.0, dtype=policy),
        keras_pool.LpPooling2D(3, 2, "same", p=100.0, normalize=True, dtype=policy),
        keras_pool.GlobalLpPooling2D(p=3.0, dtype=policy),
        keras_pool.LpPooling2D(2, p=3.0, trainable_p=True, dtype=policy),
        keras_pool.StochasticPooling2D(2, dtype=policy, seed=1),
        keras_pool.GlobalStochasticPooling2D(dtype=policy, seed=1),
        keras_pool.MinPooling2D(2, dtype=policy),
    ]:
        out = layer(x)
        assert keras.backend.standardize_dtype(out.dtype) == policy.replace("mixed_", "")
        assert np.all(np.isfinite(_np(keras.ops.cast(out, "float32"))))
        _, grad = value_and_grad(lambda v: keras.ops.cast(layer(v), "float32"), x)
        assert np.all(np.isfinite(grad))
