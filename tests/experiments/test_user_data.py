"""The user's own data: a folder of images, an .npz file, any TFDS image set.

Every file is written by the test from the embedded digits (real data), so the
loaded pixels can be checked against the originals."""

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from experiments import __main__ as cli
from experiments import config
from experiments.config import ConfigError
from experiments.run import data, sources


def _digits(per_class=20, classes=3):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    keep = np.concatenate([np.flatnonzero(bunch.target == c)[:per_class] for c in range(classes)])
    images = np.round(bunch.images[keep] * (255 / 16)).astype(np.uint8)
    return images, bunch.target[keep]


def _write_folder(root, images, labels, rgb=False):
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        picture = Image.fromarray(image, "L")
        (picture.convert("RGB") if rgb else picture).save(folder / f"{i:04d}.png")


def _cfg(**data_kwargs):
    return config.DataConfig(**{"validation_split": 0.0, **data_kwargs})


def test_folder_is_read_exactly_and_split_stratified(tmp_path):
    images, labels = _digits()
    _write_folder(tmp_path / "digits", images, labels)
    d = data.load(_cfg(dataset="folder", path=str(tmp_path / "digits"), test_split=0.25))
    assert d.num_classes == 3 and d.input_shape == (8, 8, 1)
    assert (len(d.x_train), len(d.x_test)) == (45, 15)
    assert np.all(np.bincount(d.y_test) == 5)  # stratified
    loaded = np.concatenate([d.x_train, d.x_test])[..., 0]
    originals = {(int(y), image.tobytes()) for image, y in zip(images, labels)}
    got = {(int(y), np.round(x * 255).astype(np.uint8).tobytes())
           for x, y in zip(loaded, np.concatenate([d.y_train, d.y_test]))}
    assert got == originals  # every pixel, every label: PNG is lossless
    other = data.load(_cfg(dataset="folder", path=str(tmp_path / "digits"), split_seed=1,
                           test_split=0.25))
    assert not np.array_equal(other.x_test, d.x_test)


def test_folder_with_train_and_test_subfolders_rgb_and_resize(tmp_path):
    images, labels = _digits(per_class=10)
    _write_folder(tmp_path / "set" / "train", images[::2], labels[::2], rgb=True)
    _write_folder(tmp_path / "set" / "test", images[1::2], labels[1::2], rgb=True)
    d = data.load(_cfg(dataset="folder", path=str(tmp_path / "set"), image_size=16))
    assert d.input_shape == (16, 16, 3) and d.num_classes == 3
    assert (len(d.x_train), len(d.x_test)) == (15, 15)
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0


def test_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        data.load(_cfg(dataset="folder", path=str(tmp_path / "missing")))
    images, labels = _digits(per_class=4, classes=1)
    _write_folder(tmp_path / "one", images, labels)
    with pytest.raises(ConfigError, match="one subfolder of images per class; found 1"):
        data.load(_cfg(dataset="folder", path=str(tmp_path / "one")))
    with pytest.raises(ConfigError, match="data.path: dataset 'folder' needs"):
        config.parse({"data": {"dataset": "folder"}})


def test_npz_images_with_and_without_a_test_set(tmp_path):
    images, labels = _digits()
    np.savez(tmp_path / "a.npz", x_train=images, y_train=labels)
    d = data.load(_cfg(dataset="npz", path=str(tmp_path / "a.npz")))
    assert d.input_shape == (8, 8, 1) and d.num_classes == 3 and len(d.x_test) == 12
    assert d.x_train.max() == 1.0  # uint8 scaled by 255
    np.savez(tmp_path / "b.npz", x_train=images[::2], y_train=labels[::2],
             x_test=images[1::2].astype("float32") / 255, y_test=labels[1::2])
    d = data.load(_cfg(dataset="npz", path=str(tmp_path / "b.npz")))
    np.testing.assert_allclose(d.x_test[..., 0], images[1::2] / 255, rtol=1e-6)


def test_npz_signals(tmp_path):
    images, labels = _digits()
    signals = images.reshape(len(images), 64).astype("float32")
    np.savez(tmp_path / "s.npz", x_train=signals, y_train=labels)
    assert data.load(_cfg(dataset="npz", path=str(tmp_path / "s.npz"))).input_shape == (64, 1)
    np.savez(tmp_path / "c.npz", x_train=images.astype("float32"), y_train=labels)  # (N, L, C)
    d = data.load(_cfg(dataset="npz", path=str(tmp_path / "c.npz"), layout="signals"))
    assert d.input_shape == (8, 8) and d.rank == 1


