"""timm's global heads: avg-max, concatenated avg-max and LSE (LsePlus) pooling,
against float64 NumPy references, their gradients (d/dx and d/dr), limits,
half precision with large values, and the layer contract."""

import keras
import numpy as np
import pytest
from absl.testing import parameterized
from keras.src import testing

from keras_pool.layers.head_pooling import (
    AtLeast,
    GlobalAvgMaxPooling1D,
    GlobalAvgMaxPooling2D,
    GlobalAvgMaxPooling3D,
    GlobalCatAvgMaxPooling1D,
    GlobalCatAvgMaxPooling2D,
    GlobalCatAvgMaxPooling3D,
    GlobalLsePooling1D,
    GlobalLsePooling2D,
    GlobalLsePooling3D,
)
from keras_pool.ops.head_pooling import (
    global_avg_max_pool,
    global_cat_avg_max_pool,
    global_lse_pool,
)
from tests import references as ref
from tests.backend_utils import value_and_grad

CLASSES = {
    "avg_max": (GlobalAvgMaxPooling1D, GlobalAvgMaxPooling2D, GlobalAvgMaxPooling3D),
    "cat_avg_max": (GlobalCatAvgMaxPooling1D, GlobalCatAvgMaxPooling2D, GlobalCatAvgMaxPooling3D),
    "lse": (GlobalLsePooling1D, GlobalLsePooling2D, GlobalLsePooling3D),
}
OPS = {"avg_max": global_avg_max_pool, "cat_avg_max": global_cat_avg_max_pool,
       "lse": global_lse_pool}


def _np(x):
    return keras.ops.convert_to_numpy(x)


def avg_max_reduce(values):
    return 0.5 * (values.mean(axis=0) + values.max(axis=0))


def cat_avg_max_reduce(values):
    return np.concatenate([values.mean(axis=0), values.max(axis=0)])


def lse_reduce(r):
    def reduce(values):
        m = values.max(axis=0)
        return m + np.log(np.mean(np.exp(r * (values - m)), axis=0)) / r

    return reduce


REFERENCES = {"avg_max": avg_max_reduce, "cat_avg_max": cat_avg_max_reduce,
              "lse": lse_reduce(10.0)}


def _reference(kind, x, data_format="channels_last", keepdims=False):
    out = ref.global_(x, REFERENCES[kind], data_format)  # (N, C) or (N, 2C)
    if keepdims:
        ones = (1,) * (x.ndim - 2)
        shape = (*ones, -1) if data_format == "channels_last" else (-1, *ones)
        out = out.reshape(x.shape[0], *shape)
    return out


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("kind", list(CLASSES))
def test_matches_float64_numpy_reference(rng, kind, rank, data_format, keepdims):
    x = ref.random_input(rng, rank, data_format)
    layer = CLASSES[kind][rank - 1](data_format=data_format, keepdims=keepdims)
    out = _np(layer(x))
    expected = _reference(kind, x, data_format, keepdims)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert out.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(_np(OPS[kind](x, data_format=data_format, keepdims=keepdims)),
                               expected, rtol=1e-5, atol=1e-6)


def test_cat_avg_max_puts_averages_first_as_timm():
    x = np.array([[1.0, 10.0], [3.0, 20.0]], "float32").reshape(1, 2, 2)
    np.testing.assert_array_equal(_np(global_cat_avg_max_pool(x)), [[2.0, 15.0, 3.0, 20.0]])
    first = np.moveaxis(x, -1, 1)  # (1, C, steps)
    out = _np(global_cat_avg_max_pool(first, data_format="channels_first", keepdims=True))
    np.testing.assert_array_equal(out, np.array([2.0, 15.0, 3.0, 20.0]).reshape(1, 4, 1))


