"""keras_pool.swap_pooling: every kind, ranks, nested and Sequential models,
identity, weights, the original left untouched, and the errors."""

import keras
import numpy as np
import pytest

import keras_pool
from tests.surgery.models import subclassed_model
from keras_pool import registry
from keras_pool.surgery import leaf_layers


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _net(rank=2, size=8, pool="max", head="global_avg"):
    conv = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)[rank - 1]
    inputs = keras.Input((size,) * rank + (2,))
    x = conv(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = registry.pooling(pool, rank, pool_size=2)(x)
    x = registry.head(head, rank)(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="dense")(x))


def _kinds(model):
    return [type(l).__name__ for l in leaf_layers(model)]


@pytest.mark.parametrize("target", [n for n in registry.POOLINGS if n != "blur"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_every_windowed_target_every_rank(rng, rank, target):
    model = _net(rank)
    new = keras_pool.swap_pooling(model, "max", target)
    cls = registry.pooling_classes(target)[rank - 1]
    (swapped,) = [l for l in new.layers if isinstance(l, cls)]
    if target == "fractional":  # windows of pool_size cells, max pooling's output size
        assert swapped.pool_size == (2,) * rank and swapped.output_size == (4,) * rank
    else:
        assert swapped.pool_size == (2,) * rank and swapped.strides == (2,) * rank
    x = rng.uniform(size=(2,) + (8,) * rank + (2,)).astype("float32")
    assert _np(new(x)).shape == (2, 3)
    assert isinstance(model.layers[2], registry.pooling_classes("max")[rank - 1])  # untouched


@pytest.mark.parametrize("padding, size, pool, strides", [
    ("same", 9, 2, 2), ("valid", 9, 3, 2), ("same", 7, 3, 2), ("valid", 12, 2, 2)])
def test_fractional_takes_max_poolings_output_size(rng, padding, size, pool, strides, tmp_path):
    inputs = keras.Input((size, size, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(pool, strides, padding=padding)(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="dense")(keras.layers.Flatten()(x)))
    new = keras_pool.swap_pooling(model, "max", "fractional", seed=1)
    (frac,) = [l for l in new.layers if isinstance(l, keras_pool.FractionalMaxPooling2D)]
    expected = model.layers[2].output.shape[1:3]
    assert frac.output_size == tuple(expected) and frac.pool_size == (pool, pool)
    x = rng.normal(size=(2, size, size, 2)).astype("float32")
    # weights kept; inference uses the fixed windows, so two calls agree
    np.testing.assert_array_equal(_np(new.get_layer("conv").kernel),
                                  _np(model.get_layer("conv").kernel))
    np.testing.assert_array_equal(_np(new(x)), _np(new(x)))
    path = tmp_path / "fractional.keras"
    new.save(path)
    np.testing.assert_array_equal(_np(keras.saving.load_model(path)(x)), _np(new(x)))


def test_fractional_without_a_fixed_size_takes_the_ratio():
    inputs = keras.Input((None, None, 2))
    x = keras.layers.MaxPooling2D(2)(keras.layers.Conv2D(4, 3, padding="same")(inputs))
    new = keras_pool.swap_pooling(keras.Model(inputs, x), "max", "fractional")
    (frac,) = [l for l in new.layers if isinstance(l, keras_pool.FractionalMaxPooling2D)]
    assert frac.output_size is None and frac.output_ratio == (0.5, 0.5)


def test_a_head_that_changes_the_feature_size_is_refused():
    with pytest.raises(ValueError, match="gives output shape .* where the model has"):
        keras_pool.swap_pooling(_net(2), "global_avg", "global_catavgmax")


@pytest.mark.parametrize("target", [n for n in registry.HEADS
                                    if n not in ("flatten", "global_catavgmax")])
def test_every_global_target(rng, target):
    new = keras_pool.swap_pooling(_net(2), "global_avg", target)
    assert isinstance(new.layers[-2], registry.pooling_classes(target)[1])
    assert _np(new(rng.uniform(size=(2, 8, 8, 2)).astype("float32"))).shape == (2, 3)


def test_identity_swap_and_weights_kept(rng):
    model = _net(2)
    same = keras_pool.swap_pooling(model, "max", "max")
    x = rng.normal(size=(3, 8, 8, 2)).astype("float32")
    np.testing.assert_array_equal(_np(same(x)), _np(model(x)))
    new = keras_pool.swap_pooling(model, "max", "lp", p=3.0, trainable_p=True)
    assert [l.name for l in new.layers] == [l.name for l in model.layers]
    for name in ("conv", "dense"):
        for a, b in zip(model.get_layer(name).get_weights(), new.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    lp = new.layers[2]
    assert lp.p_init == 3.0 and lp.trainable_p and lp.name == model.layers[2].name
    # Lp with p = inf is max of |x|: after the ReLU the same function as the original.
    inf = keras_pool.swap_pooling(model, "max", "lp", p=float("inf"))
    np.testing.assert_allclose(_np(inf(x)), _np(model(x)), rtol=1e-6, atol=1e-6)
    # The swapped model trains on its own weights: the original's do not move.
    before = [w.copy() for w in model.get_weights()]
    new.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    new.fit(x, np.ones((3, 3), "float32"), epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_layer_classes_as_source_and_target(rng):
    model = _net(2)
    new = keras_pool.swap_pooling(model, keras.layers.MaxPooling2D, keras_pool.MinPooling2D)
    assert isinstance(new.layers[2], keras_pool.MinPooling2D)
    x = -rng.uniform(size=(2, 8, 8, 2)).astype("float32")
    expected = -_np(keras.layers.MaxPooling2D()(-_np(new.get_layer("conv")(x))))
    np.testing.assert_allclose(_np(new.layers[2](new.get_layer("conv")(x))), expected)


def test_keras_pool_source_and_blur_target(rng):
    model = _net(2, pool="lp")
    back = keras_pool.swap_pooling(model, "lp", "max")
    assert "MaxPooling2D" in _kinds(back)
    blur = keras_pool.swap_pooling(_net(2), "max", "blur", filter_size=3)
    assert blur.layers[2].filter_size == (3, 3) and blur.layers[2].strides == (2, 2)


def test_nested_application_in_a_users_model_and_sequential(rng, tmp_path):
    backbone = keras.applications.VGG16(weights=None, include_top=False, input_shape=(64, 64, 3))
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.GlobalMaxPooling2D(name="head")(backbone(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(x))
    new = keras_pool.swap_pooling(model, "max", "maxblur")
    assert _kinds(new).count("MaxBlurPooling2D") == 5 and "MaxPooling2D" not in _kinds(new)
    assert new.get_layer("vgg16").get_layer("block1_pool").name == "block1_pool"
    for layer in leaf_layers(model):
        for a, b in zip(layer.get_weights(), _find(new, layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)
    assert new.output_shape == model.output_shape
    seq = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.AveragePooling2D(2),
                            keras.Sequential([keras.layers.MaxPooling2D()]),
                            keras.layers.Flatten()])
    new_seq = keras_pool.swap_pooling(seq, "max", "soft")
    assert isinstance(new_seq, keras.Sequential)
    assert _kinds(new_seq) == ["AveragePooling2D", "SoftPooling2D", "Flatten"]
    new_seq.save(tmp_path / "seq.keras")
    loaded = keras.saving.load_model(tmp_path / "seq.keras")
    x = rng.normal(size=(2, 8, 8, 2)).astype("float32")
    np.testing.assert_array_equal(_np(loaded(x)), _np(new_seq(x)))


def _find(model, name):
    return next(l for l in leaf_layers(model) if l.name == name)


def test_gem_head_round_trips_through_a_keras_file(rng, tmp_path):
    model = _net(2)
    new = keras_pool.swap_pooling(model, "global_avg", "global_lp", p=3.0, normalize=True,
                                  trainable_p=True)
    new.save(tmp_path / "gem.keras")
    loaded = keras.saving.load_model(tmp_path / "gem.keras")
    x = rng.normal(size=(2, 8, 8, 2)).astype("float32")
    np.testing.assert_allclose(_np(loaded(x)), _np(new(x)), rtol=1e-6)
    assert isinstance(loaded.layers[-2], keras_pool.GlobalLpPooling2D)


def test_errors_name_what_is_wrong():
    model = _net(2)
    with pytest.raises(ValueError, match=r"`source` 'avg' matches no layer.*MaxPooling2D"):
        keras_pool.swap_pooling(model, "avg", "lp")
    with pytest.raises(ValueError, match=r"`source` must be a pooling name.*'maxx'"):
        keras_pool.swap_pooling(model, "maxx", "lp")
    with pytest.raises(ValueError, match=r"`target` must be .*'lpp'"):
        keras_pool.swap_pooling(model, "max", "lpp")
    with pytest.raises(ValueError, match=r"'lp' takes no option.*'seed'"):
        keras_pool.swap_pooling(model, "max", "lp", seed=1)
    with pytest.raises(ValueError, match="global.*windowed"):
        keras_pool.swap_pooling(model, "max", "global_lp")
    with pytest.raises(ValueError, match="does not take the arguments"):
        keras_pool.swap_pooling(model, "max", keras.layers.GlobalMaxPooling2D)
    with pytest.raises(ValueError, match=r"`p` must"):
        keras_pool.swap_pooling(model, "max", "lp", p=0.5)
    odd = _net(2, size=7)  # 7 -> max: 3 cells, blur: 4 cells
    with pytest.raises(ValueError, match=r"'blur' at layer .* gives output shape"):
        keras_pool.swap_pooling(odd, "max", "blur")
    with pytest.raises(ValueError, match="keras.Model"):
        keras_pool.swap_pooling(keras.layers.Dense(2), "max", "lp")


def test_subclassed_model_says_why_and_what_to_do():
    net = subclassed_model()
    with pytest.raises(ValueError, match="subclassed model.*cannot see or clone.*Functional"):
        keras_pool.swap_pooling(net, "max", "lp")


def test_frozen_layers_stay_frozen_and_a_compiled_model_stays_compiled():
    model = keras.Sequential([keras.Input((8, 8, 2)),
                              keras.layers.Conv2D(3, 3, name="conv", trainable=False),
                              keras.layers.MaxPooling2D(name="pool", trainable=False),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    new = keras_pool.swap_pooling(model, "max", "lp", p=2.0, trainable_p=True)
    assert not new.get_layer("conv").trainable and not new.get_layer("pool").trainable
    assert new.compiled and new.get_compile_config() == model.get_compile_config()
    aa = keras_pool.antialias(model)
    assert aa.compiled and not aa.get_layer("conv").trainable
