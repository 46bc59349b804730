"""Keras conformance: run_layer_test, .keras round trip, argument and rank errors."""

import math

import keras
import numpy as np
import pytest
from absl.testing import parameterized
from keras.src import testing

import keras_pool

WINDOWED = {
    "min": (keras_pool.MinPooling1D, keras_pool.MinPooling2D, keras_pool.MinPooling3D),
    "lp": (keras_pool.LpPooling1D, keras_pool.LpPooling2D, keras_pool.LpPooling3D),
    "stochastic": (
        keras_pool.StochasticPooling1D,
        keras_pool.StochasticPooling2D,
        keras_pool.StochasticPooling3D,
    ),
    "mixed": (keras_pool.MixedPooling1D, keras_pool.MixedPooling2D, keras_pool.MixedPooling3D),
    "mixed_channel": (keras_pool.MixedPooling1D, keras_pool.MixedPooling2D,
                      keras_pool.MixedPooling3D),
    "gated": (keras_pool.GatedPooling1D, keras_pool.GatedPooling2D, keras_pool.GatedPooling3D),
    "soft": (keras_pool.SoftPooling1D, keras_pool.SoftPooling2D, keras_pool.SoftPooling3D),
}
GLOBAL = {
    "min": (keras_pool.GlobalMinPooling1D, keras_pool.GlobalMinPooling2D,
            keras_pool.GlobalMinPooling3D),
    "lp": (keras_pool.GlobalLpPooling1D, keras_pool.GlobalLpPooling2D,
           keras_pool.GlobalLpPooling3D),
    "stochastic": (keras_pool.GlobalStochasticPooling1D, keras_pool.GlobalStochasticPooling2D,
                   keras_pool.GlobalStochasticPooling3D),
    "soft": (keras_pool.GlobalSoftPooling1D, keras_pool.GlobalSoftPooling2D,
             keras_pool.GlobalSoftPooling3D),
}
BLUR = {
    "blur": (keras_pool.BlurPooling1D, keras_pool.BlurPooling2D, keras_pool.BlurPooling3D),
    "max_blur": (keras_pool.MaxBlurPooling1D, keras_pool.MaxBlurPooling2D,
                 keras_pool.MaxBlurPooling3D),
}
EXTRA = {"min": {}, "lp": {"p": 3.0}, "stochastic": {"seed": 1}, "mixed": {"alpha": 0.2},
         "mixed_channel": {"mixing": "channel"}, "gated": {"gating": "channel"}, "soft": {}}
TRAINABLE_WEIGHTS = {"mixed": 1, "mixed_channel": 1, "gated": 1}
SPATIAL = {1: (8,), 2: (6, 7), 3: (4, 5, 4)}


def _windowed_cases():
    for kind, classes in WINDOWED.items():
        for rank, cls in enumerate(classes, start=1):
            for padding, data_format in [("valid", "channels_last"), ("same", "channels_first")]:
                name = f"{kind}_{cls.__name__}_{padding}_{data_format}"
                yield (name, kind, rank, padding, data_format)


def _global_cases():
    for kind, classes in GLOBAL.items():
        for rank, cls in enumerate(classes, start=1):
            for keepdims, data_format in [(False, "channels_last"), (True, "channels_first")]:
                yield (f"{cls.__name__}_{keepdims}_{data_format}", kind, rank, keepdims, data_format)