@pytest.mark.parametrize("r", [0.5, 3.0, 40.0])
def test_lse_matches_reference_for_several_r(rng, r):
    x = ref.random_input(rng, 2)
    np.testing.assert_allclose(_np(GlobalLsePooling2D(r=r, trainable_r=False)(x)),
                               ref.global_(x, lse_reduce(r)), rtol=1e-5, atol=1e-6)


def test_lse_limits_are_the_max_and_the_mean(rng):
    x = ref.random_input(rng, 2)
    flat = x.reshape(2, -1, 3).astype(np.float64)
    # r -> inf: within log(n) / r of the max (here n = 42 cells).
    big = _np(global_lse_pool(x, r=1e4))
    np.testing.assert_array_less(flat.max(1) - big, np.log(42) / 1e4 + 1e-6)
    assert np.all(big <= flat.max(1) + 1e-6)
    # r -> 0: mean + r * var / 2 + O(r^2).
    small = _np(global_lse_pool(x, r=1e-4))
    np.testing.assert_allclose(small, flat.mean(1), rtol=0, atol=1e-4)
    tiny = _np(global_lse_pool(x, r=1e-7))
    np.testing.assert_allclose(tiny, flat.mean(1), rtol=0, atol=2e-6)
    # in between, increasing in r
    values = [_np(global_lse_pool(x, r=r)) for r in (0.1, 1.0, 10.0, 100.0)]
    assert all(np.all(a <= b + 1e-6) for a, b in zip(values, values[1:]))


@pytest.mark.parametrize("kind", list(CLASSES))
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_input_gradient_matches_finite_differences(rng, kind, data_format):
    # float32 (JAX runs without x64): mean and max are piecewise linear, LSE smooth,
    # so a central difference with eps = 1e-2 is accurate to ~1e-4.
    shape = (2, 3, 4, 3) if data_format == "channels_first" else (2, 4, 3, 3)
    x = rng.normal(size=shape).astype("float32")
    layer = CLASSES[kind][1](data_format=data_format)
    if kind == "lse":
        layer = GlobalLsePooling2D(r=2.0, trainable_r=False, data_format=data_format)
    weights = rng.normal(size=layer.compute_output_shape(x.shape)).astype("float32")

    def loss(v):
        return keras.ops.sum(keras.ops.multiply(layer(v), weights))

    _, grad = value_and_grad(lambda v: loss(v), x)
    direction = rng.normal(size=x.shape).astype("float32")
    eps = 1e-2
    numeric = (float(_np(loss(x + eps * direction))) - float(_np(loss(x - eps * direction)))) / (
        2 * eps)
    np.testing.assert_allclose(np.sum(grad * direction), numeric, rtol=1e-3, atol=1e-4)


def test_lse_gradient_in_r_matches_finite_differences(rng):
    x = rng.normal(size=(2, 5, 4, 3)).astype("float32")
    weights = rng.normal(size=(2, 3)).astype("float32")

    def loss(r):
        return keras.ops.sum(keras.ops.multiply(global_lse_pool(x, r=r), weights))

    _, grad = value_and_grad(loss, np.array(2.5, "float32"))
    eps = 1e-2
    numeric = (float(_np(loss(2.5 + eps))) - float(_np(loss(2.5 - eps)))) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-3)


