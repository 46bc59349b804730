"""Surgery on real architectures: keras.applications models built offline
(`weights=None`) at 64x64. Every architecture on TensorFlow; on JAX and
PyTorch one each (ResNet50 and MobileNetV2), the rest marked slow there too."""

import keras
import numpy as np
import pytest

import keras_pool
from keras_pool.surgery import leaf_layers

# name: (builder, strided layers antialias converts, its max pools, its global average poolings)
ARCHITECTURES = {
    "VGG16": (keras.applications.VGG16, 5, 5, 0),
    "ResNet50": (keras.applications.ResNet50, 8, 1, 1),  # stem, pool, 3 x (1x1 main + shortcut)
    "MobileNetV2": (keras.applications.MobileNetV2, 5, 0, 1),  # "same" stem + 4 depthwise
    "DenseNet121": (keras.applications.DenseNet121, 5, 1, 1),  # stem, pool, 3 average pools
    "EfficientNetB0": (keras.applications.EfficientNetB0, 5, 0, 17),  # 16 squeeze-excites + head
}
ON_EVERY_BACKEND = {"tensorflow": tuple(ARCHITECTURES), "jax": ("ResNet50",),
                    "torch": ("MobileNetV2",)}


def _cases():
    quick = ON_EVERY_BACKEND[keras.backend.backend()]
    return [pytest.param(name, marks=() if name in quick else pytest.mark.slow)
            for name in ARCHITECTURES]


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _count(model, classes):
    return sum(isinstance(l, classes) for l in leaf_layers(model))


def _assert_weights_kept(model, new):
    by_name = {l.name: l for l in leaf_layers(new)}
    kept = 0
    for layer in leaf_layers(model):
        if layer.weights:
            for a, b in zip(layer.get_weights(), by_name[layer.name].get_weights(), strict=True):
                np.testing.assert_array_equal(a, b)
            kept += 1
    assert kept > 10


BLURS = (keras_pool.BlurPooling2D,)


@pytest.mark.parametrize("name", _cases())
def test_application_surgery(name, tmp_path):
    build, strided, max_pools, global_avgs = ARCHITECTURES[name]
    model = build(weights=None, input_shape=(64, 64, 3))
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    expected = _np(model(x))

    smooth = keras_pool.antialias(model)
    assert _count(smooth, BLURS) == strided
    assert smooth.output_shape == model.output_shape
    _assert_weights_kept(model, smooth)
    smooth.save(tmp_path / "smooth.keras")
    loaded = keras.saving.load_model(tmp_path / "smooth.keras")
    np.testing.assert_allclose(_np(loaded(x)), _np(smooth(x)), rtol=1e-5, atol=1e-6)

    identity = keras_pool.antialias(model, filter_size=1)
    if name == "DenseNet121":  # strided average pooling becomes a blur: not the identity
        assert identity.output_shape == model.output_shape
    else:
        np.testing.assert_allclose(_np(identity(x)), expected, rtol=1e-4, atol=1e-5)

    if max_pools:
        same = keras_pool.swap_pooling(model, "max", "max")
        np.testing.assert_allclose(_np(same(x)), expected, rtol=1e-5, atol=1e-6)
        lp = keras_pool.swap_pooling(model, "max", "lp", p=4.0)
        assert _count(lp, keras_pool.LpPooling2D) == max_pools
        assert _count(lp, keras.layers.MaxPooling2D) == 0
        _assert_weights_kept(model, lp)
    else:
        with pytest.raises(ValueError, match="matches no layer"):
            keras_pool.swap_pooling(model, "max", "lp")
    if global_avgs:
        gem = keras_pool.swap_pooling(model, "global_avg", "global_lp", p=3.0, normalize=True,
                                      trainable_p=True)
        assert _count(gem, keras_pool.GlobalLpPooling2D) == global_avgs
        assert gem.output_shape == model.output_shape
        assert np.isfinite(_np(gem(x))).all()


def test_gem_head_on_a_headless_resnet50_trains(tmp_path):
    """The README's example: a GeM head with trainable p, swapped in, trained a step."""
    base = keras.applications.ResNet50(weights=None, include_top=False, pooling="avg",
                                       input_shape=(64, 64, 3))
    gem = keras_pool.swap_pooling(base, "global_avg", "global_lp", p=3.0, normalize=True,
                                  trainable_p=True)
    head = gem.layers[-1]
    assert isinstance(head, keras_pool.GlobalLpPooling2D) and head.name == "avg_pool"
    model = keras.Sequential([gem, keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).uniform(0, 1, (4, 64, 64, 3)).astype("float32")
    model.fit(x, np.array([0, 1, 0, 1]), epochs=1, batch_size=4, verbose=0)
    p = float(_np(head.p))
    assert p != 3.0 and p >= 1.0  # p is learned
