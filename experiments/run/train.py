"""Fitting one model: seeds, the distribution strategy, compile and fit.

A sweep's runs (``experiments.sweeps.sweep``) and the trials of ``tune``
(``experiments.tuning.tuner``) train through `fit`, which seeds every RNG first
(`set_seed`), builds the model (``experiments.run.models``) in the scope of
``train.distribution`` (`strategy_scope`) and compiles it (`compile_model`, which
the yardstick uses too). With ``train.deterministic`` a run is bit-repeatable on
one machine.

Within a process, a run reuses the compiled model of an earlier run with the
same variant and settings (``train.distribution = "none"``): the new seed's
initial weights are built as before and copied in, the optimizer state is
reset to its initial values, and Keras's traced train and test functions are
kept, so the run gives the bits a new model gives
(``tests/experiments/test_model_reuse.py``) without tracing again (~1 s a run
on the digits CNN).
A builder whose model changes with the seed gets a new compiled model. Up to
16 compiled models are kept, the least recently used dropped first;
`release_models` drops them all.

Resuming a sweep is per run (``experiments.sweeps.sweep``): a run is short, so a
killed sweep loses at most the run in flight and no in-run checkpoint is kept.
"""

import collections
import contextlib
import dataclasses
import functools
import time

import keras
import tensorflow as tf

from ..errors import ConfigError
from . import models
from .runtime import fit_verbose


@dataclasses.dataclass(frozen=True, eq=False)
class Fitted:
    """A trained model and how it got there.

    Attributes:
        model: the trained model (with the best epoch's weights under early
            stopping).
        history: "loss", "accuracy" and, with a validation set, "val_loss",
            "val_accuracy": one value per epoch (per history point with
            ``train.steps``).
        epochs: the epochs (history points) trained.
        seconds: wall-clock time of ``model.fit``.
        best_epoch: the epoch whose weights are kept (1-based).
        hit_budget: whether the budget, not early stopping, ended training
            (the run may not have converged).
    """

    model: keras.Model
    history: dict
    epochs: int
    seconds: float
    best_epoch: int = 0
    hit_budget: bool = False


def set_seed(seed, deterministic=True):
    """Seed every RNG the harness uses; optionally make TensorFlow ops deterministic.

    Seeds Python, NumPy and TensorFlow (``keras.utils.set_random_seed``) and, if
    `deterministic`, turns on TensorFlow's op determinism, so a run is
    bit-repeatable. Op determinism is process-wide and stays on; under it Keras
    runs without XLA.
    """
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def strategy_scope(name):
    """The scope models are built and compiled in for `train.distribution = name`.

    "none": a scope that does nothing; "mirrored": the scope of a
    ``tf.distribute.MirroredStrategy()`` over all local devices, one per process,
    created on first use.

    Raises:
        ValueError: another `name`.
    """
    if name == "none":
        return contextlib.nullcontext()
    if name == "mirrored":
        return _mirrored().scope()
    raise ValueError(f"Unknown distribution {name!r}; allowed: none, mirrored")


@functools.cache
def _mirrored():
    """One MirroredStrategy per process: a second one would reuse the first one's
    collective-op keys, and its all-reduces would clash with the earlier model's."""
    return tf.distribute.MirroredStrategy()


def compile_model(model, train_cfg):
    """Compile `model` (logits output) for integer labels.

    Adam, or SGD with momentum 0.9, at ``train.learning_rate``; sparse
    cross-entropy on logits; the "accuracy" metric; ``train.jit_compile`` and
    ``train.steps_per_execution`` as set.
    """
    if train_cfg.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(train_cfg.learning_rate, momentum=0.9)
    else:
        optimizer = keras.optimizers.Adam(train_cfg.learning_rate)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=train_cfg.jit_compile,
        steps_per_execution=train_cfg.steps_per_execution,
    )


