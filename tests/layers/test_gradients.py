"""Gradients: finite differences, finite at all-zero windows, routed like max pooling."""

import keras
import numpy as np
import pytest

import keras_pool
from tests.backend_utils import value_and_grad

FD_LAYERS = {
    "min": lambda: keras_pool.MinPooling2D(2),
    "min_same": lambda: keras_pool.MinPooling2D(3, 2, "same"),
    "lp3": lambda: keras_pool.LpPooling2D(2, p=3.0),
    "lp2_same_overlap": lambda: keras_pool.LpPooling2D(3, 2, "same", p=2.0),
    "lp_mean": lambda: keras_pool.LpPooling2D(2, 1, p=2.5, normalize=True),
    "lp_trainable": lambda: keras_pool.LpPooling2D(2, p=4.0, trainable_p=True),
    "stochastic_inference": lambda: keras_pool.StochasticPooling2D(3, 2, "same"),
    "global_min": lambda: keras_pool.GlobalMinPooling2D(),
    "global_lp": lambda: keras_pool.GlobalLpPooling2D(p=3.0),
    "global_stochastic_inference": lambda: keras_pool.GlobalStochasticPooling2D(),
    "blur": lambda: keras_pool.BlurPooling2D(),
    "blur_zero_3": lambda: keras_pool.BlurPooling2D(3, 2, "zero"),
    "max_blur": lambda: keras_pool.MaxBlurPooling2D(),
    "max_blur_same": lambda: keras_pool.MaxBlurPooling2D(3, 2, 3, "same", "replicate"),
    "mixed": lambda: keras_pool.MixedPooling2D(2, alpha=0.3),
    "mixed_same": lambda: keras_pool.MixedPooling2D(3, 2, "same", alpha=0.7),
    "gated": lambda: keras_pool.GatedPooling2D(2),
    "gated_same": lambda: keras_pool.GatedPooling2D(3, 2, "same", gating="channel"),
    "soft": lambda: keras_pool.SoftPooling2D(2),
    "soft_same": lambda: keras_pool.SoftPooling2D(3, 2, "same"),
    "global_soft": lambda: keras_pool.GlobalSoftPooling2D(),
}


def _distinct_input(rng, shape):
    # Distinct positive values, well separated, so min/max do not switch under eps.
    values = rng.permutation(np.prod(shape)).astype("float64") * 0.1 + 0.5
    return values.reshape(shape).astype("float32")


@pytest.mark.parametrize("name", list(FD_LAYERS))
def test_gradient_matches_finite_differences(rng, name):
    layer = FD_LAYERS[name]()
    x = _distinct_input(rng, (1, 5, 5, 2))
    weights = rng.normal(size=layer.compute_output_shape(x.shape)).astype("float32")
    fn = lambda v: layer(v) * keras.ops.convert_to_tensor(weights)  # noqa: E731
    _, grad = value_and_grad(fn, x)
    eps = 1e-2
    numeric = np.zeros_like(x, dtype="float64")
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (
            np.sum(keras.ops.convert_to_numpy(fn(plus)), dtype="float64")
            - np.sum(keras.ops.convert_to_numpy(fn(minus)), dtype="float64")
        ) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=2e-2, atol=2e-3)


ZERO_LAYERS = [
    lambda: keras_pool.MinPooling2D(2),
    lambda: keras_pool.LpPooling2D(2, p=1.0),
    lambda: keras_pool.LpPooling2D(2, p=2.0),
    lambda: keras_pool.LpPooling2D(3, 2, "same", p=2.5, normalize=True),
    lambda: keras_pool.LpPooling2D(2, p=float("inf")),
    lambda: keras_pool.LpPooling2D(2, p=3.0, trainable_p=True),
    lambda: keras_pool.GlobalLpPooling2D(p=3.0),
    lambda: keras_pool.GlobalLpPooling2D(p=1.5, trainable_p=True, normalize=True),
    lambda: keras_pool.StochasticPooling2D(2, seed=0),
    lambda: keras_pool.GlobalStochasticPooling2D(seed=0),
    lambda: keras_pool.BlurPooling2D(),
    lambda: keras_pool.MaxBlurPooling2D(),
    lambda: keras_pool.MixedPooling2D(3, 2, "same"),
    lambda: keras_pool.GatedPooling2D(3, 2, "same"),
    lambda: keras_pool.SoftPooling2D(3, 2, "same"),
    lambda: keras_pool.GlobalSoftPooling2D(),
]


@pytest.mark.parametrize("make", ZERO_LAYERS)
@pytest.mark.parametrize("training", [False, True])
def test_gradients_finite_with_all_zero_windows(make, training):
    layer = make()
    x = np.zeros((2, 6, 6, 2), "float32")
    x[1, :2, :2] = 1.0  # one live window, the rest all-zero (and a fully zero sample)
    x[1, 4:, 4:] = -1.0
    out, grad = value_and_grad(lambda v: layer(v, training=training), x)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad))


def test_trainable_p_gradient_finite_with_zero_windows():
    import keras as k

    layer = keras_pool.LpPooling2D(2, p=3.0, trainable_p=True)
    x = np.zeros((2, 4, 4, 1), "float32")
    x[0, 0, 0] = 2.0
    model = k.Sequential([k.Input((4, 4, 1)), layer, k.layers.Flatten(), k.layers.Dense(1)])
    model.compile(optimizer=k.optimizers.SGD(0.1), loss="mse")
    model.fit(x, np.ones((2, 1)), epochs=2, verbose=0)
    assert np.isfinite(float(keras.ops.convert_to_numpy(layer.p)))


def test_stochastic_training_gradient_goes_to_the_drawn_cell(rng):
    x = rng.uniform(0.1, 1, size=(3, 4, 4, 2)).astype("float32")
    layer = keras_pool.StochasticPooling2D(2, seed=9)
    out, grad = value_and_grad(lambda v: layer(v, training=True), x)
    # Exactly one cell per window gets gradient 1, and it holds the drawn value.
    assert np.sum(grad) == pytest.approx(out.size)
    assert set(np.unique(grad)) <= {0.0, 1.0}
    np.testing.assert_allclose(np.sort((x * grad)[grad > 0]), np.sort(out.ravel()), rtol=1e-6)