def test_npz_errors(tmp_path):
    images, labels = _digits()
    np.savez(tmp_path / "x.npz", images=images, labels=labels)
    with pytest.raises(ConfigError, match="needs arrays x_train and y_train.*images, labels"):
        data.load(_cfg(dataset="npz", path=str(tmp_path / "x.npz")))
    np.savez(tmp_path / "one.npz", x_train=images, y_train=np.zeros(len(images), int))
    with pytest.raises(ConfigError, match="fewer than two classes"):
        data.load(_cfg(dataset="npz", path=str(tmp_path / "one.npz")))
    with pytest.raises(ConfigError, match="not found"):
        data.load(_cfg(dataset="npz", path=str(tmp_path / "nope.npz")))


def test_relative_path_is_relative_to_the_config_file(tmp_path, monkeypatch):
    images, labels = _digits()
    (tmp_path / "study").mkdir()
    np.savez(tmp_path / "study" / "mine.npz", x_train=images, y_train=labels)
    (tmp_path / "study" / "c.toml").write_text('[data]\ndataset = "npz"\npath = "mine.npz"\n')
    monkeypatch.chdir(tmp_path)
    cfg = config.load(tmp_path / "study" / "c.toml")
    assert cfg.data.path == str(tmp_path / "study" / "mine.npz")
    assert data.load(cfg.data).num_classes == 3


def _prepared_metadata(root, name):
    builder = tfds.builder(name, data_dir=str(root))
    os.makedirs(builder.data_path, exist_ok=True)
    builder.info.write_to_directory(builder.data_path)


@pytest.mark.parametrize("name, size, classes, test", [
    ("rock_paper_scissors", 0, 3, 20),  # not among the named sets; label count from its info
    ("tf_flowers", 24, 5, 20),  # images of varying size, resized
])
def test_any_tfds_image_set_by_name(tmp_path, name, size, classes, test):
    _prepared_metadata(tmp_path, name)
    cfg = _cfg(dataset=name, data_dir=str(tmp_path), image_size=size)
    with tfds.testing.mock_data(num_examples=20, data_dir=str(tmp_path)):
        d = data.load(cfg)
    assert d.num_classes == classes and d.input_shape[-1] == 3 and len(d.x_test) == test
    if size:
        assert d.input_shape == (size, size, 3)


def test_a_tfds_set_without_a_test_split_is_split_from_train():
    class Info:
        name = "tf_flowers"
        splits = {"train": object()}

    assert sources.tfds_splits(Info) == ("train",)
    Info.splits = {"train": 1, "test": 2, "validation": 3}
    assert sources.tfds_splits(Info) == ("train", "test")
    Info.splits = {"validation": 1}
    with pytest.raises(ConfigError, match="no 'train' split"):
        sources.tfds_splits(Info)


def test_unknown_tfds_name_and_variable_sizes_without_image_size(tmp_path):
    with pytest.raises(ConfigError, match="unknown dataset 'digitz'.*digits"):
        data.load(_cfg(dataset="digitz"))
    _prepared_metadata(tmp_path, "tf_flowers")
    with tfds.testing.mock_data(num_examples=10, data_dir=str(tmp_path)):
        with pytest.raises(ConfigError, match="data.image_size"):
            data.load(_cfg(dataset="tf_flowers", data_dir=str(tmp_path)))


def _run(tmp_path, toml):
    """`python -m experiments run` of the config `toml` (beside its data); results.csv."""
    (tmp_path / "c.toml").write_text(toml)
    assert cli.main(["run", str(tmp_path / "c.toml"), "--out", str(tmp_path / "out"),
                     "--jobs", "1"]) == 0
    return (tmp_path / "out" / "results.csv").read_text()


@pytest.mark.slow
def test_a_folder_runs_end_to_end_from_the_command_line(tmp_path):
    images, labels = _digits(per_class=30)
    _write_folder(tmp_path / "imgs", images, labels)
    text = _run(tmp_path,
                'seeds = [0]\n[data]\ndataset = "folder"\npath = "imgs"\nimage_size = 16\n'
                '[model]\nfilters = [4, 8]\n[train]\nepochs = 1\nverbose = 0\n'
                '[eval]\nmax_shift = 1\nconsistency_pairs = 1\n'
                '[[variants]]\npooling = "max"\n[[variants]]\npooling = "antialias"\n')
    assert "folder" in text and "antialias" in text


@pytest.mark.slow
def test_an_npz_runs_end_to_end_from_the_command_line(tmp_path):
    images, labels = _digits(per_class=30)
    np.savez(tmp_path / "mine.npz", x_train=images, y_train=labels)
    rows = _run(tmp_path,
                'seeds = [0]\n[data]\ndataset = "npz"\npath = "mine.npz"\npad = 2\n'
                '[model]\nfamily = "vgg"\nfilters = [4, 8]\nconvs_per_stage = 1\n'
                '[train]\nepochs = 1\nverbose = 0\n[eval]\nmax_shift = 2\n'
                'consistency_pairs = 1\n'
                '[[variants]]\npooling = "stride"\n[[variants]]\npooling = "lp"\np = 3.0\n'
                ).splitlines()
    assert len(rows) == 3 and all(r.startswith("npz,") for r in rows[1:])
