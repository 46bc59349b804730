"""Config validation: defaults, round trip, and one readable error per kind of mistake."""

import dataclasses
from pathlib import Path

import pytest

from experiments import config
from experiments.config import ConfigError, to_toml
from keras_pool import registry

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_empty_config_gets_documented_defaults():
    cfg = config.parse({})
    assert cfg.seeds == (0, 1, 2)
    assert cfg.data.dataset == "digits"
    assert [v.label for v in cfg.variants] == list(registry.POOLINGS)
    assert cfg.baseline_label == "max"


def test_round_trip_through_to_dict(tiny_raw):
    tiny_raw["variants"].append({"pooling": "lp", "p": 3, "head": "global_lp"})
    cfg = config.parse(tiny_raw)
    assert config.parse(cfg.to_dict()) == cfg
    assert cfg.variants[2].p == 3.0 and isinstance(cfg.variants[2].p, float)


def test_config_is_frozen():
    cfg = config.parse({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.epochs = 3


@pytest.mark.parametrize("raw, expected", [
    ({"seedz": [0]}, "seedz: unknown key; allowed: seeds, baseline, data"),
    ({"train": {"epoch": 3}}, "train.epoch: unknown key; allowed: epochs, batch_size"),
    ({"train": {"epochs": "ten"}}, "train.epochs: expected an integer, got 'ten' (string)"),
    ({"train": {"epochs": True}}, "train.epochs: expected an integer, got True (boolean)"),
    ({"train": {"epochs": 0}}, "train.epochs: 0 is out of range; allowed: >= 1"),
    ({"data": {"validation_split": 0.8}}, "data.validation_split: 0.8 is out of range; allowed: [0.0, 0.5]"),
    ({"data": {"dataset": "imagenet"}}, "data.dataset: unknown value 'imagenet'; allowed: digits, mnist1d, mnist5k, folder, npz, mnist, fashion_mnist, cifar10, cifar100, svhn_cropped, or a TFDS image-classification name"),
    ({"data": {"train_size": [100, 100]}}, "data.train_size: expected distinct sizes, got [100, 100]"),
    ({"data": {"train_size": [100, -1]}}, "data.train_size[1]: -1 is out of range; allowed: >= 0"),
    ({"data": {"split_seed": "seeds"}}, "data.split_seed: unknown value 'seeds'; allowed: an integer or 'seed'"),
    ({"data": {"pad": "wide"}}, "data.pad: unknown value 'wide'; allowed: an integer or 'auto'"),
    ({"data": {"mnist1d": {"num_samples": 5}}}, "data.mnist1d.num_samples: 5 is out of range; allowed: >= 20"),
    ({"data": {"mnist1d": {"samples": 5}}}, "data.mnist1d.samples: unknown key; allowed: num_samples"),
    ({"data": {"validation_split": 0.0}, "train": {"patience": 3}}, "train.patience: early stopping needs data.validation_split > 0"),
    ({"train": {"augment_shift": -1}}, "train.augment_shift: -1 is out of range; allowed: >= 0"),
    ({"findings": [{"name": "x", "a": "max", "b": "mx"}]}, "findings[0].b: unknown variant 'mx'; allowed: max, avg"),
    ({"findings": [{"name": "x", "a": "max", "b": "avg", "metric": "acc"}]}, "findings[0].metric: unknown value 'acc'; allowed: test_accuracy"),
    ({"findings": [{"name": "x", "a": "max", "b": "avg", "direction": "up"}]}, "findings[0].direction: unknown value 'up'; allowed: greater, less"),
    ({"findings": [{"name": "x", "a": "max", "b": "avg", "train_size": 7}]}, "findings[0].train_size: 7 is not one of data.train_size [0]"),
    ({"findings": [{"a": "max", "b": "avg"}]}, "findings[0].name: give the claim a name"),
    ({"findings": [{"name": "x", "a": "max", "b": "avg", "why": "?"}]}, "findings[0].why: unknown key; allowed: name, a, b, metric"),
    ({"data": 3}, "data: expected a table, got 3 (integer)"),
    ({"model": {"filters": []}}, "model.filters: expected a non-empty list of integers"),
    ({"model": {"filters": [8, "x"]}}, "model.filters[1]: expected an integer, got 'x' (string)"),
    ({"variants": [{"pooling": "mx"}]}, "variants[0].pooling: unknown value 'mx'; allowed: max, avg, min, lp, stochastic"),
    ({"variants": [{"pooling": "max", "head": "gap"}]}, "variants[0].head: unknown value 'gap'; allowed: flatten, global_max, global_avg, global_min, global_lp, global_stochastic"),
    ({"variants": [{"pooling": "max", "p": 3.0}]}, "variants[0].p: only used by pooling 'lp' or head 'global_lp'"),
    ({"variants": [{"pooling": "lp", "p": 0.5}]}, "variants[0].p: 0.5 is out of range; allowed: >= 1.0"),
    ({"variants": [{"pooling": "max"}, {"pooling": "max"}]}, "variants[1]: duplicate variant 'max'"),
    ({"variants": []}, "variants: expected a non-empty array of tables"),
    ({"variants": [{"pooling": "max", "name": "a b"}]}, "variants[0].name: 'a b' may only use"),
    ({"baseline": "avg", "variants": [{"pooling": "max"}]}, "baseline: unknown variant 'avg'; allowed: max"),
    ({"seeds": [1, 1]}, "seeds: expected distinct integers"),
    ({"train": {"jit_compile": True}}, "train.jit_compile: true needs train.deterministic = false"),
    ({"train": {"distribution": "tpu"}}, "train.distribution: unknown value 'tpu'; allowed: none, mirrored"),
])
def test_bad_values_name_the_key_and_the_allowed_values(raw, expected):
    with pytest.raises(ConfigError) as info:
        config.parse(raw, source="x.toml")
    message = str(info.value)
    assert message.startswith(f"x.toml: {expected}")
    assert "\n" not in message


def test_load_reads_toml_and_reports_file_problems(tmp_path, tiny_raw):
    path = tmp_path / "ok.toml"
    path.write_text(to_toml(tiny_raw))
    assert [v.label for v in config.load(path).variants] == ["max", "avg"]
    with pytest.raises(ConfigError, match="missing.toml: config file not found"):
        config.load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seeds = [0,\n")
    with pytest.raises(ConfigError, match="bad.toml: invalid TOML"):
        config.load(bad)


def test_labels_encode_head_and_lp_options():
    cfg = config.parse({"variants": [
        {"pooling": "lp", "p": 3.0},
        {"pooling": "max", "head": "global_avg"},
        {"pooling": "lp", "p": 2.5, "normalize": True, "head": "global_lp"},
        {"pooling": "stochastic", "name": "mine"},
    ]})
    assert [v.label for v in cfg.variants] == [
        "lp-p3", "max+global_avg", "lp+global_lp-p2.5-norm", "mine"]
    assert cfg.variants[2].lp_options == {"p": 2.5, "normalize": True}
    assert cfg.baseline_label is None


def test_from_mapping_validates_other_sections():
    @dataclasses.dataclass(frozen=True)
    class Tune:
        trials: int = config.option(4, low=1)
        objective: str = config.option("val_accuracy", choices=("val_accuracy", "val_loss"))

    assert config.from_mapping(Tune, {"trials": 9}, "tune") == Tune(trials=9)
    with pytest.raises(ConfigError, match=r"tune.objective: unknown value 'acc'; allowed: val_accuracy, val_loss"):
        config.from_mapping(Tune, {"objective": "acc"}, "tune")


EXPERIMENT_CONFIGS = ["digits", "mnist1d", "mnist5k", "mnist", "fashion_mnist", "cifar10"]


def load_shipped(name):
    """A shipped config, parsed whole: every variant and finding it lists."""
    return config.parse(config.read_toml(CONFIGS / f"{name}.toml"), source=name)


@pytest.mark.parametrize("name", EXPERIMENT_CONFIGS)
def test_shipped_configs_are_valid_converge_and_have_baselines_seeds_and_findings(name):
    cfg = load_shipped(name)
    # the default job trades a seed for the whole pooling family in its 5 minutes
    assert len(cfg.seeds) >= (4 if name == "digits" else 5)
    assert cfg.train.patience > 0 and cfg.data.validation_split > 0  # early stopping
    assert cfg.baseline_label == "max"
    labels = {v.label for v in cfg.variants}
    assert {"max", "stochastic", "none", "stride"} <= labels
    assert name == "digits" or {"avg", "lp-p3"} <= labels
    assert cfg.findings and all(f.source for f in cfg.findings)


@pytest.mark.parametrize("name", ["mnist1d", "mnist5k"])
def test_embedded_studies_have_every_pooling_and_the_maxblur_claim(name):
    raw = config.read_toml(CONFIGS / f"{name}.toml")
    poolings = {v["pooling"] for v in raw["variants"]}
    # fractional pooling has a study of its own design (configs/fractional*.toml: more stages)
    assert set(registry.POOLINGS) - {"fractional"} | {"maxblur", "none", "stride"} <= poolings
    assert {"fractional", "max", "stochastic"} <= {
        v["pooling"][-1] for v in config.read_toml(CONFIGS / "fractional.toml")["variants"]}
    claims = {(f["a"], f["b"], f["metric"], f["direction"]) for f in raw["findings"]}
    assert ("maxblur", "max", "shift_consistency", "greater") in claims
    assert ("stochastic", "max", "generalization_gap", "less") in claims
    cfg = load_shipped(name)
    assert cfg.data.split_seed == "seed"


def test_mnist1d_config_has_regimes_from_1000_to_4000():
    cfg = load_shipped("mnist1d")
    assert cfg.data.dataset == "mnist1d" and len(cfg.model.filters) == 2
    assert min(cfg.data.train_sizes) == 1000 and max(cfg.data.train_sizes) >= 4000
    assert any(f.train_size == 1000 for f in cfg.findings)


def test_default_digits_config_has_a_global_head_and_a_border_no_shift_clips():
    cfg = load_shipped("digits")
    assert {"flatten", "global_max"} <= {v.head or config.DEFAULT_HEADS["cnn"]
                                         for v in cfg.variants}
    assert {"none", "stride"} <= {v.pooling_label for v in cfg.variants}
    assert {"global_max", "global_avg"} <= {v.head for v in load_shipped("mnist5k").variants}
    assert cfg.data.dataset == "digits"
    assert cfg.data.pad == config.border(cfg.model, cfg.eval.max_shift) > cfg.eval.max_shift


def test_pooling_may_name_one_kind_per_conv_stage():
    cfg = config.parse({"variants": [{"pooling": ["max", "lp"], "p": 3.0}]})
    assert cfg.variants[0].kinds == ("max", "lp") and cfg.variants[0].label == "max-lp-p3"
    assert config.parse(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match=r"variants\[0\].pooling: 3 kinds for 2 conv stages"):
        config.parse({"variants": [{"pooling": ["max", "avg", "min"]}]})
    with pytest.raises(ConfigError, match=r"variants\[0\].pooling\[1\]: unknown value 'mx'"):
        config.parse({"variants": [{"pooling": ["max", "mx"]}]})


def test_regimes_split_seed_auto_pad_findings_and_mnist1d_round_trip(tiny_raw):
    tiny_raw["data"].update(train_size=[100, 200], split_seed="seed", pad="auto",
                            mnist1d={"num_samples": 600})
    tiny_raw["train"].update(patience=3, augment_shift=2)
    tiny_raw["eval"]["max_shift"] = 3
    tiny_raw["findings"] = [{"name": "max beats avg", "a": "max", "b": "avg",
                             "train_size": 100, "source": "folklore"}]
    cfg = config.parse(tiny_raw)
    assert cfg.data.train_sizes == (100, 200) and cfg.data.split_seed == "seed"
    # filters [4, 8], kernel 3, pool 2: the footprint grows 1*(1+1) + 2*(1+1) = 6 steps
    assert cfg.data.pad == 3 + 6 == config.border(cfg.model, 3)
    assert cfg.data.mnist1d.num_samples == 600 and cfg.data.mnist1d.final_seq_length == 40
    assert cfg.findings[0].direction == "greater" and cfg.findings[0].metric == "test_accuracy"
    assert config.parse(cfg.to_dict()) == cfg
    assert config.parse({"data": {"train_size": 50}}).data.train_sizes == (50,)


def test_baseline_variants_none_and_stride_are_accepted():
    cfg = config.parse({"variants": [{"pooling": "none"}, {"pooling": "stride"},
                                     {"pooling": ["max", "none"]}]})
    assert [v.label for v in cfg.variants] == ["none", "stride", "max-none"]


def test_to_toml_writes_nested_tables_that_parse_back(tiny_raw):
    from experiments._compat import tomllib

    tiny_raw["data"]["mnist1d"] = {"num_samples": 600, "padding": [30, 50]}
    tiny_raw["findings"] = [{"name": "x", "a": "max", "b": "avg"}]
    cfg = config.parse(tiny_raw)
    text = to_toml(cfg.to_dict())
    assert "\n[data.mnist1d]\nnum_samples = 600\n" in text and "[[findings]]" in text
    assert config.parse(tomllib.loads(text)) == cfg


def test_benchmark_and_resnet_studies_parse_with_their_designs():
    bench = load_shipped("mnist1d_benchmark")
    assert (bench.train.steps, bench.train.batch_size, bench.train.learning_rate) == (6000, 100, 0.01)
    assert bench.data.validation_split == 0 and bench.train.patience == 0 and bench.data.pad == 0
    assert bench.data.train_sizes == (1000, 2000) and len(bench.seeds) >= 5
    assert [v.label for v in bench.variants] == ["none", "stride", "max", "avg", "lp-p2"]
    assert any(f.versus_size == 2000 for f in bench.findings)
    resnet = load_shipped("resnet_antialias")
    assert resnet.model.family == "resnet" and resnet.baseline_label == "stride"
    assert {"stride", "antialias", "max", "maxblur"} <= {v.label for v in resnet.variants}
    assert len(resnet.seeds) >= 5 and all(f.source for f in resnet.findings)
