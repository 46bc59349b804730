"""Model families: VGG, ResNet, keras.applications and a user's builder, each with the
variant's pooling where it subsamples, "antialias" for every family, paired weights."""

import textwrap

import keras
import numpy as np
import pytest

import keras_pool
from experiments import config
from experiments.config import ConfigError
from experiments.run import models
from experiments.sweeps import sweep


def _model(family, pooling, input_shape=(16, 16, 1), head="", seed=0, **model_kwargs):
    model_cfg = config.ModelConfig(family=family, **model_kwargs)
    variant = config.Variant(pooling=pooling, head=head)
    return models.from_config(variant, model_cfg, input_shape, 10, seed)


def _types(model):
    return [type(l).__name__ for l in keras_pool.surgery.leaf_layers(model)]


def _conv_weights(model):
    return {l.name: l.get_weights()[0] for l in model.layers
            if isinstance(l, (keras.layers.Conv1D, keras.layers.Conv2D))}


def test_vgg_stages_close_with_the_variant_and_use_pytorch_bn_momentum():
    model = _model("vgg", "lp", filters=(4, 8), convs_per_stage=2)
    types = _types(model)
    assert types.count("Conv2D") == 4 and types.count("LpPooling2D") == 2
    assert types[-2:] == ["Flatten", "Dense"]
    assert all(l.momentum == 0.9 for l in model.layers
               if isinstance(l, keras.layers.BatchNormalization))
    stride = _model("vgg", "stride", filters=(4, 8))
    assert [l.strides for l in stride.layers if isinstance(l, keras.layers.Conv2D)] == [
        (1, 1), (2, 2), (1, 1), (2, 2)]
    assert stride.output_shape == model.output_shape == (None, 10)
    none = _model("vgg", "none", filters=(4, 8))
    assert not any("Pooling" in t for t in _types(none))
    per_stage = _model("vgg", ("max", "soft"), filters=(4, 8))
    assert ["MaxPooling2D", "SoftPooling2D"] == [t for t in _types(per_stage) if "Pooling" in t]


def test_resnet_downsampling_is_the_variant_and_the_head_is_global_average():
    stride = _model("resnet", "stride", filters=(4, 8, 16), blocks=2)
    convs = [l for l in stride.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) == 1 + 3 * 2 * 2 + 2  # stem, 2 convs per block, 2 shortcut convs
    assert sum(c.strides == (2, 2) for c in convs) == 4  # conv1 and shortcut of 2 stages
    assert isinstance(stride.layers[-2], keras.layers.GlobalAveragePooling2D)
    maxed = _model("resnet", "max", filters=(4, 8, 16), blocks=2)
    assert _types(maxed).count("MaxPooling2D") == 4  # main path and shortcut, 2 stages
    assert all(c.strides == (1, 1) for c in maxed.layers if isinstance(c, keras.layers.Conv2D))
    smooth = _model("resnet", "antialias", filters=(4, 8, 16), blocks=2)
    assert _types(smooth).count("BlurPooling2D") == 4
    flat = _model("resnet", "stride", filters=(4, 8), head="global_max")
    assert isinstance(flat.layers[-2], keras.layers.GlobalMaxPooling2D)
    # paired: the same seed gives every variant the same convolution kernels
    for name, kernel in _conv_weights(stride).items():
        np.testing.assert_array_equal(kernel, _conv_weights(maxed)[name])
        np.testing.assert_array_equal(kernel, _conv_weights(smooth)[name])
    other = _conv_weights(_model("resnet", "stride", filters=(4, 8, 16), blocks=2, seed=1))
    assert not np.array_equal(other["stem_conv"], _conv_weights(stride)["stem_conv"])


def test_resnet_on_signals():
    model = _model("resnet", "lp", input_shape=(40, 1), filters=(4, 8))
    assert _types(model).count("LpPooling1D") == 2 and model.output_shape == (None, 10)


def test_application_family_swaps_its_pooling_and_keeps_paired_weights():
    vgg = _model("application", "stride", input_shape=(64, 64, 3), application="VGG16")
    lp = _model("application", "lp", input_shape=(64, 64, 3), application="VGG16")
    assert _types(lp).count("LpPooling2D") == 5 and _types(vgg).count("MaxPooling2D") == 5
    a = {l.name: l.get_weights() for l in keras_pool.surgery.leaf_layers(vgg) if l.weights}
    b = {l.name: l.get_weights() for l in keras_pool.surgery.leaf_layers(lp) if l.weights}
    assert a.keys() == b.keys()
    for name in a:
        for x, y in zip(a[name], b[name]):
            np.testing.assert_array_equal(x, y)
    smooth = _model("application", "antialias", input_shape=(64, 64, 3), application="VGG16")
    assert _types(smooth).count("BlurPooling2D") == 5
    with pytest.raises(ConfigError, match="MobileNetV2.*'lp'.*matches no layer"):
        _model("application", "lp", input_shape=(64, 64, 3), application="MobileNetV2")


@pytest.mark.parametrize("model, match", [
    ({"family": "application"}, "needs a keras.applications name"),
    ({"family": "application", "application": "ResNet51"}, "unknown keras.applications"),
    ({"application": "ResNet50"}, "only used by family 'application'"),
    ({"family": "custom", "builder": "no_colon"}, "module:function"),
])
def test_family_config_errors(model, match):
    with pytest.raises(ConfigError, match=match):
        config.parse({"model": model})


def test_variants_a_family_cannot_express_are_config_errors():
    with pytest.raises(ConfigError, match="cannot express 'none'"):
        config.parse({"model": {"family": "application", "application": "VGG16"},
                      "variants": [{"pooling": "none"}]})
    with pytest.raises(ConfigError, match="cannot express 'stride'"):
        config.parse({"model": {"family": "custom", "builder": "m:f"},
                      "variants": [{"pooling": "stride"}]})
    with pytest.raises(ConfigError, match="one pooling per variant"):
        config.parse({"model": {"family": "custom", "builder": "m:f", "filters": [4, 8]},
                      "variants": [{"pooling": ["max", "lp"]}]})


