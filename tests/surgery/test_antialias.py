"""keras_pool.antialias: Zhang's recipe, the sampling grid (filter_size=1 is the
identity), placement, weights, options, errors, and antialiased-cnns as the peer."""

import itertools

import antialiased_cnns
import keras
import numpy as np
import pytest
import torch

import keras_pool
from tests.surgery.models import subclassed_model
from keras_pool.surgery import leaf_layers


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _blurs(model):
    return [l for l in leaf_layers(model)
            if isinstance(l, (keras_pool.BlurPooling1D, keras_pool.BlurPooling2D,
                              keras_pool.BlurPooling3D))]


def _assert_same_function(model, new, x, atol=1e-5):
    expected, got = _np(model(x)), _np(new(x))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=atol)


def _strided_net(rank, size, layer, channels=3):
    """Input -> conv (mixes signs) -> `layer` -> conv: the subsampling in context."""
    conv = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)[rank - 1]
    inputs = keras.Input((size,) * rank + (channels,))
    x = conv(4, 1, name="mix")(inputs)
    x = layer(x)
    outputs = conv(2, 1, name="out")(x)
    return keras.Model(inputs, outputs)


GRID_CASES = [
    *[("conv", k, s, padding, n) for k, s, padding, n in itertools.product(
        (1, 2, 3, 5), (2, 3), ("same", "valid"), (9, 10, 11, 12))],
    *[("max", k, s, padding, n) for k, s, padding, n in itertools.product(
        (2, 3), (2, 3), ("same", "valid"), (9, 10, 11))],
]


@pytest.mark.parametrize("kind,k,s,padding,n", GRID_CASES)
def test_filter_size_1_keeps_the_sampling_grid_2d(rng, kind, k, s, padding, n):
    """Keras's "same" puts the extra cell at the end: even and odd sizes, every window."""
    if kind == "conv":
        layer = keras.layers.Conv2D(5, k, strides=s, padding=padding, name="sub")
    else:
        layer = keras.layers.MaxPooling2D(k, strides=s, padding=padding, name="sub")
    model = _strided_net(2, n, layer)
    x = rng.normal(size=(2, n, n, 3)).astype("float32")  # negative cells: padding must not win
    new = keras_pool.antialias(model, filter_size=1)
    assert len(_blurs(new)) == 1
    _assert_same_function(model, new, x)


@pytest.mark.parametrize("rank,n", [(1, 13), (1, 16), (3, 7), (3, 8)])
def test_filter_size_1_keeps_the_sampling_grid_1d_3d(rng, rank, n):
    conv = (keras.layers.Conv1D, None, keras.layers.Conv3D)[rank - 1]
    pool = (keras.layers.MaxPooling1D, None, keras.layers.MaxPooling3D)[rank - 1]
    inputs = keras.Input((n,) * rank + (2,))
    x = conv(4, 3, strides=2, padding="same")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = pool(3, strides=2, padding="same")(x)
    x = conv(3, 1, strides=2)(x)
    model = keras.Model(inputs, x)
    new = keras_pool.antialias(model, filter_size=1)
    assert len(_blurs(new)) == 3
    _assert_same_function(model, new, rng.normal(size=(2,) + (n,) * rank + (2,)).astype("float32"))


def test_per_axis_strides_blur_only_the_strided_axis(rng):
    model = _strided_net(2, 10, keras.layers.Conv2D(3, 3, strides=(2, 1), padding="same"))
    new = keras_pool.antialias(model, filter_size=1)
    (blur,) = _blurs(new)
    assert blur.strides == (2, 1) and blur.filter_size == (1, 1)
    _assert_same_function(model, new, rng.normal(size=(2, 10, 10, 3)).astype("float32"))
    assert _blurs(keras_pool.antialias(model))[0].filter_size == (4, 1)


def _inbound(model, name):
    """Names of the layers that feed layer `name` in a Functional model."""
    node = model.get_layer(name)._inbound_nodes[0]
    return [t._keras_history.operation.name for t in node.input_tensors]


