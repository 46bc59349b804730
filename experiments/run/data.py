"""The examples of one run, prepared: ``load`` reads the configured source (a loader of
``experiments.run.sources.SOURCES``: an embedded set, the user's folder or .npz, or a TFDS
set) and prepares its train/test record the same way for every source, into a frozen
``Data`` whose ``pipeline`` gives the batched ``tf.data.Dataset`` that training and
evaluation read.

Preparation, in order: scale to [0, 1] (divide by the source's ``max_value``: 16 for
digits, 255 for MNIST-5k, folders and TFDS; MNIST-1D signals are kept as generated,
roughly in [-5, 5]; an .npz's uint8 arrays come already scaled); give every example a
channel axis; resize images to ``image_size`` (bilinear, antialiased) if set; add a zero
border of ``pad`` steps on every side of every spatial axis (room to shift without
cropping); draw the validation examples (``validation_split`` of the training split) and
then the first ``train_size`` of the rest, both from a permutation fixed by the split seed
(so the regimes of one seed are nested: a smaller training set is a prefix of a larger
one); ``normalize = "standardize"`` then subtracts the training mean and divides by the
training std per channel. With "unit", 0 is black, which is what a zero-filled shift
(``experiments.run.metrics``) brings in.

In a process with one TensorFlow thread (``runtime.one_thread``, as ``run`` sets) the
pipeline has no prefetch thread and no autotuning and runs on one thread: handing each
batch between threads made the max CNN's epoch 15-30% slower with two such processes on
two cores, and 2x slower with each pinned to a core. The batches are the same either way.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from ..errors import ConfigError
from . import runtime, sources


@dataclasses.dataclass(frozen=True, eq=False)
class Data:
    """Prepared arrays of one dataset, plus tf.data pipelines over them."""

    name: str
    num_classes: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def input_shape(self):
        return tuple(self.x_train.shape[1:])

    @property
    def rank(self):
        """Spatial rank: 1 for signals, 2 for images."""
        return self.x_train.ndim - 2

    def arrays(self, split):
        """`(x, y)` of "train", "val" or "test"."""
        return getattr(self, f"x_{split}"), getattr(self, f"y_{split}")

    def pipeline(self, split, batch_size, seed=None, augment_shift=0, repeat=False):
        """Batches of `split`, cached and prefetched; shuffled each epoch if `seed` is set;
        with `repeat`, endless (reshuffled on every pass)."""
        x, y = self.arrays(split)
        ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
        if seed is not None:
            ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        if augment_shift:
            ds = _augment(ds, augment_shift, 0 if seed is None else seed)
        ds = ds.batch(batch_size)
        if runtime.one_thread():
            return ds.with_options(_one_thread_options())
        return ds.prefetch(tf.data.AUTOTUNE)


def _one_thread_options():
    """tf.data options of a one-thread process: no autotuning, one private thread."""
    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1
    return options


def _augment(ds, k, seed):
    """Each example moved by a random shift in [-k, k] per spatial axis (zero fill)."""
    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def move(example, key):
        x, y = example
        spatial = len(x.shape) - 1
        padded = tf.pad(x, [[k, k]] * spatial + [[0, 0]])
        return tf.image.stateless_random_crop(padded, tf.shape(x), seed=key), y

    return tf.data.Dataset.zip((ds, keys)).map(move, num_parallel_calls=tf.data.AUTOTUNE)


def load(cfg, train_size=None, seed=None):
    """The dataset `cfg.dataset`, scaled, resized, padded, split and subset as the config says.

    Args:
        cfg: the config's `DataConfig` (`[data]`).
        train_size: one regime of `cfg.train_sizes` (default: the first).
        seed: the run's seed, used where `split_seed = "seed"`.

    Returns:
        A frozen `Data`: `x_train`, `y_train`, `x_val`, `y_val`, `x_test`, `y_test`
        (float32 channels-last images (N, H, W, C) or signals (N, L, C); int32
        labels), `num_classes`, `input_shape`, `rank`, and `pipeline(split,
        batch_size, seed=None, augment_shift=0)` for a batched `tf.data.Dataset`.

    Raises:
        DataUnavailable: a TFDS set not prepared under the data folder, or an
            embedded set's package not installed (a `ConfigError`).
        ConfigError: the user's folder or .npz file is missing or malformed.
    """
    split_seed = _split_seed(cfg, seed)
    raw = sources.source(cfg.dataset)(cfg, split_seed)
    check_labels(cfg, raw)
    _check_size(cfg, raw)
    x_train, x_test = (_images(x, raw.max_value, cfg.image_size, cfg.pad, raw.channels)
                       for x in (raw.x_train, raw.x_test))
    size = cfg.train_sizes[0] if train_size is None else train_size
    train, val = _split(len(x_train), cfg, size, split_seed)
    arrays = {
        "x_train": x_train[train], "y_train": raw.y_train[train],
        "x_val": x_train[val], "y_val": raw.y_train[val],
        "x_test": x_test, "y_test": raw.y_test,
    }
    if cfg.normalize == "standardize":
        axes = tuple(range(arrays["x_train"].ndim - 1))
        mean = arrays["x_train"].mean(axis=axes)
        std = arrays["x_train"].std(axis=axes) + 1e-7
        for key in ("x_train", "x_val", "x_test"):
            arrays[key] = (arrays[key] - mean) / std
    arrays = {k: v.astype("int32" if k[0] == "y" else "float32") for k, v in arrays.items()}
    return Data(name=cfg.dataset, num_classes=int(raw.num_classes), **arrays)


def check_labels(cfg, raw):
    """ConfigError unless `raw` (a ``sources.Split``) has labels 0..num_classes-1, at least
    two classes to train on, and no test class that training lacks (it could never be
    predicted, and scoring it would only lower the accuracy)."""
    where = (f"data.path: {cfg.path}:" if cfg.dataset in ("folder", "npz")
             else f"data.dataset {cfg.dataset!r}:")
    y = np.asarray(raw.y_train)
    if len(y) and (y.min() < 0 or y.max() >= raw.num_classes):
        raise ConfigError(f"{where} training labels run {y.min()}..{y.max()}, outside the "
                          f"{raw.num_classes} classes 0..{raw.num_classes - 1}")
    trained = np.unique(raw.y_train)
    if len(trained) < 2:
        raise ConfigError(f"{where} the training split has one class only "
                          f"({', '.join(map(str, trained))}); a classifier needs two")
    unseen = np.setdiff1d(np.unique(raw.y_test), trained)
    if len(unseen):
        count = int(np.isin(raw.y_test, unseen).sum())
        raise ConfigError(f"{where} the test split has classes the training split lacks: "
                          f"{', '.join(map(str, unseen[:10]))}"
                          f"{' ...' if len(unseen) > 10 else ''} ({count} test examples); "
                          f"they could never be predicted: give the training split examples "
                          f"of every class")


def _check_size(cfg, raw):
    """ConfigError if resizing to ``image_size`` would need more memory than the machine has."""
    x = raw.x_train
    if not cfg.image_size or x.ndim < (3 if not raw.channels else 4):
        return
    channels = x.shape[-1] if raw.channels else 1
    needed = (len(x) + len(raw.x_test)) * (cfg.image_size + 2 * _pad(cfg)) ** 2 * channels * 4
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if needed > memory:
        count = len(x) + len(raw.x_test)
        raise ConfigError(f"data.image_size: {cfg.image_size} makes the {count} "
                          f"images {needed / 2**30:.0f} GiB as float32, more than this "
                          f"machine's {memory / 2**30:.0f} GiB of memory; choose a smaller size")


def _pad(cfg):
    return cfg.pad if isinstance(cfg.pad, int) else 0


def _split_seed(cfg, seed):
    if cfg.split_seed != "seed":
        return cfg.split_seed
    if seed is None:
        raise ValueError('data.split_seed = "seed" needs the run seed')
    return seed


def _images(x, max_value, size, pad, channels=False):
    """Float32 channels-last examples scaled by `max_value`; images resized to `size` if set;
    every spatial axis zero-padded by `pad`. (N, L) arrays are signals, (N, H, W[, C]) images;
    with `channels`, the last axis is already the channels ((N, L, C) signals)."""
    x = np.asarray(x, dtype="float32") / max_value
    if x.ndim in (2, 3) and not channels:
        x = x[..., None]  # one channel: (N, L, 1) or (N, H, W, 1)
    if size and x.ndim == 4 and x.shape[1:3] != (size, size):
        x = tf.image.resize(x, (size, size), method="bilinear", antialias=True).numpy()
    if pad:
        x = np.pad(x, [(0, 0)] + [(pad, pad)] * (x.ndim - 2) + [(0, 0)])
    return x


def _split(n, cfg, train_size, split_seed):
    """Indices of the training subset and of the validation examples, from `n` train examples."""
    order = np.random.default_rng(split_seed).permutation(n)
    n_val = round(cfg.validation_split * n)
    val, rest = order[:n_val], order[n_val:]
    if train_size > len(rest):
        raise ConfigError(
            f"data.train_size: {train_size} is more than the {len(rest)} training examples "
            f"left after validation; allowed: 0 (all) to {len(rest)}"
        )
    return (rest[:train_size] if train_size else rest), val
