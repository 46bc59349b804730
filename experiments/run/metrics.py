"""What a run is scored on: accuracy, loss, generalization gap, translation invariance.

`evaluate` gives every number of a run's results row; the other functions are
its parts, also used by ``tune`` (shift consistency on the validation set) and
the yardstick. They take a *predict function*: it maps a float channels-last
batch (NumPy; (N, H, W, C) images or (N, L, C) signals) to class scores
``(N, classes)``, of which only the arg-max is used. `predictor` makes one from
a Keras model.

Translation invariance is measured two ways, on inputs moved by `shift` (zero
fill):

- accuracy under shift (`accuracy_under_shift`): the accuracy with every test
  example moved by s = 0 .. ``eval.max_shift``, averaged over the directions
  (diagonal and, for images, along the axes);
- shift consistency (`shift_consistency`), after Zhang (2019), "Making
  Convolutional Networks Shift-Invariant Again": the fraction of examples whose
  predicted class is the same under two independent random shifts (each axis
  uniform in [-max_shift, max_shift]), averaged over ``eval.consistency_pairs``
  draws of the two shifts. A shift-invariant model scores 1.0. Here shifts
  zero-fill (Zhang crops a larger image); ``data.pad`` adds the border that
  keeps a shifted input whole.

Every number of a row comes from one `predictor` per run: accuracy by
arg-max, loss by ``model.compute_loss`` (the compiled loss and any
regularization) over the whole split, as ``model.evaluate`` reports it up to
float32 summation order.

With ``draws`` > 0 (a variant's ``test_draws``), the layers that can draw their
windows at inference (fractional max pooling's ``random_at_inference``) do so
while the run is scored, and every prediction is the mean of the class
probabilities of ``draws`` forward passes (Graham 2014's test-time averaging);
its "logits" are their log, so loss and accuracy follow from the averaged
probabilities. Training and early stopping never see this switch.
"""

import contextlib
import weakref

import numpy as np
import tensorflow as tf

from keras_pool.surgery import leaf_layers

_STEPS = weakref.WeakKeyDictionary()  # (model) -> {draws: its traced inference step}


def shift(x, dy, dx=0):
    """`x` (N, H, W, C) moved by (`dy`, `dx`) pixels per image; vacated pixels are 0.

    Signals (N, L, C) move by `dy` steps along L.

    Args:
        x: the batch.
        dy: rows to move down (negative: up); an int, or one int per example.
        dx: columns to move right (negative: left); as `dy`. 0 for signals.

    Returns:
        A new array of `x`'s shape and dtype.

    Raises:
        ValueError: a nonzero `dx` for signals.
    """
    x = np.asarray(x)
    if x.ndim == 3:
        if np.any(np.asarray(dx) != 0):
            raise ValueError("signals (N, L, C) shift along one axis only; dx must be 0")
        return shift(x[:, :, None, :], dy, 0)[:, :, 0, :]
    n, h, w = x.shape[:3]
    dy = np.broadcast_to(np.asarray(dy, dtype=int), (n,))
    dx = np.broadcast_to(np.asarray(dx, dtype=int), (n,))
    out = np.zeros_like(x)
    for a, b in set(zip(dy.tolist(), dx.tolist())):
        rows, cols = _span(a, h), _span(b, w)
        if rows is None or cols is None:
            continue
        idx = np.nonzero((dy == a) & (dx == b))[0]
        out[idx, rows[0], cols[0]] = x[idx, rows[1], cols[1]]
    return out


def _span(offset, size):
    """(destination slice, source slice) along one axis, or None if all moves out."""
    if abs(offset) >= size:
        return None
    if offset >= 0:
        return slice(offset, size), slice(0, size - offset)
    return slice(0, size + offset), slice(-offset, size)


def predictor(model, batch_size=256, draws=0):
    """A predict function from a Keras model (inference mode), `batch_size` images a step.

    With `draws` > 0 it returns the log of the class probabilities averaged
    over `draws` calls (call it inside `random_windows(model)`).

    One `tf.function` of the model's inference call, traced once and fed NumPy
    batches of one shape (the last one padded with zeros, its padding dropped):
    the shift metrics call it some fifteen times per run, and each
    `model.predict` call would rebuild its data adapter, iterator and callbacks
    (~40 ms) around a few milliseconds of work, and trace (and for XLA-clustered
    poolings, compile) again for every new size of a last batch.
    """
    steps = _STEPS.setdefault(model, {})
    step = steps.get(draws)
    if step is None:  # one per model: a model reused across runs is traced once
        held = weakref.ref(model)  # the step must not keep its model alive
        if draws:
            def averaged(x):
                probs = [tf.nn.softmax(tf.cast(held()(x, training=False), tf.float32))
                         for _ in range(draws)]
                return tf.math.log(tf.maximum(tf.add_n(probs) / draws, 1e-30))
            step = steps[draws] = tf.function(averaged)
        else:
            step = steps[draws] = tf.function(lambda x: held()(x, training=False))

    def predict(x):
        x = np.asarray(x, dtype="float32")
        scores = []
        for start in range(0, len(x), batch_size):
            batch = x[start:start + batch_size]
            n = len(batch)
            if n < batch_size:  # the last batch: zero-padded to the traced shape
                batch = np.concatenate([batch, np.zeros((batch_size - n, *x.shape[1:]), "float32")])
            scores.append(np.asarray(step(tf.constant(batch)))[:n])
        return np.concatenate(scores)
    return predict


def _labels(predict, x):
    return np.argmax(np.asarray(predict(x)), axis=-1)


