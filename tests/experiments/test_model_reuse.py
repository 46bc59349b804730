"""A run that reuses the compiled model of an earlier run (experiments.train) gives the
record a new model gives: same weights, same scores, bit for bit."""

import pytest

from experiments import config
from experiments.run import data as data_lib
from experiments.run import train
from experiments.sweeps import sweep


def _records(cfg, data, runs, reuse):
    """The records of `runs` ((variant, seed) pairs) in order, with or without reuse."""
    train.release_models()
    records, models = [], []
    for variant, seed in runs:
        if not reuse:
            train.release_models()
        record = sweep.one_run(cfg, variant, seed, 0, data, "unused")
        record.pop("train_seconds")
        records.append(record)
        models.append(train._KEPT[next(reversed(train._KEPT))][0])
    train.release_models()
    return records, models


@pytest.mark.parametrize("family, variants", [
    ("cnn", [{"pooling": "max"}, {"pooling": "stochastic"}, {"pooling": "maxblur"}]),
    ("resnet", [{"pooling": "antialias"}]),  # batch norm: moving statistics are reset too
])
def test_a_reused_model_gives_the_records_of_a_new_one(tiny_raw, family, variants):
    tiny_raw["variants"] = variants
    tiny_raw["train"].update(epochs=2, patience=1)
    if family == "resnet":
        tiny_raw["model"] = {"family": "resnet", "filters": [4, 8], "blocks": 1}
    cfg = config.parse(tiny_raw)
    data = data_lib.load(cfg.data, seed=0)
    runs = [(v, seed) for seed in (0, 1) for v in cfg.variants]
    reused, reused_models = _records(cfg, data, runs, reuse=True)
    fresh, fresh_models = _records(cfg, data, runs, reuse=False)
    assert reused == fresh
    n = len(cfg.variants)
    # the second seed reused the first seed's models; without reuse, each run built its own
    assert all(a is b for a, b in zip(reused_models[:n], reused_models[n:]))
    assert not any(a is b for a, b in zip(fresh_models[:n], fresh_models[n:]))


def test_kept_models_are_bounded(tiny_raw, monkeypatch):
    monkeypatch.setattr(train, "_KEEP", 2)
    tiny_raw["variants"] = [{"pooling": p} for p in ("max", "avg", "min")]
    cfg = config.parse(tiny_raw)
    data = data_lib.load(cfg.data, seed=0)
    for variant in cfg.variants:
        train.fit(variant, cfg, data, seed=0)
    assert len(train._KEPT) == 2
    train.release_models()
    assert not train._KEPT


def test_a_builder_whose_model_changes_with_the_seed_gets_a_new_model(tiny_raw, tmp_path,
                                                                      write_config):
    (tmp_path / "by_seed.py").write_text(
        "import keras\n"
        "def build(input_shape, num_classes, *, pooling, head, seed):\n"
        "    width = 4 + seed\n"
        "    return keras.Sequential([keras.Input(input_shape),\n"
        "        keras.layers.Conv2D(width, 3), pooling(pool_size=2), keras.layers.Flatten(),\n"
        "        keras.layers.Dense(num_classes)])\n", encoding="utf-8")
    tiny_raw["model"] = {"family": "custom", "builder": "by_seed:build"}
    tiny_raw["variants"] = [{"pooling": "max"}]
    cfg = config.load(write_config(tiny_raw))
    data = data_lib.load(cfg.data, seed=0)
    train.release_models()
    first = train.fit(cfg.variants[0], cfg, data, seed=0).model
    second = train.fit(cfg.variants[0], cfg, data, seed=1).model
    assert second is not first and second.layers[0].filters == 5
    assert train.fit(cfg.variants[0], cfg, data, seed=1).model is second
    train.release_models()
