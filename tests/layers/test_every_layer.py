"""What every layer and every `keras_pool.ops` function owes its users alike:
symbolic (`keras.Input`) inputs, a clear error for a window larger than the
input, half-precision policies, and compiled (XLA/jit) calls equal to eager."""

import keras
import numpy as np
import pytest

import keras_pool
from keras_pool import ops as pool_ops
from tests.backend_utils import compile_fn, value_and_grad

# Every windowed layer family, built from (pool_size, strides, padding).
WINDOWED = {
    "min": lambda rank, *args, **kw: _cls("MinPooling", rank)(*args, **kw),
    "lp": lambda rank, *args, **kw: _cls("LpPooling", rank)(*args, p=3.0, **kw),
    "stochastic": lambda rank, *args, **kw: _cls("StochasticPooling", rank)(*args, seed=1, **kw),
    "mixed": lambda rank, *args, **kw: _cls("MixedPooling", rank)(*args, mixing="channel", **kw),
    "gated": lambda rank, *args, **kw: _cls("GatedPooling", rank)(*args, gating="channel", **kw),
    "soft": lambda rank, *args, **kw: _cls("SoftPooling", rank)(*args, **kw),
    "max_blur": lambda rank, k, s, padding, **kw: _cls("MaxBlurPooling", rank)(
        k, s, 3, padding, "replicate", **kw),
}
GLOBAL = ("GlobalMinPooling", "GlobalLpPooling", "GlobalStochasticPooling", "GlobalSoftPooling",
          "GlobalAvgMaxPooling", "GlobalCatAvgMaxPooling", "GlobalLsePooling")


def _cls(family, rank):
    return getattr(keras_pool, f"{family}{rank}D")


def _every_layer(rank, **kw):
    layers = [make(rank, 3, 2, "same", **kw) for make in WINDOWED.values()]
    layers += [_cls(family, rank)(**kw) for family in GLOBAL]
    layers.append(_cls("BlurPooling", rank)(**kw))
    return layers


def _np(x):
    return keras.ops.convert_to_numpy(x)


# -- symbolic inputs ---------------------------------------------------------

WINDOWED_OPS = [
    ("min_pool", pool_ops.min_pool, {}),
    ("lp_pool", pool_ops.lp_pool, {"p": 3.0}),
    ("stochastic_pool", pool_ops.stochastic_pool, {}),
    ("mixed_pool", pool_ops.mixed_pool, {"alpha": 0.3}),
    ("soft_pool", pool_ops.soft_pool, {}),
]


@pytest.mark.parametrize("name,fn,kwargs", WINDOWED_OPS, ids=[c[0] for c in WINDOWED_OPS])
@pytest.mark.parametrize("shape", [(8, 3), (None, 3), (None, None, 3), (7, None, 5, 2)])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_windowed_ops_take_symbolic_inputs_as_keras_ops_do(name, fn, kwargs, shape, padding):
    x = keras.Input(shape)
    out = fn(x, 2, 1, padding, **kwargs)
    expected = keras.ops.max_pool(x, 2, 1, padding)
    assert isinstance(out, keras.KerasTensor)
    assert tuple(out.shape) == tuple(expected.shape) and out.dtype == x.dtype


@pytest.mark.parametrize("shape", [(8, 3), (None, 3), (None, None, 3)])
def test_other_ops_take_symbolic_inputs(shape):
    x = keras.Input(shape)
    rank = len(shape) - 1
    kernel = np.zeros((2,) * rank, "float32")
    assert tuple(pool_ops.gated_pool(x, kernel, 1).shape) == tuple(
        keras.ops.max_pool(x, 2, 1).shape)
    blurred = (None, *(None if n is None else (n + 1) // 2 for n in shape[:-1]), shape[-1])
    assert tuple(pool_ops.blur_pool(x).shape) == blurred
    assert tuple(pool_ops.max_blur_pool(x, padding="same").shape) == blurred
    for fn in (pool_ops.global_min_pool, pool_ops.global_lp_pool,
               pool_ops.global_stochastic_pool, pool_ops.global_soft_pool):
        assert tuple(fn(x).shape) == (None, shape[-1])
        assert tuple(fn(x, keepdims=True).shape) == (None, *(1,) * rank, shape[-1])
        first = fn(x, data_format="channels_first")
        assert tuple(first.shape) == tuple(keras.ops.max(x, axis=tuple(range(2, rank + 2))).shape)


# -- a window larger than the input ------------------------------------------


@pytest.mark.parametrize("family", list(WINDOWED))
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_window_larger_than_input_is_a_value_error_naming_the_sizes(family, data_format):
    layer = WINDOWED[family](2, 4, 1, "valid", data_format=data_format)
    x = np.ones((1, 3, 5, 2) if data_format == "channels_last" else (1, 2, 3, 5), "float32")
    message = r"pool window \(4, 4\) is larger than the input's spatial size \(3, 5\)"
    with pytest.raises(ValueError, match=message):
        layer(x)
    with pytest.raises(ValueError, match=message):
        layer.compute_output_shape(x.shape)
    # "same" pads every axis to at least one window.
    same = WINDOWED[family](2, 4, 1, "same", data_format=data_format)
    assert tuple(same(x).shape) == x.shape


def test_window_larger_than_a_symbolic_input_fails_when_the_model_is_built():
    with pytest.raises(ValueError, match="larger than the input"):
        keras_pool.LpPooling1D(5)(keras.Input((4, 3)))
    with pytest.raises(ValueError, match="larger than the input"):
        pool_ops.soft_pool(keras.Input((None, 4, 3)), 5)


# -- half precision ----------------------------------------------------------


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16", "float16", "bfloat16"])
def test_half_precision_policies_stay_finite_with_finite_gradients(rng, policy):
    # Values up to 6e3: exp(x) must never be taken unshifted, and a 3x3 Lp norm
    # (up to 3x the max) still fits fp16 (max 65504).
    x = (rng.uniform(-6e3, 6e3, size=(2, 8, 8, 3))).astype("float32")
    for layer in _every_layer(2, dtype=policy):
        out = layer(x)
        assert keras.backend.standardize_dtype(out.dtype) == policy.replace("mixed_", ""), layer
        assert np.all(np.isfinite(_np(keras.ops.cast(out, "float32")))), layer.name
        _, grad = value_and_grad(lambda v: keras.ops.cast(layer(v), "float32"), x)
        assert np.all(np.isfinite(grad)), layer.name


# -- compiled calls ------------------------------------------------------------


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_compiled_calls_match_eager(rng, rank):
    x = rng.normal(size=(2, *(9,) * rank, 3)).astype("float32")
    for layer in _every_layer(rank):
        eager = _np(layer(x))  # builds the layer
        if layer.weights:
            variables = [v.value for v in layer.trainable_variables]

            def call(v, variables=variables, layer=layer):
                return layer.stateless_call(variables, [], v)[0]
        else:
            call = layer
        compiled = compile_fn(call)
        np.testing.assert_allclose(_np(compiled(x)), eager, rtol=1e-5, atol=1e-6,
                                   err_msg=layer.name)