def accuracy(predict, x, y):
    """Fraction of `x` whose arg-max prediction equals `y`."""
    return float(np.mean(_labels(predict, x) == np.asarray(y)))


def _directions(x, along):
    """Unit (dy, dx) moves: four diagonal or four axis-aligned for images, two for signals."""
    if x.ndim == 3:
        return ((1, 0), (-1, 0))
    if along == "axis":
        return ((1, 0), (-1, 0), (0, 1), (0, -1))
    if along == "diagonal":
        return ((1, 1), (1, -1), (-1, 1), (-1, -1))
    raise ValueError(f"along must be 'diagonal' or 'axis'; got {along!r}")


def accuracy_under_shift(predict, x, y, max_shift, along="diagonal"):
    """Accuracy at shifts 0..`max_shift`, each the mean over the directions of `along`.

    Args:
        predict: a predict function (see the module docstring).
        x: the examples.
        y: their integer labels.
        max_shift: the largest shift.
        along: for images, "diagonal" (the four moves (±s, ±s)) or "axis" (the
            four moves (±s, 0), (0, ±s)); signals move (±s) either way.

    Returns:
        A list whose entry s is the accuracy with every example shifted by s.

    Raises:
        ValueError: another `along`.
    """
    result = [accuracy(predict, x, y)]
    moves = _directions(x, along)
    for s in range(1, max_shift + 1):  # one predict call per shift: every direction at once
        moved = np.concatenate([shift(x, uy * s, ux * s) for uy, ux in moves])
        result.append(accuracy(predict, moved, np.tile(np.asarray(y), len(moves))))
    return result


def shift_consistency(predict, x, max_shift, pairs=5, seed=0):
    """How often two random shifts within ±`max_shift` leave the predicted class unchanged.

    Zhang's consistency (see the module docstring), in [0, 1].

    Args:
        predict: a predict function.
        x: the examples (signals shift along their one axis).
        max_shift: the largest shift per axis.
        pairs: how many pairs of shifts are drawn per example.
        seed: fixes the shifts, so variants with the same seed see the same ones.
    """
    rng = np.random.default_rng(seed)
    agree = []
    for _ in range(pairs):
        dy1, dx1, dy2, dx2 = rng.integers(-max_shift, max_shift + 1, size=(4, len(x)))
        if np.asarray(x).ndim == 3:  # signals: one axis
            dx1 = dx2 = 0
        both = _labels(predict, np.concatenate([shift(x, dy1, dx1), shift(x, dy2, dx2)]))
        first, second = both[: len(x)], both[len(x):]
        agree.append(np.mean(first == second))
    return float(np.mean(agree))


def generalization_gap(train_accuracy, test_accuracy):
    """Train minus test accuracy: how much of the fit does not carry over."""
    return float(train_accuracy - test_accuracy)


@contextlib.contextmanager
def random_windows(model):
    """Within the block, every layer of `model` that can draw its windows at inference
    (fractional max pooling) does; as before afterwards."""
    layers = [layer for layer in leaf_layers(model) if hasattr(layer, "random_at_inference")]
    before = [layer.random_at_inference for layer in layers]
    for layer in layers:
        layer.random_at_inference = True
    try:
        yield layers
    finally:
        for layer, value in zip(layers, before):
            layer.random_at_inference = value


def evaluate(model, data, eval_cfg, seed, draws=0):
    """All the numbers of one run's results row.

    Args:
        model: the trained, compiled model.
        data: the run's data (``experiments.run.data``).
        eval_cfg: the config's `EvalConfig` (``[eval]``).
        seed: fixes the consistency shifts, so variants with the same seed see
            the same shifts.
        draws: 0 scores the model as it is; N > 0 averages its class
            probabilities over N random draws of its windows (see above).

    Returns:
        A dict: ``train_accuracy, train_loss, test_accuracy, test_loss,
        generalization_gap, shift_consistency`` (on the test set),
        ``accuracy_shift_0 .. accuracy_shift_<max_shift>`` (diagonal for images,
        along the signal for signals) and, for images,
        ``accuracy_axis_shift_0 ..`` (along one axis).
    """
    with random_windows(model) if draws else contextlib.nullcontext():
        return _evaluate(model, data, eval_cfg, seed, predictor(model, eval_cfg.batch_size, draws))


def _evaluate(model, data, eval_cfg, seed, predict):
    row = {}
    for split in ("train", "test"):
        x, y = data.arrays(split)
        logits = predict(x)
        row[f"{split}_accuracy"] = float(np.mean(np.argmax(logits, axis=-1) == y))
        # the compiled loss (and any regularization) over the whole split, as model.evaluate
        row[f"{split}_loss"] = float(model.compute_loss(y=y, y_pred=logits, training=False))
    row["generalization_gap"] = generalization_gap(row["train_accuracy"], row["test_accuracy"])
    row["shift_consistency"] = shift_consistency(
        predict, data.x_test, eval_cfg.max_shift, eval_cfg.consistency_pairs, seed
    )
    by_shift = accuracy_under_shift(predict, data.x_test, data.y_test, eval_cfg.max_shift)
    row.update({f"accuracy_shift_{s}": value for s, value in enumerate(by_shift)})
    if data.x_test.ndim == 4:
        by_axis = accuracy_under_shift(predict, data.x_test, data.y_test, eval_cfg.max_shift,
                                       along="axis")
        row.update({f"accuracy_axis_shift_{s}": value for s, value in enumerate(by_axis)})
    return row
