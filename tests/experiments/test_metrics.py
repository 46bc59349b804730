"""Metrics against hand-made cases: shifting, accuracy under shift, shift consistency."""

import numpy as np
import pytest

from experiments.run import metrics


def _one_pixel(n=1, size=5, at=(2, 2)):
    x = np.zeros((n, size, size, 1), dtype=np.float32)
    x[:, at[0], at[1], 0] = 1.0
    return x


def test_shift_moves_down_right_and_fills_with_zeros():
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    out = metrics.shift(x, 1, 1)[0, :, :, 0]
    np.testing.assert_array_equal(out, [[0, 0, 0], [0, 0, 1], [0, 3, 4]])
    out = metrics.shift(x, -1, 0)[0, :, :, 0]
    np.testing.assert_array_equal(out, [[3, 4, 5], [6, 7, 8], [0, 0, 0]])
    np.testing.assert_array_equal(metrics.shift(x, 0, 0), x)
    np.testing.assert_array_equal(metrics.shift(x, 3, 0), np.zeros_like(x))


def test_shift_per_image_offsets_and_channels():
    x = np.repeat(_one_pixel(3), 2, axis=-1)  # two channels
    out = metrics.shift(x, np.array([0, 1, -2]), np.array([1, 0, -2]))
    assert out.shape == x.shape
    assert np.argwhere(out[0, :, :, 0]).tolist() == [[2, 3]]
    assert np.argwhere(out[1, :, :, 1]).tolist() == [[3, 2]]
    assert np.argwhere(out[2, :, :, 0]).tolist() == [[0, 0]]


def _pixel_reader(row, col):
    """Predicts class 1 if pixel (row, col) is lit, else class 0: not shift invariant."""
    def predict(x):
        lit = x[:, row, col, 0] > 0.5
        return np.stack([~lit, lit], axis=1).astype(np.float32)
    return predict


def _mass_counter(x):
    """Predicts from the total intensity only: shift invariant while nothing leaves the frame."""
    mass = x.sum(axis=(1, 2, 3))
    return np.stack([mass < 1.5, mass >= 1.5], axis=1).astype(np.float32)


def test_accuracy_and_gap():
    x, y = _one_pixel(4), np.array([1, 1, 0, 1])
    assert metrics.accuracy(_pixel_reader(2, 2), x, y) == 0.75
    assert metrics.generalization_gap(0.9, 0.75) == pytest.approx(0.15)


def test_accuracy_under_shift_averages_the_four_diagonals():
    x, y = _one_pixel(2), np.array([1, 1])
    # Reads the pixel one step down-right of the centre: only the (+1, +1) shift hits it.
    result = metrics.accuracy_under_shift(_pixel_reader(3, 3), x, y, max_shift=2)
    assert result == [0.0, 0.25, 0.0]
    # Mass 1 is class 0 for the mass counter, wherever the pixel goes.
    assert metrics.accuracy_under_shift(_mass_counter, x, 1 - y, max_shift=2) == [1.0, 1.0, 1.0]


def test_a_shift_invariant_model_scores_consistency_one():
    x = np.zeros((50, 12, 12, 1), dtype=np.float32)
    rng = np.random.default_rng(0)
    x[:, 4:8, 4:8, 0] = rng.random((50, 4, 4)) * 0.2  # content inside a 4-pixel margin
    x[::2, 5, 5, 0] = 2.0  # half the images are class 1
    assert metrics.shift_consistency(_mass_counter, x, max_shift=4, pairs=5, seed=1) == 1.0


def test_a_position_reading_model_is_inconsistent():
    x = _one_pixel(400, size=9, at=(4, 4))
    score = metrics.shift_consistency(_pixel_reader(4, 4), x, max_shift=1, pairs=3, seed=0)
    # Class 1 needs shift (0, 0): P(both same class) = (1/9)^2 + (8/9)^2 ≈ 0.80.
    assert 0.72 < score < 0.88
    again = metrics.shift_consistency(_pixel_reader(4, 4), x, max_shift=1, pairs=3, seed=0)
    assert again == score
    assert metrics.shift_consistency(_pixel_reader(4, 4), x, max_shift=0) == 1.0


