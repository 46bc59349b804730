"""Stochastic pooling: sampling law, inference rule, seeds, jit and fit."""

import keras
import numpy as np
import pytest
from scipy import stats

import keras_pool
from tests.backend_utils import (
    assert_seeded_draws_reproduce_and_advance,
    supports_xla,
)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _draws(layer, window, repeats):
    """Training outputs of `layer` over `repeats` copies of one 2x2 window."""
    x = np.tile(np.asarray(window, "float32").reshape(1, 2, 2, 1), (repeats, 1, 1, 1))
    return _np(layer(x, training=True)).ravel()


@pytest.mark.parametrize("window", [[1.0, 2.0, 3.0, 4.0], [0.0, -1.0, 2.0, 6.0]])
def test_training_draws_follow_a_over_sum_a(window):
    layer = keras_pool.StochasticPooling2D(2, seed=7)
    draws = _draws(layer, window, 20000)
    a = np.maximum(window, 0.0)
    assert set(np.unique(draws)) <= set(a[a > 0])  # never a zero or negative cell
    observed = np.array([(draws == v).sum() for v in a[a > 0]])
    expected = a[a > 0] / a.sum() * len(draws)
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_frequency_test_can_fail():
    # Uniform draws over the same window would be rejected by the same test.
    observed = np.array([5000, 5000, 5000, 5000])
    expected = np.array([0.1, 0.2, 0.3, 0.4]) * 20000
    assert stats.chisquare(observed, expected).pvalue < 1e-3


def test_global_training_draws_follow_a_over_sum_a():
    layer = keras_pool.GlobalStochasticPooling1D(seed=3)
    values = np.array([0.5, 0.0, 1.5, -2.0, 3.0], "float32")
    draws = _np(layer(np.tile(values.reshape(1, 5, 1), (20000, 1, 1)), training=True)).ravel()
    a = np.array([0.5, 1.5, 3.0])
    observed = np.array([(draws == v).sum() for v in a])
    assert observed.sum() == len(draws)
    assert stats.chisquare(observed, a / a.sum() * len(draws)).pvalue > 1e-3


def test_training_samples_are_members_of_their_window(rng):
    x = rng.uniform(0.1, 1, size=(4, 9, 9, 3)).astype("float32")
    out = _np(keras_pool.StochasticPooling2D(3, 2, "same", seed=0)(x, training=True))
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))  # "same" for 9 -> 5, k=3, s=2
    for i in range(5):
        for j in range(5):
            window = padded[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3]
            hits = np.isclose(window, out[:, i : i + 1, j : j + 1]).any(axis=(1, 2))
            assert hits.all()


def test_inference_is_expectation_of_training_draws(rng):
    x = rng.uniform(-0.5, 1, size=(1, 4, 4, 2)).astype("float32")
    layer = keras_pool.StochasticPooling2D(2, seed=11)
    batch = np.repeat(x, 4000, axis=0)
    mean_draw = _np(layer(batch, training=True)).mean(axis=0)
    np.testing.assert_allclose(mean_draw, _np(layer(x))[0], atol=0.02)


@pytest.mark.parametrize("training", [False, True])
def test_zero_and_negative_windows_give_zero(training):
    x = np.zeros((2, 4, 4, 1), "float32")
    x[1] = -1.0
    for layer in [keras_pool.StochasticPooling2D(2, seed=0),
                  keras_pool.StochasticPooling2D(3, 1, "same", seed=0),
                  keras_pool.GlobalStochasticPooling2D(seed=0)]:
        out = _np(layer(x, training=training))
        assert np.all(out == 0.0)


def test_seed_reproduces_and_successive_calls_draw_fresh(rng):
    x = rng.uniform(0, 1, size=(8, 8, 8, 4)).astype("float32")
    first = keras_pool.StochasticPooling2D(2, seed=42)
    second = keras_pool.StochasticPooling2D(2, seed=42)
    a1, a2 = _np(first(x, training=True)), _np(first(x, training=True))
    np.testing.assert_array_equal(a1, _np(second(x, training=True)))
    assert not np.array_equal(a1, a2)
    other = _np(keras_pool.StochasticPooling2D(2, seed=43)(x, training=True))
    assert not np.array_equal(a1, other)


def test_compiled_stateless_calls_reproduce_and_advance(rng):
    """Under jit (jax.jit / XLA tf.function) the seed state is explicit and advances."""
    layer = keras_pool.StochasticPooling2D(2, seed=5)
    x = keras.ops.convert_to_tensor(rng.uniform(0, 1, size=(4, 8, 8, 3)).astype("float32"))
    assert_seeded_draws_reproduce_and_advance(layer, x)


def test_fit_with_xla_where_the_backend_has_it(rng):
    x = rng.normal(size=(64, 8, 8, 1)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0).astype("int32")
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras_pool.StochasticPooling2D(2, seed=1),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras_pool.GlobalStochasticPooling2D(seed=2),
        keras.layers.Dense(2),
    ])
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=supports_xla(),
    )
    before = _np(model.layers[0].kernel).copy()
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert not np.array_equal(before, _np(model.layers[0].kernel))
    assert np.all(np.isfinite(model.predict(x, verbose=0)))