class LayerTest(testing.TestCase):
    @parameterized.named_parameters(*_windowed_cases())
    def test_windowed_layer(self, kind, rank, padding, data_format):
        cls = WINDOWED[kind][rank - 1]
        spatial = SPATIAL[rank]
        shape = (2, *spatial, 3) if data_format == "channels_last" else (2, 3, *spatial)
        if padding == "same":
            out = tuple(math.ceil(n / 2) for n in spatial)
        else:
            out = tuple(n // 2 for n in spatial)
        expected = (2, *out, 3) if data_format == "channels_last" else (2, 3, *out)
        init = {"pool_size": 2, "padding": padding, "data_format": data_format}
        self._run_weightless(cls, kind, init, shape, expected)

    @parameterized.named_parameters(*_global_cases())
    def test_global_layer(self, kind, rank, keepdims, data_format):
        cls = GLOBAL[kind][rank - 1]
        spatial = SPATIAL[rank]
        shape = (2, *spatial, 3) if data_format == "channels_last" else (2, 3, *spatial)
        if keepdims:
            expected = (2,) + (1,) * rank + (3,) if data_format == "channels_last" else (2, 3) + (1,) * rank
        else:
            expected = (2, 3)
        init = {"keepdims": keepdims, "data_format": data_format}
        self._run_weightless(cls, kind, init, shape, expected)

    @parameterized.named_parameters(
        (f"{cls.__name__}_{data_format}", cls, data_format)
        for classes in BLUR.values() for cls in classes
        for data_format in ("channels_last", "channels_first")
    )
    def test_blur_layer(self, cls, data_format):
        spatial = (8, 9, 7)[: cls.rank]
        shape = (2, *spatial, 3) if data_format == "channels_last" else (2, 3, *spatial)
        self.run_layer_test(
            cls,
            init_kwargs={"data_format": data_format, "padding_mode": "replicate"},
            input_shape=shape,
            expected_output_shape=cls(data_format=data_format).compute_output_shape(shape),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
        )

    def _run_weightless(self, cls, kind, init_kwargs, input_shape, expected_shape):
        """Keras's layer test: no weights but the learned mixes', a seed generator
        for the stochastic layers."""
        self.run_layer_test(
            cls,
            init_kwargs={**init_kwargs, **EXTRA[kind]},
            input_shape=input_shape,
            expected_output_shape=expected_shape,
            expected_num_trainable_weights=TRAINABLE_WEIGHTS.get(kind, 0),
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=1 if kind == "stochastic" else 0,
            expected_num_losses=0,
            supports_masking=False,
        )

    @parameterized.named_parameters(
        ("windowed_2d", keras_pool.LpPooling2D, {"pool_size": 2}, (2, 6, 6, 3), (2, 3, 3, 3)),
        ("global_3d", keras_pool.GlobalLpPooling3D, {}, (2, 4, 4, 4, 3), (2, 3)),
    )
    def test_trainable_p(self, cls, kwargs, input_shape, expected_shape):
        self.run_layer_test(
            cls,
            init_kwargs={**kwargs, "p": 2.5, "normalize": True, "trainable_p": True},
            input_shape=input_shape,
            expected_output_shape=expected_shape,
            expected_num_trainable_weights=1,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            supports_masking=False,
        )


def _all_layers_model():
    inputs, outputs = [], []
    for rank in (1, 2, 3):
        x_in = keras.Input((*SPATIAL[rank], 3))
        inputs.append(x_in)
        for kind, classes in WINDOWED.items():
            pooled = classes[rank - 1](2, padding="same", **EXTRA[kind])(x_in)
            outputs.append(keras.layers.Flatten()(pooled))
        for kind, classes in GLOBAL.items():
            outputs.append(classes[rank - 1](**EXTRA[kind])(x_in))
        for classes in BLUR.values():
            outputs.append(keras.layers.Flatten()(classes[rank - 1]()(x_in)))
        trainable = WINDOWED["lp"][rank - 1](2, p=2.0, trainable_p=True, normalize=True)
        outputs.append(keras.layers.Flatten()(trainable(x_in)))
    return keras.Model(inputs, keras.layers.Concatenate()(outputs))


def test_model_with_every_layer_saves_and_reloads(tmp_path, rng):
    model = _all_layers_model()
    for layer in model.layers:  # learned weights must survive the round trip
        for weight in layer.weights:
            weight.assign(rng.uniform(0.1, 0.9, size=weight.shape) + (weight.name == "p"))
    data = [rng.normal(size=(4, *SPATIAL[r], 3)).astype("float32") for r in (1, 2, 3)]
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        model.predict(data, verbose=0), reloaded.predict(data, verbose=0)
    )
    classes = {type(layer) for layer in reloaded.layers}
    every = (*WINDOWED.values(), *GLOBAL.values(), *BLUR.values())
    assert {c for group in every for c in group} <= classes