def test_trainable_r_is_a_weight_kept_positive_and_learned(rng):
    layer = GlobalLsePooling2D(r=3.0)
    x = rng.normal(size=(4, 5, 5, 3)).astype("float32")
    layer.build(x.shape)
    assert [w.name for w in layer.trainable_weights] == ["r"]
    assert isinstance(layer.r.constraint, AtLeast)
    layer.r.assign(-2.0)
    np.testing.assert_allclose(_np(layer.r.constraint(layer.r)), 1e-4, rtol=1e-6)
    layer.r.assign(3.0)
    model = keras.Sequential([keras.Input((5, 5, 3)), layer])
    model.compile(keras.optimizers.SGD(1.0), "mse")
    target = np.full((4, 3), 10.0, "float32")
    model.fit(x, target, epochs=1, verbose=0)
    assert float(_np(layer.r)) != 3.0 and float(_np(layer.r)) >= 1e-4
    fixed = GlobalLsePooling2D(r=3.0, trainable_r=False)
    assert fixed.weights == [] and fixed.r == 3.0


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16", "float16", "bfloat16"])
@pytest.mark.parametrize("kind", list(CLASSES))
def test_half_precision_with_large_values_stays_finite(rng, kind, policy):
    x = rng.uniform(-3e4, 3e4, size=(2, 6, 6, 3)).astype("float32")
    x[0, 0, 0] = 6e4  # near float16's max (65504): exp must never see it unshifted
    layer = CLASSES[kind][1](dtype=policy)
    out = layer(x)
    assert keras.backend.standardize_dtype(out.dtype) == policy.replace("mixed_", "")
    out = _np(keras.ops.cast(out, "float32"))
    assert np.all(np.isfinite(out))
    half = _np(keras.ops.cast(keras.ops.cast(x, policy.replace("mixed_", "")), "float32"))
    np.testing.assert_allclose(out, _reference(kind, half), rtol=1e-2, atol=64)
    _, grad = value_and_grad(lambda v: keras.ops.cast(layer(v), "float32"), x)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("shape", [(8, 3), (None, 3), (None, None, 3), (7, None, 5, None)])
def test_ops_take_symbolic_inputs(shape):
    x = keras.Input(shape)
    rank = len(shape) - 1
    channels = shape[-1]
    for fn, factor in [(global_avg_max_pool, 1), (global_lse_pool, 1),
                       (global_cat_avg_max_pool, 2)]:
        doubled = None if channels is None else factor * channels
        assert tuple(fn(x).shape) == (None, doubled)
        assert tuple(fn(x, keepdims=True).shape) == (None, *(1,) * rank, doubled)
        first = None if shape[0] is None else factor * shape[0]
        assert tuple(fn(x, data_format="channels_first", keepdims=True).shape) == (
            None, first, *(1,) * rank)


# -- the layer contract ---------------------------------------------------------


class LayerTest(testing.TestCase):
    @parameterized.named_parameters(
        (f"{kind}_{rank}d_{keepdims}_{data_format}", kind, rank, keepdims, data_format)
        for kind in CLASSES for rank in (1, 2, 3)
        for keepdims, data_format in [(False, "channels_last"), (True, "channels_first")]
    )
    def test_run_layer_test(self, kind, rank, keepdims, data_format):
        spatial = (5, 4, 3)[:rank]
        shape = (2, *spatial, 3) if data_format == "channels_last" else (2, 3, *spatial)
        channels = 6 if kind == "cat_avg_max" else 3
        if not keepdims:
            expected = (2, channels)
        elif data_format == "channels_last":
            expected = (2, *(1,) * rank, channels)
        else:
            expected = (2, channels, *(1,) * rank)
        self.run_layer_test(
            CLASSES[kind][rank - 1],
            init_kwargs={"keepdims": keepdims, "data_format": data_format},
            input_shape=shape,
            expected_output_shape=expected,
            expected_num_trainable_weights=1 if kind == "lse" else 0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
        )


def test_compute_output_shape_with_unknown_dims():
    assert GlobalCatAvgMaxPooling2D().compute_output_shape((None, None, None, 8)) == (None, 16)
    assert GlobalCatAvgMaxPooling3D(data_format="channels_first", keepdims=True) \
        .compute_output_shape((None, 4, None, None, None)) == (None, 8, 1, 1, 1)
    assert GlobalCatAvgMaxPooling1D().compute_output_shape((None, None, None)) == (None, None)
    assert GlobalLsePooling2D(keepdims=True).compute_output_shape((None, None, 7, 3)) == (
        None, 1, 1, 3)


