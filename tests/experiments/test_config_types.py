"""Config values are strictly typed: booleans are booleans, numbers are not strings
or booleans, sizes and counts are integers. A wrong type exits 2 naming key and value."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import config
from experiments.config import ConfigError, to_toml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw, expected", [
    # booleans must be TOML booleans
    ({"train": {"deterministic": "false"}},
     "train.deterministic: expected true or false, got 'false' (string)"),
    ({"train": {"jit_compile": 0}}, "train.jit_compile: expected true or false, got 0 (integer)"),
    ({"train": {"tensorboard": "yes"}},
     "train.tensorboard: expected true or false, got 'yes' (string)"),
    ({"data": {"download": 1}}, "data.download: expected true or false, got 1 (integer)"),
    ({"variants": [{"pooling": "lp", "normalize": 1}]},
     "variants[0].normalize: expected true or false, got 1 (integer)"),
    ({"variants": [{"pooling": "lp", "trainable_p": "true"}]},
     "variants[0].trainable_p: expected true or false, got 'true' (string)"),
    # numbers are not strings or booleans
    ({"train": {"learning_rate": "0.001"}},
     "train.learning_rate: expected a number, got '0.001' (string)"),
    ({"train": {"learning_rate": True}}, "train.learning_rate: expected a number, got True (boolean)"),
    ({"data": {"validation_split": False}},
     "data.validation_split: expected a number, got False (boolean)"),
    ({"model": {"dropout": "0.5"}}, "model.dropout: expected a number, got '0.5' (string)"),
    ({"variants": [{"pooling": "lp", "p": "3"}]}, "variants[0].p: expected a number, got '3' (string)"),
    ({"variants": [{"pooling": "lp", "p": True}]}, "variants[0].p: expected a number, got True (boolean)"),
    # sizes and counts are integers
    ({"train": {"batch_size": 64.0}}, "train.batch_size: expected an integer, got 64.0 (number)"),
    ({"train": {"epochs": "10"}}, "train.epochs: expected an integer, got '10' (string)"),
    ({"data": {"image_size": 16.5}}, "data.image_size: expected an integer, got 16.5 (number)"),
    ({"data": {"train_size": True}}, "data.train_size: expected an integer, got True (boolean)"),
    ({"model": {"filters": [16, 32.0]}}, "model.filters[1]: expected an integer, got 32.0 (number)"),
    ({"model": {"pool_size": "2"}}, "model.pool_size: expected an integer, got '2' (string)"),
    ({"eval": {"max_shift": 2.0}}, "eval.max_shift: expected an integer, got 2.0 (number)"),
    ({"seeds": [0, True]}, "seeds[1]: expected an integer, got True (boolean)"),
    ({"train": {"verbose": True}}, "train.verbose: expected an integer, got True (boolean)"),
    # strings are strings
    ({"data": {"dataset": 3}}, "data.dataset: expected a string, got 3 (integer)"),
])
def test_wrong_types_name_the_key_and_value(raw, expected):
    with pytest.raises(ConfigError) as info:
        config.parse(raw)
    assert str(info.value) == f"config: {expected}"


def test_integers_are_accepted_where_numbers_are_expected():
    cfg = config.parse({"train": {"learning_rate": 1}, "variants": [{"pooling": "lp", "p": 3}]})
    assert cfg.train.learning_rate == 1.0 and isinstance(cfg.train.learning_rate, float)
    assert cfg.variants[0].p == 3.0 and isinstance(cfg.variants[0].p, float)


@pytest.mark.parametrize("tune, expected", [
    ("max_trials = 2.5", "tune.max_trials: expected an integer, got 2.5 (number)"),
    ("lost_after = true", "tune.lost_after: expected a number, got True (boolean)"),
    ("seed = \"0\"", "tune.seed: expected an integer, got '0' (string)"),
])
def test_tune_section_types(tmp_path, tune, expected):
    search_space = pytest.importorskip("experiments.tuning.search_space")
    from tests.experiments.conftest import tune_toml

    path = tmp_path / "t.toml"
    path.write_text(tune_toml(tune=tune), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        search_space.load(path)
    assert str(info.value) == f"{path}: {expected}"


@pytest.mark.parametrize("space, expected", [
    ("per_stage = \"yes\"", "tune.space.per_stage: expected true or false, got 'yes' (string)"),
    ("trainable_p = [0, 1]", "tune.space.trainable_p[0]: expected true or false, got 0 (integer)"),
    ("pool_size = [2, 3.0]", "tune.space.pool_size[1]: expected an integer, got 3.0 (number)"),
    ("p = [1, \"8\"]", "tune.space.p[1]: expected a number, got '8' (string)"),
])
def test_tune_space_types(tmp_path, space, expected):
    search_space = pytest.importorskip("experiments.tuning.search_space")
    from tests.experiments.conftest import tune_toml

    path = tmp_path / "t.toml"
    path.write_text(tune_toml(space=space), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        search_space.load(path)
    assert str(info.value) == f"{path}: {expected}"


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                    reason="the harness runs on TensorFlow")
def test_wrong_type_exits_2_with_one_line_in_a_real_process(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(to_toml({"train": {"deterministic": "no"}}), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "experiments", "run", str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: train.deterministic: expected true or false, got 'no' (string)"]