def test_evaluate_and_predictor_on_a_keras_model():
    import keras

    from experiments import config

    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)

    class Data:
        x_train = x_test = rng.random((20, 6, 6, 1)).astype("float32")
        y_train = y_test = (np.arange(20) % 2).astype("int32")

        def arrays(self, split):
            return getattr(self, f"x_{split}"), getattr(self, f"y_{split}")

    eval_cfg = config.EvalConfig(max_shift=2, consistency_pairs=2, batch_size=8)
    row = metrics.evaluate(model, Data(), eval_cfg, seed=0)
    # accuracy and loss as Keras's own evaluate gives them (20 examples: a last batch of 4)
    keras_scores = model.evaluate(Data.x_test, Data.y_test, batch_size=8, verbose=0,
                                  return_dict=True)
    assert row["test_accuracy"] == pytest.approx(keras_scores["accuracy"])
    assert row["test_loss"] == pytest.approx(keras_scores["loss"], rel=1e-6)
    predict = metrics.predictor(model, batch_size=8)
    assert predict(Data.x_test).shape == (20, 2)  # batches 8, 8 and 4 (padded to 8)
    np.testing.assert_allclose(predict(Data.x_test), model.predict(Data.x_test, batch_size=8,
                                                                   verbose=0), rtol=1e-6)
    expected = metrics.accuracy(predict, Data.x_test, Data.y_test)
    assert row["test_accuracy"] == pytest.approx(expected)
    assert row["accuracy_shift_0"] == pytest.approx(expected)
    assert row["generalization_gap"] == pytest.approx(0.0)
    assert set(row) == {"train_accuracy", "train_loss", "test_accuracy", "test_loss",
                        "generalization_gap", "shift_consistency", "accuracy_shift_0",
                        "accuracy_shift_1", "accuracy_shift_2", "accuracy_axis_shift_0",
                        "accuracy_axis_shift_1", "accuracy_axis_shift_2"}
    assert row["accuracy_axis_shift_0"] == row["accuracy_shift_0"]


def test_signals_shift_along_their_one_axis():
    x = np.arange(2 * 5 * 1, dtype=float).reshape(2, 5, 1) + 1
    moved = metrics.shift(x, [2, -1])
    np.testing.assert_array_equal(moved[0, :, 0], [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(moved[1, :, 0], [7, 8, 9, 10, 0])
    with pytest.raises(ValueError, match="dx must be 0"):
        metrics.shift(x, 1, 1)


def _position_predictor(axis):
    """Predicts class 1 iff the single bright pixel sits at its original place on `axis`."""
    def predict(x):
        x = np.asarray(x)
        where = np.argmax(x.reshape(len(x), -1), axis=1)
        coords = np.unravel_index(where, x.shape[1:-1])
        hit = coords[axis] == 3
        return np.stack([~hit, hit], axis=1).astype(float)
    return predict


def test_axis_shifts_move_one_axis_and_diagonal_shifts_both():
    x = np.zeros((1, 7, 7, 1))
    x[0, 3, 3, 0] = 1.0
    y = np.array([1])
    rows_fixed = _position_predictor(0)  # right iff the row did not move
    # along one axis: half of the four moves keep the row -> 0.5; diagonal moves never do
    assert metrics.accuracy_under_shift(rows_fixed, x, y, 2, along="axis") == [1.0, 0.5, 0.5]
    assert metrics.accuracy_under_shift(rows_fixed, x, y, 2) == [1.0, 0.0, 0.0]
    signal = np.zeros((1, 7, 1))
    signal[0, 3, 0] = 1.0
    assert metrics.accuracy_under_shift(_position_predictor(0), signal, y, 1) == [1.0, 0.0]


def test_shift_consistency_on_signals_uses_random_shifts_along_the_signal():
    x = np.random.default_rng(1).random((50, 12, 1))
    # a predictor that reads the position of the maximum: shifts change it
    def predict(x):
        return np.eye(12)[np.argmax(np.asarray(x)[..., 0], axis=1)]
    value = metrics.shift_consistency(predict, x, 2, pairs=3, seed=0)
    assert 0.1 < value < 0.5  # two draws from 5 shifts agree ~1/5 of the time (plus crops)
