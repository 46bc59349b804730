"""Data: the fixed digits split, preprocessing, tf.data pipelines, TFDS via mock data, offline failure."""

import os
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments import config, data
from experiments.config import ConfigError


def _cfg(**fields):
    return config.DataConfig(**fields)


def test_digits_split_is_fixed_stratified_and_real():
    x_train, y_train, x_test, y_test = data.digits()
    assert x_train.shape == (1347, 8, 8) and x_test.shape == (450, 8, 8)
    assert x_train.max() == 16 and x_train.min() == 0
    per_class = np.bincount(y_train) + np.bincount(y_test)
    assert np.all(np.abs(np.bincount(y_test) - 0.25 * per_class) <= 1)  # stratified
    again = data.digits()
    assert np.array_equal(x_train, again[0]) and np.array_equal(y_test, again[3])


def test_load_scales_splits_and_keeps_the_test_set():
    d = data.load(_cfg())
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (1212, 135, 450)
    assert d.input_shape == (8, 8, 1) and d.num_classes == 10
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int32
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    # Validation and training images are disjoint draws from the training split.
    x_train, *_ = data.digits()
    assert len(d.x_train) + len(d.x_val) == len(x_train)


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
    with pytest.raises(data.DataUnavailable) as info:
        data.load(_cfg(dataset="mnist", data_dir=str(tmp_path)))
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert isinstance(info.value, ConfigError)
    assert str(tmp_path) in message and "download_and_prepare" in message
    assert "data.data_dir" in message and "\n" not in message