def test_blur_goes_after_the_pointwise_layers_and_before_a_1x1_conv():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    main = keras.layers.Conv2D(8, 3, padding="same", name="main")(x)
    short = keras.layers.Conv2D(8, 1, strides=2, name="shortcut")(x)
    main = keras.layers.MaxPooling2D(2, name="pool")(main)
    x = keras.layers.Add(name="add")([main, short])
    x = keras.layers.AveragePooling2D(2, name="avg")(x)
    model = keras.Model(inputs, x)
    new = keras_pool.antialias(model)
    assert new.get_layer("conv").strides == (1, 1)
    assert _inbound(new, "conv_crop") == ["relu"]  # 16 is even: "same" samples from cell 1
    assert _inbound(new, "conv_blurpool") == ["conv_crop"]
    assert _inbound(new, "main") == ["conv_blurpool"]
    assert _inbound(new, "shortcut") == ["shortcut_blurpool"]  # blur before a 1x1 conv
    assert new.get_layer("shortcut").strides == (1, 1)
    assert new.get_layer("pool").strides == (1, 1)
    assert _inbound(new, "pool_blurpool") == ["pool"]
    assert isinstance(new.get_layer("avg"), keras_pool.BlurPooling2D)  # avg -> BlurPool
    assert new.output_shape == model.output_shape
    # The chain stops where a layer has two consumers: no blur moves past a branch.
    assert [type(l).__name__ for l in model.layers] == [
        "InputLayer", "Conv2D", "BatchNormalization", "ReLU", "Conv2D", "MaxPooling2D",
        "Conv2D", "Add", "AveragePooling2D"]  # the original is untouched
    assert model.get_layer("conv").strides == (2, 2)


def test_sequential_model_stays_sequential_with_weights(rng):
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        keras.layers.Conv2D(4, 3, strides=2, padding="same", name="conv"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.Activation("relu", name="act"),
        keras.layers.MaxPooling2D(name="pool"),
        keras.layers.Flatten(),
        keras.layers.Dense(3, name="dense"),
    ])
    new = keras_pool.antialias(model, filter_size=1)
    assert isinstance(new, keras.Sequential)
    names = [l.name for l in new.layers]
    assert names[names.index("act") + 1:][:4] == ["conv_crop", "conv_blurpool", "pool",
                                                  "pool_blurpool"]
    _assert_same_function(model, new, rng.normal(size=(2, 12, 12, 1)).astype("float32"))
    for layer in model.layers:
        for a, b in zip(layer.get_weights(), new.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_nested_application_inside_a_users_model(rng):
    backbone = keras.applications.MobileNetV2(
        weights=None, include_top=False, input_shape=(32, 32, 3), alpha=0.35)
    inputs = keras.Input((32, 32, 3))
    x = backbone(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    new = keras_pool.antialias(model, filter_size=1)
    assert len(_blurs(new)) == 5  # the stem and four strided depthwise convolutions
    _assert_same_function(model, new, rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32"))


def test_options_convert_and_skip_first():
    model = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3))
    assert len(_blurs(keras_pool.antialias(model))) == 8
    assert len(_blurs(keras_pool.antialias(model, convert="pools"))) == 1
    assert len(_blurs(keras_pool.antialias(model, convert="convs"))) == 7
    skipped = keras_pool.antialias(model, skip_first=True)  # antialiased-cnns' pool_only
    assert len(_blurs(skipped)) == 7
    assert skipped.get_layer("conv1_conv").strides == (2, 2)
    assert skipped.get_layer("pool1_pool").strides == (1, 1)
    blur = _blurs(keras_pool.antialias(model, filter_size=3, padding_mode="zero"))[0]
    assert blur.filter_size == (3, 3) and blur.padding_mode == "zero"


def test_matches_antialiased_cnns_recipe(rng):
    """conv(stride 2) -> ReLU -> maxpool(2): ours against Zhang's own torch modules."""
    inputs = keras.Input((3, 15, 14))
    x = keras.layers.Conv2D(4, 3, strides=2, data_format="channels_first", name="conv",
                            activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2, data_format="channels_first")(x)
    model = keras.Model(inputs, x)
    new = keras_pool.antialias(model, filter_size=4)
    kernel, bias = model.get_layer("conv").get_weights()
    conv = torch.nn.Conv2d(3, 4, 3, stride=1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(np.transpose(kernel, (3, 2, 0, 1))))
        conv.bias.copy_(torch.tensor(bias))
    peer = torch.nn.Sequential(
        conv, torch.nn.ReLU(), antialiased_cnns.BlurPool(4, filt_size=4, stride=2),
        torch.nn.MaxPool2d(2, stride=1), antialiased_cnns.BlurPool(4, filt_size=4, stride=2))
    x = rng.normal(size=(2, 3, 15, 14)).astype("float32")
    with torch.no_grad():
        expected = peer(torch.tensor(x)).numpy()
    np.testing.assert_allclose(_np(new(x)), expected, rtol=1e-4, atol=1e-5)


def test_unknown_size_is_allowed_where_the_grid_does_not_depend_on_it(rng):
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, strides=2)(inputs)  # "valid": grid from cell 0
    x = keras.layers.MaxPooling2D(3, strides=2)(x)
    model = keras.Model(inputs, x)
    new = keras_pool.antialias(model, filter_size=1)
    for n in (11, 12):
        _assert_same_function(model, new, rng.normal(size=(1, n, n, 3)).astype("float32"))
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, strides=2, padding="same",
                                                    name="same_conv")(inputs))
    with pytest.raises(ValueError, match="same_conv.*fixed input size"):
        keras_pool.antialias(model)


