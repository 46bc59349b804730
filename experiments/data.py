"""Images for the experiments: the embedded sklearn digits, or a prepared TFDS copy.

Public API
----------
``load(cfg: config.DataConfig) -> Data``
    The train / validation / test arrays, scaled, resized and subset as the
    config says. Raises ``DataUnavailable`` (a ``ConfigError``) within a
    second or two when a TFDS dataset is not prepared under the data folder:
    nothing is downloaded unless ``data.download = true``.
``Data``
    Frozen dataclass: ``name``, ``num_classes``, ``x_train, y_train, x_val,
    y_val, x_test, y_test`` (float32 NHWC images, int32 labels),
    ``input_shape``, and ``pipeline(split, batch_size, seed=None)`` ->
    cached, batched, prefetched ``tf.data.Dataset`` of ``(x, y)``; a seed
    shuffles (use it for "train").
``digits() -> (x_train, y_train, x_test, y_test)``
    The fixed digits split: sklearn's 1,797 real 8x8 images (values 0..16),
    stratified 75/25 with ``random_state=0``: 1,347 train, 450 test images.

Preparation, in order: scale to [0, 1] (``/ 16`` for digits, ``/ 255`` for
TFDS); resize to ``image_size`` (bilinear, antialiased) if set; add a zero
border of ``pad`` pixels (room to shift a digit without cropping it); draw the
validation images (``validation_split`` of the training split) and then the
first ``train_size`` of the rest, both from a permutation fixed by
``split_seed`` (so every run of a sweep sees the same subset);
``normalize = "standardize"`` then subtracts the training mean and divides by
the training std per channel. With "unit", 0 is black, which is what a
zero-filled shift (``experiments.metrics``) brings in.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from .config import ConfigError

DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0
_DIGITS_MAX = 16.0
_TFDS_MAX = 255.0


class DataUnavailable(ConfigError):
    """A TFDS dataset is not prepared locally and downloading is off."""


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

    def arrays(self, split):
        """`(x, y)` of "train", "val" or "test"."""
        return getattr(self, f"x_{split}"), getattr(self, f"y_{split}")

    def pipeline(self, split, batch_size, seed=None):
        """Batches of `split`, cached and prefetched; shuffled each epoch if `seed` is set."""
        x, y = self.arrays(split)
        ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
        if seed is not None:
            ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def load(cfg):
    """The dataset `cfg.dataset`, prepared as the module docstring says."""
    if cfg.dataset == "digits":
        x_train, y_train, x_test, y_test = digits()
        num_classes, max_value = 10, _DIGITS_MAX
    else:
        (x_train, y_train, x_test, y_test), num_classes = _tfds(cfg)
        max_value = _TFDS_MAX
    x_train, x_test = (_images(x, max_value, cfg.image_size, cfg.pad) for x in (x_train, x_test))
    train, val = _split(len(x_train), cfg)
    arrays = {
        "x_train": x_train[train], "y_train": y_train[train],
        "x_val": x_train[val], "y_val": y_train[val],
        "x_test": x_test, "y_test": y_test,
    }
    if cfg.normalize == "standardize":
        mean = arrays["x_train"].mean(axis=(0, 1, 2))
        std = arrays["x_train"].std(axis=(0, 1, 2)) + 1e-7
        for key in ("x_train", "x_val", "x_test"):
            arrays[key] = (arrays[key] - mean) / std
    arrays = {k: v.astype("int32" if k[0] == "y" else "float32") for k, v in arrays.items()}
    return Data(name=cfg.dataset, num_classes=int(num_classes), **arrays)


def digits():
    """The fixed, stratified split of sklearn's digits (raw values 0..16)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        bunch.images, bunch.target, test_size=DIGITS_TEST_FRACTION,
        random_state=DIGITS_SPLIT_SEED, stratify=bunch.target,
    )
    return x_train, y_train, x_test, y_test


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
    """Float32 NHWC images in [0, 1], resized to `size` x `size` if set, then zero-padded."""
    x = np.asarray(x, dtype="float32") / max_value
    if x.ndim == 3:
        x = x[..., None]
    if size and x.shape[1:3] != (size, size):
        x = tf.image.resize(x, (size, size), method="bilinear", antialias=True).numpy()
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    return x


def _split(n, cfg):
    """Indices of the training subset and of the validation images, from `n` train images."""
    order = np.random.default_rng(cfg.split_seed).permutation(n)
    n_val = round(cfg.validation_split * n)
    val, rest = order[:n_val], order[n_val:]
    if cfg.train_size > len(rest):
        raise ConfigError(
            f"data.train_size: {cfg.train_size} is more than the {len(rest)} training images "
            f"left after validation; allowed: 0 (all) to {len(rest)}"
        )
    return (rest[: cfg.train_size] if cfg.train_size else rest), val