def test_unknown_spatial_sizes(rng):
    inputs = keras.Input((None, None, 3))
    heads = [GlobalAvgMaxPooling2D()(inputs), GlobalCatAvgMaxPooling2D()(inputs),
             GlobalLsePooling2D()(inputs)]
    model = keras.Model(inputs, keras.layers.Concatenate()(heads))
    assert model.output_shape == (None, 12)
    for size in (5, 9):
        x = rng.normal(size=(2, size, size, 3)).astype("float32")
        np.testing.assert_allclose(model.predict(x, verbose=0), _np(model(x)), rtol=1e-5,
                                   atol=1e-5)


def test_get_config_round_trip_and_keras_file(tmp_path, rng):
    layer = GlobalLsePooling3D(r=4.5, trainable_r=False, data_format="channels_first",
                               keepdims=True)
    clone = GlobalLsePooling3D.from_config(layer.get_config())
    for key in ("r_init", "trainable_r", "data_format", "keepdims"):
        assert getattr(clone, key) == getattr(layer, key), key
    cat = GlobalCatAvgMaxPooling1D(keepdims=True, data_format="channels_first")
    assert GlobalCatAvgMaxPooling1D.from_config(cat.get_config()).keepdims is True
    inputs = keras.Input((6, 5, 3))
    lse = GlobalLsePooling2D(r=2.0)
    outputs = [GlobalAvgMaxPooling2D()(inputs), GlobalCatAvgMaxPooling2D()(inputs), lse(inputs)]
    model = keras.Model(inputs, keras.layers.Concatenate()(outputs))
    lse.r.assign(7.25)  # the learned r must survive the round trip
    x = rng.normal(size=(2, 6, 5, 3)).astype("float32")
    path = tmp_path / "heads.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), reloaded.predict(x, verbose=0))
    reloaded_lse = [layer for layer in reloaded.layers if isinstance(layer, GlobalLsePooling2D)]
    assert float(_np(reloaded_lse[0].r)) == 7.25


BAD_ARGUMENTS = [
    (GlobalLsePooling2D, {"r": 0}, "r=0"),
    (GlobalLsePooling2D, {"r": -1.0}, "r=-1.0"),
    (GlobalLsePooling2D, {"r": float("inf")}, "r=inf"),
    (GlobalLsePooling2D, {"r": float("nan")}, "r=nan"),
    (GlobalLsePooling2D, {"r": "10"}, "r='10'"),
    (GlobalLsePooling2D, {"r": True}, "r=True"),
    (GlobalLsePooling2D, {"trainable_r": "yes"}, "trainable_r='yes'"),
    (GlobalLsePooling1D, {"keepdims": 1}, "keepdims=1"),
    (GlobalAvgMaxPooling2D, {"data_format": "NHWC"}, "data_format='NHWC'"),
    (GlobalCatAvgMaxPooling3D, {"keepdims": "no"}, "keepdims='no'"),
]


@pytest.mark.parametrize("cls,kwargs,message", BAD_ARGUMENTS)
def test_bad_arguments_raise_value_error_naming_argument_and_value(cls, kwargs, message):
    with pytest.raises(ValueError) as error:
        cls(**kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize("r", [0.0, -2.0, float("inf"), None])
def test_lse_op_rejects_bad_r(r):
    with pytest.raises(ValueError, match=f"r={r!r}"):
        global_lse_pool(np.zeros((1, 4, 2), "float32"), r=r)


@pytest.mark.parametrize("cls", [c for classes in CLASSES.values() for c in classes])
def test_wrong_input_rank_raises_value_error(cls):
    with pytest.raises(ValueError, match="ndim"):
        cls()(np.zeros((2,) + (4,) * (cls.rank + 1) + (3,), "float32"))


@pytest.mark.parametrize("fn", list(OPS.values()))
def test_ops_reject_wrong_rank(fn):
    with pytest.raises(ValueError, match="input shape"):
        fn(np.zeros((4, 4), "float32"))