def test_get_config_round_trip_keeps_every_argument():
    layer = keras_pool.LpPooling2D((2, 3), (1, 2), "same", "channels_first", p=float("inf"),
                                   normalize=True, name="lp")
    clone = keras_pool.LpPooling2D.from_config(layer.get_config())
    for key in ("pool_size", "strides", "padding", "data_format", "p", "normalize", "trainable_p"):
        assert getattr(clone, key) == getattr(layer, key)
    stochastic = keras_pool.GlobalStochasticPooling3D(keepdims=True, seed=12)
    assert keras_pool.GlobalStochasticPooling3D.from_config(stochastic.get_config()).seed == 12
    for layer, keys in [
        (keras_pool.BlurPooling3D((3, 5, 1), (1, 2, 3), "zero", "channels_first"),
         ("filter_size", "strides", "padding_mode", "data_format")),
        (keras_pool.MaxBlurPooling1D(3, 3, 5, "same", "replicate"),
         ("pool_size", "strides", "filter_size", "padding", "padding_mode")),
        (keras_pool.MixedPooling2D(3, 1, "same", alpha=0.9, mixing="channel"),
         ("pool_size", "strides", "padding", "alpha_init", "mixing")),
        (keras_pool.GatedPooling2D((2, 3), gating="channel"), ("pool_size", "gating")),
        (keras_pool.GlobalSoftPooling1D(keepdims=True), ("keepdims",)),
    ]:
        clone = type(layer).from_config(layer.get_config())
        for key in keys:
            assert getattr(clone, key) == getattr(layer, key), key


def test_unknown_spatial_dims(rng):
    model = keras.Sequential([
        keras.Input((None, None, 3)),
        keras_pool.LpPooling2D(3, 2, "same", p=3.0),
        keras_pool.MinPooling2D(2),
        keras_pool.StochasticPooling2D(2, 1, "same", seed=0),
        keras_pool.BlurPooling2D(3, padding_mode="replicate"),
        keras_pool.MaxBlurPooling2D(padding="same", padding_mode="zero"),
        keras_pool.MixedPooling2D(2, 1, "same"),
        keras_pool.GatedPooling2D(2, 1, "same"),
        keras_pool.SoftPooling2D(2, 1, "same"),
        keras_pool.GlobalLpPooling2D(),
    ])
    assert model.output_shape == (None, 3)
    for size in (9, 16):
        out = model.predict(rng.normal(size=(2, size, size, 3)).astype("float32"), verbose=0)
        assert out.shape == (2, 3) and np.all(np.isfinite(out))


BAD_ARGUMENTS = [
    (keras_pool.MinPooling2D, {"pool_size": 0}, "pool_size=0"),
    (keras_pool.MinPooling2D, {"pool_size": (2, 2, 2)}, "pool_size=(2, 2, 2)"),
    (keras_pool.LpPooling1D, {"strides": 0}, "strides=0"),
    (keras_pool.StochasticPooling3D, {"padding": "full"}, "padding='full'"),
    (keras_pool.MinPooling1D, {"data_format": "NHWC"}, "data_format='NHWC'"),
    (keras_pool.GlobalMinPooling2D, {"data_format": "channels_middle"},
     "data_format='channels_middle'"),
    (keras_pool.LpPooling2D, {"p": 0.5}, "p=0.5"),
    (keras_pool.LpPooling2D, {"p": float("nan")}, "p=nan"),
    (keras_pool.GlobalLpPooling2D, {"p": -1}, "p=-1"),
    (keras_pool.GlobalLpPooling2D, {"p": "two"}, "p='two'"),
    (keras_pool.LpPooling2D, {"p": float("inf"), "trainable_p": True}, "p=inf"),
    (keras_pool.StochasticPooling2D, {"seed": "x"}, "seed='x'"),
    (keras_pool.LpPooling2D, {"p": "3"}, "p='3'"),
    (keras_pool.LpPooling2D, {"p": True}, "p=True"),
    (keras_pool.LpPooling2D, {"normalize": "false"}, "normalize='false'"),
    (keras_pool.LpPooling2D, {"trainable_p": 1}, "trainable_p=1"),
    (keras_pool.GlobalMinPooling2D, {"keepdims": "no"}, "keepdims='no'"),
    (keras_pool.MinPooling2D, {"pool_size": 2.0}, "pool_size=2.0"),
    (keras_pool.BlurPooling2D, {"filter_size": 8}, "filter_size=(8, 8)"),
    (keras_pool.BlurPooling2D, {"filter_size": 0}, "filter_size=0"),
    (keras_pool.BlurPooling1D, {"strides": -1}, "strides=-1"),
    (keras_pool.BlurPooling3D, {"padding_mode": "circular"}, "padding_mode='circular'"),
    (keras_pool.MaxBlurPooling2D, {"padding_mode": "refl"}, "padding_mode='refl'"),
    (keras_pool.MaxBlurPooling2D, {"padding": "full"}, "padding='full'"),
    (keras_pool.MixedPooling2D, {"alpha": 1.5}, "alpha=1.5"),
    (keras_pool.MixedPooling2D, {"alpha": "0.5"}, "alpha='0.5'"),
    (keras_pool.MixedPooling2D, {"mixing": "region"}, "mixing='region'"),
    (keras_pool.GatedPooling2D, {"gating": "window"}, "gating='window'"),
    (keras_pool.SoftPooling1D, {"pool_size": (2, 2)}, "pool_size=(2, 2)"),
    (keras_pool.GlobalSoftPooling3D, {"data_format": "NCDHW"}, "data_format='NCDHW'"),
]