def test_trains_and_stays_finite_under_mixed_precision(rng):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = keras.Sequential([
            keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, strides=2, padding="same"),
            keras.layers.ReLU(), keras.layers.MaxPooling2D(), keras.layers.Flatten(),
            keras.layers.Dense(2, dtype="float32")])
        new = keras_pool.antialias(model)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert all(b.dtype_policy.name == "mixed_float16" for b in _blurs(new))
    x = rng.normal(size=(8, 16, 16, 3)).astype("float32")
    y = rng.integers(0, 2, 8)
    new.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = new.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert np.isfinite(_np(new(x))).all()


def test_keras_file_round_trip(rng, tmp_path):
    model = _strided_net(2, 10, keras.layers.Conv2D(3, 3, strides=2, padding="same"))
    new = keras_pool.antialias(model)
    new.save(tmp_path / "aa.keras")
    loaded = keras.saving.load_model(tmp_path / "aa.keras")
    _assert_same_function(new, loaded, rng.normal(size=(2, 10, 10, 3)).astype("float32"), atol=0)


@pytest.mark.parametrize("kwargs,match", [
    ({"filter_size": 0}, "filter_size"),
    ({"filter_size": 9}, "filter_size"),
    ({"padding_mode": "wrap"}, "padding_mode"),
    ({"convert": "dense"}, "convert"),
    ({"skip_first": "yes"}, "skip_first"),
])
def test_bad_arguments(kwargs, match):
    model = _strided_net(2, 8, keras.layers.MaxPooling2D())
    with pytest.raises(ValueError, match=match):
        keras_pool.antialias(model, **kwargs)


def test_nothing_to_convert_and_subclassed_models_are_errors():
    model = _strided_net(2, 8, keras.layers.Conv2D(3, 3, padding="same"))
    with pytest.raises(ValueError, match="no strided"):
        keras_pool.antialias(model)
    with pytest.raises(ValueError, match="no strided max or average pooling"):
        keras_pool.antialias(_strided_net(2, 8, keras.layers.Conv2D(3, 3, strides=2)),
                             convert="pools")

    net = subclassed_model()
    with pytest.raises(ValueError, match="subclassed model"):
        keras_pool.antialias(net)


def test_reflect_on_a_too_small_map_names_the_layer():
    model = _strided_net(2, 3, keras.layers.Conv2D(3, 2, strides=2, name="conv2d_small"))  # 3 -> 2 cells
    with pytest.raises(ValueError, match="at layer 'conv2d.*reflect"):
        keras_pool.antialias(model)
    assert len(_blurs(keras_pool.antialias(model, padding_mode="zero"))) == 1
