"""Bad input is rejected the same way by every command that trains (issue 27).

Each case (unreadable or malformed data, a builder that cannot be imported,
raises or returns a wrong model, an unknown application, a variant the family
cannot express, a bad TFDS name) runs in each mode: the one-process sweep
(``run --jobs 1``), ``run --jobs 2`` (the chief, before it starts workers),
the chief and a worker of a distributed sweep (keras-tuner's variables), and
``tune`` (local, and its chief). Every one must exit 2 with one ``error:``
line naming the culprit, no traceback, and nothing written in ``--out``. All
fail in ``sweep.preflight`` (or the config check), before TensorFlow trains
anything, so they run in this process through ``experiments.__main__.main``;
one real process checks the issue's own example end to end.
"""

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from experiments import __main__ as cli
from experiments.config import to_toml
from tests.experiments.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
WRONG_SHAPE = """import keras

def build(input_shape, num_classes, *, pooling, head, seed):
    inputs = keras.Input(input_shape)
    x = head()(pooling(pool_size=2)(keras.layers.Conv2D(4, 3, padding="same")(inputs)))
    return keras.Model(inputs, keras.layers.Dense(num_classes + 2)(x))
"""
RAISING = """def build(input_shape, num_classes, *, pooling, head, seed):
    raise RuntimeError("this net needs 224x224 inputs")
"""
GOOD = WRONG_SHAPE.replace("num_classes + 2", "num_classes")


def _digits(per_class=20, classes=3):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    keep = np.concatenate([np.flatnonzero(bunch.target == c)[:per_class] for c in range(classes)])
    return np.round(bunch.images[keep] * (255 / 16)).astype(np.uint8), bunch.target[keep]


def _png(image):
    buf = io.BytesIO()
    Image.fromarray(image, "L").save(buf, "PNG")
    return buf.getvalue()