BUILDER = '''
import keras

def build(input_shape, num_classes, *, pooling, head, seed):
    init = keras.initializers.GlorotUniform(seed)
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", kernel_initializer=init,
                            name="c1")(inputs)
    x = pooling(pool_size=2)(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c2",
                            kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(x)
    x = pooling(pool_size=2, padding="same")(x)
    x = head()(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="out")(x))

def not_a_model(input_shape, num_classes, *, pooling, head, seed):
    return "model"
'''


@pytest.fixture
def builder_dir(tmp_path):
    (tmp_path / "mynet.py").write_text(textwrap.dedent(BUILDER))
    return str(tmp_path)


def test_custom_builder_gets_the_variant(builder_dir):
    def build(pooling, head=""):
        model_cfg = config.ModelConfig(family="custom", builder="mynet:build",
                                       builder_dir=builder_dir)
        return models.from_config(config.Variant(pooling=pooling, head=head), model_cfg,
                                  (16, 16, 1), 10, 0)

    assert _types(build("lp")).count("LpPooling2D") == 2
    assert _types(build("none")).count("Identity") == 2
    assert "GlobalAveragePooling2D" in _types(build("max"))  # the custom default head
    assert "GlobalLpPooling2D" in _types(build("max", head="global_lp"))
    smooth = build("antialias")
    assert _types(smooth).count("BlurPooling2D") == 2
    np.testing.assert_array_equal(smooth.get_layer("c1").get_weights()[0],
                                  build("max").get_layer("c1").get_weights()[0])


def test_custom_builder_errors(builder_dir):
    def build(builder):
        model_cfg = config.ModelConfig(family="custom", builder=builder, builder_dir=builder_dir)
        return models.from_config(config.Variant(pooling="max"), model_cfg, (16, 16, 1), 10, 0)

    with pytest.raises(ConfigError, match="cannot import 'nosuch'"):
        build("nosuch:build")
    with pytest.raises(ConfigError, match="has no function 'nope'"):
        build("mynet:nope")
    with pytest.raises(ConfigError, match="returned str, not a keras.Model"):
        build("mynet:not_a_model")


FAMILY_CONFIGS = {
    "vgg": {"family": "vgg", "filters": [4, 8], "convs_per_stage": 1},
    "resnet": {"family": "resnet", "filters": [4, 8]},
    "custom": {"family": "custom", "builder": "mynet:build"},
}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILY_CONFIGS))
def test_each_family_runs_end_to_end(family, tiny_raw, builder_dir, tmp_path):
    tiny_raw["model"] = FAMILY_CONFIGS[family]
    tiny_raw["data"]["image_size"] = 16
    first = "stride" if family != "custom" else "none"
    tiny_raw["variants"] = [{"pooling": first}, {"pooling": "max"}, {"pooling": "antialias"}]
    cfg = config.with_base_dir(config.parse(tiny_raw), builder_dir)
    records = sweep.run(cfg, tmp_path / "out", log=lambda *a: None)
    assert [r["variant"] for r in records] == [first, "max", "antialias"]
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and 0 <= r["shift_consistency"] <= 1
               for r in records)
    expected_head = "flatten" if family == "vgg" else "global_avg"
    assert {r["head"] for r in records} == {expected_head}


@pytest.mark.slow
def test_application_runs_end_to_end(tiny_raw, tmp_path):
    tiny_raw["model"] = {"family": "application", "application": "MobileNetV2"}
    tiny_raw["data"].update(image_size=64, train_size=64)
    tiny_raw["variants"] = [{"pooling": "stride"}, {"pooling": "antialias"}]
    records = sweep.run(config.parse(tiny_raw), tmp_path, log=lambda *a: None)
    assert [r["variant"] for r in records] == ["stride", "antialias"]


def test_tune_takes_the_same_families_and_data(tmp_path):
    from experiments.tuning import search_space

    images = np.zeros((20, 8, 8), np.uint8)
    np.savez(tmp_path / "mine.npz", x_train=images, y_train=np.arange(20) % 2)
    (tmp_path / "tune.toml").write_text(
        '[data]\ndataset = "npz"\npath = "mine.npz"\nvalidation_split = 0.2\n'
        '[model]\nfamily = "resnet"\nfilters = [4, 8]\n[train]\nepochs = 1\n'
        '[tune]\nmax_trials = 2\n[tune.space]\npooling = ["stride", "antialias"]\n'
        'per_stage = false\n')
    with pytest.raises(ConfigError, match="unknown value 'stride'"):
        search_space.load(tmp_path / "tune.toml")
    text = (tmp_path / "tune.toml").read_text().replace('["stride", "antialias"]',
                                                        '["max", "antialias"]')
    (tmp_path / "tune.toml").write_text(text)
    base, tune = search_space.load(tmp_path / "tune.toml")
    assert base.data.path == str(tmp_path / "mine.npz")
    trial = search_space.trial_config(base, tune, {"pooling": "antialias", "head": ""})
    assert trial.model.family == "resnet" and trial.variants[0].pooling == "antialias"
    model = models.from_config(trial.variants[0], trial.model, (8, 8, 1), 2, 0)
    assert _types(model).count("BlurPooling2D") == 2  # stage 2: after conv1's ReLU, before the shortcut
    (tmp_path / "tune.toml").write_text(text.replace("per_stage = false", "per_stage = true"))
    with pytest.raises(ConfigError, match="per_stage = false"):
        search_space.load(tmp_path / "tune.toml")
