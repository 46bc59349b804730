"""Training budgets and stopping rules: train.steps / eval_every, steps_per_execution,
early stopping on validation accuracy, and findings about a margin across sizes."""

import math

import numpy as np
import pytest

from experiments import config
from experiments.config import ConfigError
from experiments.results import findings
from experiments.run import data as data_lib
from experiments.run import train


def _cfg(tiny_raw, **train_kwargs):
    raw = {**tiny_raw, "train": {**tiny_raw["train"], **train_kwargs}}
    return config.parse(raw)


def test_budget_in_epochs_or_in_steps(tiny_raw):
    assert train.budget(_cfg(tiny_raw, epochs=7).train, 1000) == (7, None)
    steps = _cfg(tiny_raw, steps=6000, eval_every=500, batch_size=100).train
    assert train.budget(steps, 1000) == (12, 500)
    one_pass = _cfg(tiny_raw, steps=60, batch_size=100).train
    assert train.budget(one_pass, 1000) == (6, 10)  # a history point per pass
    with pytest.raises(ConfigError, match="not a multiple"):
        train.budget(_cfg(tiny_raw, steps=65, batch_size=100).train, 1000)
    with pytest.raises(ConfigError, match="eval_every: only used with train.steps"):
        _cfg(tiny_raw, eval_every=5)


def test_steps_run_exactly_that_many_optimizer_updates(tiny_raw):
    tiny_raw["data"]["validation_split"] = 0.0
    cfg = _cfg(tiny_raw, steps=12, eval_every=4, batch_size=64)
    data = data_lib.load(cfg.data)
    fitted = train.fit(cfg.variants[0], cfg, data, seed=0)
    assert int(fitted.model.optimizer.iterations.numpy()) == 12
    assert fitted.epochs == 3 and len(fitted.history["loss"]) == 3


def test_steps_per_execution_changes_speed_not_results(tiny_raw):
    tiny_raw["data"]["validation_split"] = 0.0
    data = data_lib.load(config.parse(tiny_raw).data)
    runs = []
    for spe in (1, 4):
        cfg = _cfg(tiny_raw, steps=8, eval_every=8, batch_size=50, steps_per_execution=spe)
        runs.append(train.fit(cfg.variants[0], cfg, data, seed=3).model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_on_validation_accuracy_keeps_the_most_accurate_epoch(tiny_raw):
    cfg = _cfg(tiny_raw, epochs=6, patience=2, monitor="val_accuracy")
    fitted = train.fit(cfg.variants[0], cfg, data_lib.load(cfg.data), seed=0)
    accuracies = fitted.history["val_accuracy"]
    assert fitted.best_epoch == accuracies.index(max(accuracies)) + 1
    with pytest.raises(ConfigError, match="train.monitor: unknown value 'accuracy'"):
        _cfg(tiny_raw, monitor="accuracy")


def _row(variant, seed, size, accuracy):
    return {"variant": variant, "seed": seed, "train_size": size, "test_accuracy": accuracy}


def test_a_margin_that_shrinks_with_more_data():
    rows = []
    for seed, noise in enumerate((0.0, 0.01, -0.01, 0.02)):
        rows += [_row("max", seed, 1000, 0.78 + noise), _row("none", seed, 1000, 0.59),
                 _row("max", seed, 2000, 0.89 + noise), _row("none", seed, 2000, 0.82)]
    claim = config.Finding(name="shrinks", a="max", b="none", train_size=1000,
                           versus_size=2000)
    (judged,) = findings.judge([claim], rows)
    assert judged["train_size"] == "1000 vs 2000" and judged["n"] == 4
    assert math.isclose(judged["mean"], 0.19 - 0.07) and judged["verdict"] == "supported"
    raw = {"data": {"train_size": [1000, 2000]}, "variants": [{"pooling": "max"}],
           "findings": [{"name": "x", "a": "max", "b": "max", "versus_size": 2000}]}
    with pytest.raises(ConfigError, match="versus_size: needs train_size"):
        config.parse(raw)