def _folder(root, images, labels):
    for i, (image, label) in enumerate(zip(images, labels)):
        (root / f"class_{label}").mkdir(parents=True, exist_ok=True)
        (root / f"class_{label}" / f"{i:04d}.png").write_bytes(_png(image))
    return root


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Every bad (and one good) data file and builder, written once."""
    root = tmp_path_factory.mktemp("inputs")
    x, y = _digits()
    np.savez(root / "good.npz", x_train=x, y_train=y)
    (root / "garbage.npz").write_bytes(b"not a zip archive at all")
    np.savez(root / "float_labels.npz", x_train=x, y_train=y.astype("float64"))
    np.savez(root / "negative.npz", x_train=x, y_train=np.where(np.arange(len(y)) == 7, -1, y))
    np.savez(root / "gap.npz", x_train=x, y_train=np.where(y == 2, 5, y))
    np.savez(root / "lengths.npz", x_train=x, y_train=y[:-1])
    nan = x.astype("float32") / 255
    nan[7, 3, 3] = np.nan
    np.savez(root / "nan.npz", x_train=nan, y_train=y)
    inf = x.astype("float32") / 255
    inf[42, 0, 0] = np.inf
    np.savez(root / "inf.npz", x_train=x[:40], y_train=y[:40], x_test=inf[40:], y_test=y[40:])
    np.savez(root / "one_class.npz", x_train=x, y_train=np.zeros_like(y))
    np.savez(root / "unseen.npz", x_train=x[:40], y_train=y[:40] % 2, x_test=x[40:],
             y_test=y[40:])  # train has classes 0, 1; test 0, 1, 2
    _folder(root / "not_image", x, y)
    (root / "not_image" / "class_1" / "notes.png").write_text("not a picture")
    _folder(root / "truncated", x, y)
    data = _png(x[25])
    (root / "truncated" / "class_1" / "0025.png").write_bytes(data[: len(data) // 2])
    _folder(root / "empty_class", x, y)
    for f in (root / "empty_class" / "class_2").iterdir():
        f.unlink()
    _folder(root / "mixed", x, y)
    (root / "mixed" / "class_0" / "0000.png").write_bytes(_png(np.zeros((10, 10), np.uint8)))
    _folder(root / "split" / "train", x, y % 2)
    _folder(root / "split" / "test", x, y)  # test/class_2 has no train/ folder
    for name, text in [("wrong_shape", WRONG_SHAPE), ("raising", RAISING), ("good_net", GOOD)]:
        (root / f"bad_input_{name}.py").write_text(text)
    return root


def _npz(name, **data):
    return {"dataset": "npz", "path": f"{name}.npz", **data}


def _folder_data(name, **data):
    return {"dataset": "folder", "path": name, **data}


def _custom(module):
    return {"family": "custom", "builder": f"{module}:build"}


_APP = {"family": "application", "application": "MobileNetV2"}

# name: (data, model, variant poolings, fragments of the one error line)
CASES = {
    # item 2: whatever the one-process sweep rejects up front
    "unreadable npz": (_npz("garbage"), {}, ["max"],
                       ["data.path:", "garbage.npz is not a readable .npz file"]),
    "unprepared TFDS": ({"dataset": "mnist", "data_dir": "no_tfds_here"}, {}, ["max"],
                        ["data.dataset: 'mnist' is not prepared", "download_and_prepare"]),
    "bad TFDS name": ({"dataset": "digitz"}, {}, ["max"],
                      ["data.dataset: unknown value 'digitz'"]),
    "builder not importable": (_npz("good"), {"family": "custom", "builder": "nosuchmod:build"},
                               ["max"], ["model.builder: cannot import 'nosuchmod'",
                                         "No module named 'nosuchmod'"]),
    "builder without the function": (_npz("good"), _custom("bad_input_good_net")
                                     | {"builder": "bad_input_good_net:make"}, ["max"],
                                     ["'bad_input_good_net' has no function 'make'"]),
    "builder returns a wrong model": (_npz("good"), _custom("bad_input_wrong_shape"), ["max"],
                                      [("model.builder: bad_input_wrong_shape:build outputs "
                                       "(None, 5); expected logits of shape (None, 3)")]),
    "builder raises": (_npz("good"), _custom("bad_input_raising"), ["max"],
                       ["model.builder: bad_input_raising:build raised RuntimeError",
                        "this net needs 224x224 inputs"]),
    "unknown application": (_npz("good"), {"family": "application", "application": "ResNet9k"},
                            ["max"], [("model.application: unknown keras.applications model "
                                      "'ResNet9k'")]),
    "stride in a custom family": (_npz("good"), _custom("bad_input_good_net"), ["stride"],
                                  ["family 'custom' cannot express 'stride'"]),
    "application without max pooling": (_npz("good", image_size=32), _APP, ["avg"],
                                         ["model.application 'MobileNetV2' with pooling 'avg'",
                                          "matches no layer", "nothing to swap"]),
    "images too small for the poolings": (_npz("good"), {"filters": [4, 4, 4, 4]}, ["max"],
                                          ["variant 'max", ("the cnn model cannot be built for "
                                           "inputs (8, 8, 1)"), "output size would be zero"]),
    # item 3: bad data in the user's own files
    "not an image": (_folder_data("not_image"), {}, ["max"],
                     ["data.path:", "class_1/notes.png is not a readable image"]),
    "truncated image": (_folder_data("truncated"), {}, ["max"],
                        ["data.path:", "class_1/0025.png is truncated or corrupt"]),
    "empty class folder": (_folder_data("empty_class"), {}, ["max"],
                           ["data.path: class folder", "class_2 holds no image files"]),
    "mixed image sizes": (_folder_data("mixed"), {}, ["max"],
                          ["data.path: images of different sizes", "10x10", "8x8",
                           "set data.image_size"]),
    "absurd image_size": (_folder_data("mixed", image_size=100000), {}, ["max"],
                          ["data.image_size: 100000 is out of range; allowed: [0, 4096]"]),
    "float labels": (_npz("float_labels"), {}, ["max"],
                     [("float_labels.npz: y_train must hold integer class labels 0..K-1; "
                      "got dtype float64")]),
    "negative label": (_npz("negative"), {}, ["max"],
                       ["negative.npz: y_train holds label -1 (at index 7)"]),
    "labels with a gap": (_npz("gap"), {}, ["max"],
                          ["gap.npz: y_train must number the classes 0..K-1",
                           "labels 0..5 but none of 2, 3, 4"]),
    "x and y lengths differ": (_npz("lengths"), {}, ["max"],
                               ["lengths.npz: x_train has 60 examples but y_train has 59"]),
    "NaN values": (_npz("nan"), {}, ["max"],
                   [("nan.npz: x_train holds NaN or infinite values (in 1 of 60 examples, the "
                    "first at index 7)")]),
    "infinite test values": (_npz("inf"), {}, ["max"],
                             ["inf.npz: x_test holds NaN or infinite values"]),
    "one class": (_npz("one_class"), {}, ["max"],
                  ["one_class.npz: y_train has fewer than two classes (only 0)"]),
    "test class the training split lacks": (_npz("unseen"), {}, ["max"],
                                            [("unseen.npz: the test split has classes the "
                                             "training split lacks: 2 (20 test examples)")]),
    "test folder with a class train/ lacks": (_folder_data("split"), {}, ["max"],
                                              ["split/test has classes", "lacks: class_2"]),
}
# what `tune` says instead, where its search space words it differently
TUNE_FRAGMENTS = {"stride in a custom family": ["tune.space.pooling[0]: unknown value 'stride'"]}
MODES = {  # name: (command, keras-tuner's KERASTUNER_TUNER_ID or None)
    "run --jobs 1": (["run", "--jobs", "1"], None),
    "run --jobs 2": (["run", "--jobs", "2"], None),
    "run chief": (["run"], "chief"),
    "run worker": (["run"], "tuner0"),
    "tune": (["tune"], None),
    "tune chief": (["tune"], "chief"),
}


def _config(folder, case, tune):
    data, model, kinds, _ = CASES[case]
    raw = {"data": {"validation_split": 0.2, **data}, "model": {"filters": [4, 8], **model},
           "train": {"epochs": 1, "verbose": 0}, "eval": {"max_shift": 1, "consistency_pairs": 1}}
    if tune:
        raw["tune"] = {"max_trials": 1, "space": {"pooling": kinds, "head": ["global_avg"]}}
    else:
        raw.update(seeds=[0, 1], variants=[{"pooling": k} for k in kinds])
    path = folder / f"{'tune' if tune else 'run'}_{case.replace(' ', '_').replace('/', '')}.toml"
    path.write_text(to_toml(raw), encoding="utf-8")
    return path


def _assert_rejected(code, err, out, fragments):
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "Traceback" not in err and lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(files, tmp_path, capsys,
                                                            monkeypatch, case, mode):
    command, role = MODES[mode]
    config = _config(files, case, command[0] == "tune")
    for name in ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        monkeypatch.delenv(name, raising=False)
    if role:  # nothing listens there: a check that passed would hang, not pass
        monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
        monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(free_port()))
        monkeypatch.setenv("KERASTUNER_TUNER_ID", role)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    try:
        code = cli.main([command[0], str(config), "--out", str(out), *command[1:]])
    except SystemExit as e:
        code = e.code
    fragments = CASES[case][3]
    if command[0] == "tune":
        fragments = TUNE_FRAGMENTS.get(case, fragments)
    _assert_rejected(code, capsys.readouterr().err, out, fragments)


@pytest.mark.parametrize("jobs", [[], ["--jobs", "2"]])
def test_the_issues_example_in_a_real_process(files, tmp_path, jobs):
    """`builder = "nosuchmod:build"` with the default --jobs auto (2 runs: a chief and 2
    workers on a 2-core machine) and with --jobs 2: no worker starts."""
    config, out = _config(files, "builder not importable", False), tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "experiments", "run", str(config), "--out", str(out), *jobs],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    _assert_rejected(result.returncode, result.stderr, out, CASES["builder not importable"][3])
    assert "tuner" not in result.stdout


def test_an_image_size_too_large_for_memory_is_rejected_before_resizing(files, monkeypatch):
    from experiments import config
    from experiments.errors import ConfigError
    from experiments.run import data

    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 2**18}  # a 1 GiB machine
    monkeypatch.setattr(data.os, "sysconf", pages.__getitem__)
    cfg = config.DataConfig(dataset="npz", path=str(files / "good.npz"), image_size=4000)
    with pytest.raises(ConfigError, match=r"^data.image_size: 4000 makes the 60 images 4 GiB "
                       r"as float32, more than this machine's 1 GiB of memory"):
        data.load(cfg)
