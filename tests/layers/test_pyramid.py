"""Spatial pyramid pooling: PyTorch's adaptive pools per level, TF-Addons' layout,
gradients, the fast path against the general one, unknown spatial sizes, and
the layer contract (run_layer_test, configs, .keras, errors, half precision, jit)."""

import itertools

import keras
import numpy as np
import pytest
import torch
from absl.testing import parameterized
from keras.src import testing

from keras_pool.layers.pyramid_pooling import (
    SpatialPyramidPooling1D,
    SpatialPyramidPooling2D,
    SpatialPyramidPooling3D,
)
from keras_pool.ops import window
from keras_pool.ops.pyramid_pooling import adaptive_bounds, spatial_pyramid_pool
from tests.backend_utils import compile_fn, value_and_grad

LAYERS = {1: SpatialPyramidPooling1D, 2: SpatialPyramidPooling2D, 3: SpatialPyramidPooling3D}
# Sizes per rank: divisible by the bins, not divisible, and smaller than the bins.
SIZES = {1: [(8,), (7,), (3,), (1,)], 2: [(8, 8), (7, 5), (3, 2), (1, 6)],
         3: [(4, 4, 4), (5, 3, 7), (2, 1, 3)]}
BINS = (1, 2, 3, 4)


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture(params=[True, False], ids=["fast", "general"])
def fast_paths(request, monkeypatch):
    monkeypatch.setattr(window, "_FAST_PATHS", request.param)
    return request.param


def _torch_levels(x_cl, bins, mode):
    """PyTorch's adaptive pools of a channels_last array, one (N, b**rank, C) per level."""
    rank = x_cl.ndim - 2
    xt = torch.tensor(np.moveaxis(x_cl, -1, 1))
    pool = getattr(torch.nn.functional, f"adaptive_{mode}_pool{rank}d")
    levels = []
    for b in bins:
        out = pool(xt, b)
        levels.append(np.moveaxis(out.numpy().reshape(*out.shape[:2], -1), 1, -1))
    return levels