def fit(variant, cfg, data, seed, log_dir=None):
    """Train `variant` of `cfg` on `data` from the initial weights fixed by `seed`.

    Builds (inside the strategy scope, or reuses: see the module docstring),
    compiles and fits the model. With ``train.patience = k``, training stops
    once ``train.monitor`` (validation loss, or validation accuracy) has not
    improved for k epochs and the best epoch's weights are restored
    (``train.epochs`` is then the budget). With ``train.augment_shift = k``
    every training example is shifted at random by up to k steps per axis,
    afresh each epoch. With ``train.steps = n`` the budget is n optimizer steps
    over the repeated training set, recorded in "epochs" of
    ``train.eval_every`` steps (`budget`). Progress is a bar on a terminal,
    else one line per epoch.

    Args:
        variant: the `experiments.config.Variant` to build.
        cfg: the experiment's `Config`.
        data: the run's data (``experiments.run.data.load``).
        seed: seeds every RNG; the same seed gives every variant the same
            initial weights.
        log_dir: where a ``keras.callbacks.TensorBoard`` writes with
            ``train.tensorboard = true`` (default ``tensorboard``).

    Returns:
        A `Fitted`.

    Raises:
        ConfigError: ``train.steps`` is not a multiple of the steps per history
            point.
    """
    set_seed(seed, cfg.train.deterministic)
    with strategy_scope(cfg.train.distribution):
        model = _compiled_model(variant, cfg, data, seed)
    batch, monitor = cfg.train.batch_size, cfg.train.monitor
    validation = data.pipeline("val", batch) if len(data.x_val) else None
    callbacks = []
    early_stopping = bool(cfg.train.patience) and validation is not None
    if early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, patience=cfg.train.patience, restore_best_weights=True))
    if cfg.train.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(log_dir or "tensorboard")))
    epochs, steps_per_epoch = budget(cfg.train, len(data.x_train))
    train_data = data.pipeline("train", batch, seed=seed, augment_shift=cfg.train.augment_shift,
                               repeat=steps_per_epoch is not None)
    start = time.perf_counter()
    history = model.fit(
        train_data, validation_data=validation, callbacks=callbacks,
        epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=fit_verbose(cfg.train.verbose),
        shuffle=False,  # data pre-shuffled
    )
    seconds = time.perf_counter() - start
    curves = {k: [float(v) for v in values] for k, values in history.history.items()}
    trained = len(curves["loss"])
    best = trained
    if early_stopping:
        values = curves[monitor]
        pick = max if monitor == "val_accuracy" else min
        best = values.index(pick(values)) + 1  # the first best, as EarlyStopping keeps
    stopped_early = early_stopping and trained - best >= cfg.train.patience
    return Fitted(model, curves, trained, seconds, best_epoch=best,
                  hit_budget=trained == epochs and not stopped_early)


_KEPT = collections.OrderedDict()  # settings -> (compiled model, initial optimizer values)
_KEEP = 16  # models kept per process, the least recently used dropped first


def _compiled_model(variant, cfg, data, seed):
    """A compiled model of `variant` holding `seed`'s initial weights: a kept one if any."""
    model = models.from_config(variant, cfg.model, data.input_shape, data.num_classes, seed)
    if cfg.train.distribution != "none":
        compile_model(model, cfg.train)
        return model
    key = repr((variant, cfg.model, cfg.train, data.input_shape, data.num_classes,
                keras.config.dtype_policy().name))
    kept = _KEPT.get(key)
    layout = [(v.shape, v.dtype) for v in model.variables]
    if kept is None or [(v.shape, v.dtype) for v in kept[0].variables] != layout:
        # the first of its settings, or a builder's model that changes with the seed
        compile_model(model, cfg.train)
        model.optimizer.build(model.trainable_variables)
        _KEPT[key] = model, [v.numpy() for v in model.optimizer.variables]
        _KEPT.move_to_end(key)
        while len(_KEPT) > _KEEP:
            _KEPT.popitem(last=False)
        return model
    _KEPT.move_to_end(key)
    kept, optimizer_values = kept
    for target, value in zip(kept.variables, model.variables):
        target.assign(value)
    for target, value in zip(kept.optimizer.variables, optimizer_values):
        target.assign(value)
    return kept


def release_models():
    """Drop the compiled models kept for reuse (see the module docstring)."""
    _KEPT.clear()


def budget(train_cfg, n_train):
    """(epochs, steps_per_epoch) for `model.fit`: `train.epochs` passes over the data, or,
    with `train.steps`, that many optimizer steps in "epochs" of `train.eval_every` steps
    (default: one pass) over the repeated data.

    Raises:
        ConfigError: ``train.steps`` is not a multiple of that chunk.
    """
    if not train_cfg.steps:
        return train_cfg.epochs, None
    per_pass = -(-n_train // train_cfg.batch_size)
    chunk = min(train_cfg.eval_every or per_pass, train_cfg.steps)
    if train_cfg.steps % chunk:
        raise ConfigError(f"train.steps: {train_cfg.steps} is not a multiple of the "
                          f"{chunk} steps per history point (train.eval_every or one pass of "
                          f"{n_train} examples); choose a multiple")
    return train_cfg.steps // chunk, chunk
