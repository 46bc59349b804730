"""Fitting one model: seeds, the distribution strategy, compile and fit.

Public API
----------
``set_seed(seed, deterministic=True)``
    Seeds Python, NumPy and TensorFlow (``keras.utils.set_random_seed``) and,
    if `deterministic`, turns on TensorFlow's op determinism, so a run is
    bit-repeatable. (Op determinism is process-wide and stays on; under it
    Keras runs without XLA.)
``strategy_scope(name)``
    Context manager: "none" does nothing, "mirrored" enters the scope of a
    ``tf.distribute.MirroredStrategy()`` over all local devices (one per
    process, created on first use).
``compile_model(model, train_cfg)``
    Optimizer, sparse cross-entropy on logits, "accuracy".
``fit(variant, cfg, data, seed, log_dir=None) -> Fitted``
    Build (inside the strategy scope), compile and fit one variant;
    ``Fitted(model, history, epochs, seconds)`` where history maps
    "loss", "accuracy", "val_loss", "val_accuracy" to per-epoch lists.
    With ``train.tensorboard = true`` a ``keras.callbacks.TensorBoard`` writes
    into `log_dir`. Progress is a bar on a terminal, else one line per epoch.

Resuming a sweep is per run (``experiments.sweep``): a run is short, so a
killed sweep loses at most the run in flight and no in-run checkpoint is kept.
"""

import contextlib
import dataclasses
import functools
import time

import keras
import tensorflow as tf

from . import models
from .runtime import fit_verbose


@dataclasses.dataclass(frozen=True, eq=False)
class Fitted:
    """A trained model and how it got there."""

    model: keras.Model
    history: dict
    epochs: int
    seconds: float


def set_seed(seed, deterministic=True):
    """Seed every RNG the harness uses; optionally make TensorFlow ops deterministic."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def strategy_scope(name):
    """The scope models are built and compiled in for `train.distribution = name`."""
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
    """Compile `model` (logits output) for integer labels."""
    if train_cfg.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(train_cfg.learning_rate, momentum=0.9)
    else:
        optimizer = keras.optimizers.Adam(train_cfg.learning_rate)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=train_cfg.jit_compile,
    )


def fit(variant, cfg, data, seed, log_dir=None):
    """Train `variant` of `cfg` on `data` from the initial weights fixed by `seed`."""
    set_seed(seed, cfg.train.deterministic)
    with strategy_scope(cfg.train.distribution):
        model = models.from_config(variant, cfg.model, data.input_shape, data.num_classes, seed)
        compile_model(model, cfg.train)
    batch = cfg.train.batch_size
    validation = data.pipeline("val", batch) if len(data.x_val) else None
    callbacks = []
    if cfg.train.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(log_dir or "tensorboard")))
    start = time.perf_counter()
    history = model.fit(
        data.pipeline("train", batch, seed=seed), validation_data=validation,
        epochs=cfg.train.epochs, verbose=fit_verbose(cfg.train.verbose),
        shuffle=False, callbacks=callbacks,  # data pre-shuffled
    )
    seconds = time.perf_counter() - start
    curves = {k: [float(v) for v in values] for k, values in history.history.items()}
    return Fitted(model, curves, cfg.train.epochs, seconds)