def _numpy_pyramid(x_cl, bins, mode):
    """Independent float64 reference: every bin walked with its PyTorch bounds."""
    x = np.asarray(x_cl, np.float64)
    spatial = x.shape[1:-1]
    reduce = np.max if mode == "max" else np.mean
    rows = []
    for b in bins:
        bounds = [[(i * n // b, -(-(i + 1) * n // b)) for i in range(b)] for n in spatial]
        for index in itertools.product(range(b), repeat=len(spatial)):  # row-major order
            region = tuple(slice(*bounds[axis][i]) for axis, i in enumerate(index))
            cells = x[(slice(None),) + region].reshape(x.shape[0], -1, x.shape[-1])
            rows.append(reduce(cells, axis=1))
    return np.stack(rows, axis=1)  # (N, bins, C)


def _jit_on_jax(fn):
    """`fn` jitted on JAX, whose op-by-op gradients compile every small op apart
    (minutes for these tests); TensorFlow and PyTorch run it as it is."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    return fn


def _split(out, bins, rank):
    sizes = np.cumsum([b**rank for b in bins])[:-1]
    return np.split(out, sizes, axis=1)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("rank,spatial", [(r, s) for r in SIZES for s in SIZES[r]])
def test_each_level_matches_torch_adaptive_pooling(rng, fast_paths, rank, spatial, mode):
    x = rng.normal(size=(2, *spatial, 3)).astype("float32")
    out = _np(spatial_pyramid_pool(x, BINS, mode))
    assert out.shape == (2, sum(b**rank for b in BINS), 3)
    for b, ours, expected in zip(BINS, _split(out, BINS, rank), _torch_levels(x, BINS, mode)):
        if mode == "max":
            np.testing.assert_array_equal(ours, expected, err_msg=f"bins={b}")
        else:
            np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6, err_msg=f"bins={b}")


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_layout_matches_numpy_reference(rng, fast_paths, rank, mode, data_format):
    """TF-Addons' layout: (N, bins, C), or (N, C, bins) for channels_first; levels in
    the order given, each flattened row-major."""
    bins = (3, 1, 2)
    x = rng.normal(size=(2, *SIZES[rank][1], 4)).astype("float32")
    expected = _numpy_pyramid(x, bins, mode)
    layer = LAYERS[rank](bins, mode, data_format)
    if data_format == "channels_first":
        x, expected = np.moveaxis(x, -1, 1), np.moveaxis(expected, -1, 1)
    out = _np(layer(x))
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    assert out.shape == layer.compute_output_shape(x.shape)


def test_adaptive_bounds_are_pytorch_s():
    assert adaptive_bounds(5, 3) == [(0, 2), (1, 3), (3, 2)]  # floor(i n/b) .. ceil((i+1) n/b)
    assert adaptive_bounds(2, 4) == [(0, 1), (0, 1), (1, 1), (1, 1)]  # b > n repeats cells
    assert adaptive_bounds(8, 4) == [(0, 2), (2, 2), (4, 2), (6, 2)]


@pytest.mark.parametrize("rank,spatial", [(1, (7,)), (2, (5, 6)), (3, (3, 4, 2))])
def test_max_gradient_goes_to_each_bin_maximum_as_torch_s(rng, fast_paths, rank, spatial):
    x = rng.normal(size=(2, *spatial, 3)).astype("float32")
    _, grad = value_and_grad(_jit_on_jax(lambda v: spatial_pyramid_pool(v, BINS, "max")), x)
    xt = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    pool = getattr(torch.nn.functional, f"adaptive_max_pool{rank}d")
    sum(pool(xt, b).sum() for b in BINS).backward()
    np.testing.assert_array_equal(grad, np.moveaxis(xt.grad.numpy(), 1, -1))


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("rank,spatial", [(1, (7,)), (2, (5, 3)), (3, (3, 2, 3))])
def test_gradient_matches_finite_differences(rng, fast_paths, rank, spatial, mode):
    # float32, as the fast path runs; both reductions are piecewise linear, so a
    # difference quotient is exact up to rounding away from ties.
    x = rng.normal(size=(1, *spatial, 2)).astype("float32")
    weights = rng.normal(size=(1, sum(b**rank for b in BINS), 2)).astype("float32")

    @_jit_on_jax
    def loss(v):
        return keras.ops.sum(keras.ops.multiply(spatial_pyramid_pool(v, BINS, mode), weights))

    _, grad = value_and_grad(loss, x)
    direction = rng.normal(size=x.shape).astype("float32")
    eps = 1e-3
    numeric = (float(_np(loss(x + eps * direction))) - float(_np(loss(x - eps * direction)))) / (
        2 * eps)
    np.testing.assert_allclose(np.sum(grad * direction), numeric, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_fast_path_equals_general_path_with_gradients(rng, monkeypatch, rank, mode):
    x = rng.normal(size=(2, *SIZES[rank][1], 3)).astype("float32")
    results = {}
    for fast in (True, False):
        monkeypatch.setattr(window, "_FAST_PATHS", fast)
        results[fast] = value_and_grad(
            _jit_on_jax(lambda v: spatial_pyramid_pool(v, BINS, mode)), x)
    np.testing.assert_allclose(results[True][0], results[False][0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(results[True][1], results[False][1], rtol=1e-6, atol=1e-6)


# -- unknown spatial sizes ------------------------------------------------------


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_model_with_unknown_spatial_sizes_builds_and_runs_on_two_sizes(rng, mode):
    keras.utils.set_random_seed(0)
    pyramid = SpatialPyramidPooling2D((1, 2, 4), mode)
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Dense(5)(keras.layers.Flatten()(pyramid(inputs))))
    assert model.output_shape == (None, 5)
    assert pyramid.output.shape == (None, 21, 3)
    for size in [(9, 7), (16, 16), (3, 2)]:
        x = rng.normal(size=(2, *size, 3)).astype("float32")
        out = model.predict(x, verbose=0)  # TensorFlow: a graph with unknown sizes
        assert out.shape == (2, 5)
        np.testing.assert_allclose(out, _np(model(x)), rtol=1e-5, atol=1e-5)
        expected = _numpy_pyramid(x, (1, 2, 4), mode)
        np.testing.assert_allclose(_np(pyramid(x)), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="only TensorFlow graphs have run-time (dynamic) spatial sizes")
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_dynamic_sizes_in_a_tensorflow_graph_match_eager_values_and_gradients(
        rng, rank, data_format):
    import tensorflow as tf

    shape = (None,) * (rank + 1) + (3,)
    if data_format == "channels_first":
        shape = (None, 3) + (None,) * rank
    for mode in ("max", "avg"):
        layer = LAYERS[rank]((1, 2, 3), mode, data_format)

        @tf.function(input_signature=[tf.TensorSpec(shape)])
        def graph(v, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(v)
                y = layer(v)
                loss = tf.reduce_sum(y * y)
            return y, tape.gradient(loss, v)

        for spatial in [(5, 4, 3)[:rank], (2, 7, 1)[:rank]]:
            x = rng.normal(size=(2, *spatial, 3)).astype("float32")
            if data_format == "channels_first":
                x = np.moveaxis(x, -1, 1)
            y, grad = graph(x)
            assert y.shape[1:] == layer.compute_output_shape(x.shape)[1:]
            eager, eager_grad = value_and_grad(lambda v, layer=layer: layer(v) * layer(v), x)
            np.testing.assert_allclose(y.numpy() ** 2, eager, rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(grad.numpy(), eager_grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(8, 3), (None, 3), (None, None, 3), (7, None, 5, 2)])
def test_op_takes_symbolic_inputs(shape):
    x = keras.Input(shape)
    rank = len(shape) - 1
    out = spatial_pyramid_pool(x, (1, 2))
    assert isinstance(out, keras.KerasTensor)
    assert tuple(out.shape) == (None, 1 + 2**rank, shape[-1])
    first = spatial_pyramid_pool(x, (1, 2), data_format="channels_first")
    assert tuple(first.shape) == (None, shape[0], 1 + 2**rank)


# -- the layer contract ---------------------------------------------------------


class LayerTest(testing.TestCase):
    @parameterized.named_parameters(
        (f"{rank}d_{mode}_{data_format}", rank, mode, data_format)
        for rank in (1, 2, 3) for mode in ("max", "avg")
        for data_format in ("channels_last", "channels_first")
    )
    def test_run_layer_test(self, rank, mode, data_format):
        spatial = SIZES[rank][1]
        shape = (2, *spatial, 3) if data_format == "channels_last" else (2, 3, *spatial)
        total = sum(b**rank for b in (1, 2, 4))
        expected = (2, total, 3) if data_format == "channels_last" else (2, 3, total)
        self.run_layer_test(
            LAYERS[rank],
            init_kwargs={"bins": (1, 2, 4), "mode": mode, "data_format": data_format},
            input_shape=shape,
            expected_output_shape=expected,
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
        )


def test_compute_output_shape_with_unknown_dims():
    layer = SpatialPyramidPooling2D((1, 3))
    assert layer.compute_output_shape((None, None, None, 8)) == (None, 10, 8)
    first = SpatialPyramidPooling3D((2,), data_format="channels_first")
    assert first.compute_output_shape((None, None, None, 5, None)) == (None, None, 8)


def test_get_config_round_trip_and_keras_file(tmp_path, rng):
    layer = SpatialPyramidPooling2D([4, 1], "avg", "channels_first", name="spp")
    clone = SpatialPyramidPooling2D.from_config(layer.get_config())
    for key in ("bins", "mode", "data_format", "name"):
        assert getattr(clone, key) == getattr(layer, key), key
    assert clone.bins == (4, 1)
    inputs = [keras.Input((None, 3)), keras.Input((6, 5, 3)), keras.Input((None, 4, None, 3))]
    outputs = [keras.layers.Flatten()(cls((1, 2), mode)(x))
               for x, cls, mode in zip(inputs, LAYERS.values(), ("max", "avg", "max"))]
    model = keras.Model(inputs, keras.layers.Concatenate()(outputs))
    data = [rng.normal(size=(2, *shape, 3)).astype("float32")
            for shape in [(9,), (6, 5), (3, 4, 5)]]
    path = tmp_path / "spp.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(model.predict(data, verbose=0),
                                  reloaded.predict(data, verbose=0))
    assert {type(layer) for layer in reloaded.layers} >= set(LAYERS.values())


BAD_ARGUMENTS = [
    ({"bins": 4}, "bins=4"),
    ({"bins": ()}, "bins=()"),
    ({"bins": (1, 0)}, "bins=(1, 0)"),
    ({"bins": (2, 2.0)}, "bins=(2, 2.0)"),
    ({"bins": ((2, 2),)}, "bins=((2, 2),)"),
    ({"bins": (True,)}, "bins=(True,)"),
    ({"bins": "124"}, "bins='124'"),
    ({"mode": "min"}, "mode='min'"),
    ({"mode": None}, "mode=None"),
    ({"data_format": "NHWC"}, "data_format='NHWC'"),
]


@pytest.mark.parametrize("kwargs,message", BAD_ARGUMENTS)
def test_bad_arguments_raise_value_error_naming_argument_and_value(kwargs, message):
    with pytest.raises(ValueError) as error:
        SpatialPyramidPooling2D(**kwargs)
    assert message in str(error.value)
    with pytest.raises(ValueError) as error:
        spatial_pyramid_pool(np.zeros((1, 4, 4, 1), "float32"), **kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_wrong_input_rank_raises_value_error(rank):
    with pytest.raises(ValueError, match="ndim"):
        LAYERS[rank]()(np.zeros((2,) + (4,) * (rank + 1) + (3,), "float32"))
    with pytest.raises(ValueError, match="input shape"):
        spatial_pyramid_pool(np.zeros((4, 4), "float32"))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16", "float16", "bfloat16"])
def test_half_precision_policies(rng, fast_paths, policy):
    x = rng.uniform(-6e3, 6e3, size=(2, 7, 5, 3)).astype("float32")
    for mode in ("max", "avg"):
        layer = SpatialPyramidPooling2D(mode=mode, dtype=policy)
        out = layer(x)
        assert keras.backend.standardize_dtype(out.dtype) == policy.replace("mixed_", "")
        half = _np(keras.ops.cast(keras.ops.cast(x, out.dtype), "float32"))
        expected = _numpy_pyramid(half, (1, 2, 4), mode)
        np.testing.assert_allclose(_np(keras.ops.cast(out, "float32")), expected,
                                   rtol=1e-2, atol=64)  # 2 bfloat16 ulps at 6e3
        _, grad = value_and_grad(lambda v: keras.ops.cast(layer(v), "float32"), x)
        assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_compiled_calls_match_eager(rng, fast_paths, rank):
    x = rng.normal(size=(2, *SIZES[rank][1], 3)).astype("float32")
    for mode in ("max", "avg"):
        layer = LAYERS[rank]((1, 2, 3), mode)
        np.testing.assert_allclose(_np(compile_fn(layer)(x)), _np(layer(x)), rtol=1e-6,
                                   atol=1e-6)