@pytest.mark.parametrize("cls,kwargs,message", BAD_ARGUMENTS)
def test_bad_arguments_raise_value_error_naming_argument_and_value(cls, kwargs, message):
    with pytest.raises(ValueError) as error:
        cls(**kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize("cls", [keras_pool.MinPooling1D, keras_pool.LpPooling3D,
                                 keras_pool.GlobalStochasticPooling2D, keras_pool.BlurPooling2D,
                                 keras_pool.MaxBlurPooling1D, keras_pool.MixedPooling3D,
                                 keras_pool.GatedPooling2D, keras_pool.SoftPooling1D,
                                 keras_pool.GlobalSoftPooling2D])
def test_wrong_input_rank_raises_value_error(cls):
    with pytest.raises(ValueError, match="ndim"):
        cls()(np.zeros((2,) + (4,) * (cls.rank + 1) + (3,), "float32"))  # one dim too many


@pytest.mark.parametrize("fn", [keras_pool.ops.min_pool, keras_pool.ops.lp_pool,
                                keras_pool.ops.stochastic_pool, keras_pool.ops.blur_pool,
                                keras_pool.ops.max_blur_pool, keras_pool.ops.mixed_pool,
                                keras_pool.ops.soft_pool, keras_pool.ops.global_soft_pool])
def test_ops_reject_wrong_rank(fn):
    with pytest.raises(ValueError, match="input shape"):
        fn(np.zeros((4, 4), "float32"), 2)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="only TensorFlow graphs have run-time (dynamic) spatial sizes")
def test_dynamic_spatial_dims_in_a_tensorflow_graph(rng):
    import tensorflow as tf

    layers = [
        keras_pool.LpPooling2D(3, 2, "same", p=3.0, normalize=True),
        keras_pool.StochasticPooling2D(2, 1, "same", seed=1),
        keras_pool.GlobalStochasticPooling2D(seed=1),
        keras_pool.MinPooling2D(3, 2, "same"),
        keras_pool.BlurPooling2D(),
        keras_pool.MaxBlurPooling2D(3, padding="same"),
        keras_pool.MixedPooling2D(3, 2, "same", mixing="channel"),
        keras_pool.GatedPooling2D(3, 2, "same"),
        keras_pool.SoftPooling2D(3, 2, "same"),
    ]
    spec = tf.TensorSpec((None, None, None, 3))
    x = rng.normal(size=(2, 9, 7, 3)).astype("float32")
    for layer in layers:
        graph = tf.function(lambda v: (layer(v), layer(v, training=True)), input_signature=[spec])
        inference, training = graph(x)
        # atol: eagerly (static sizes) BlurPool takes its matrix fast path
        np.testing.assert_allclose(inference.numpy(), keras.ops.convert_to_numpy(layer(x)),
                                   rtol=1e-6, atol=1e-6)
        assert training.shape == inference.shape
