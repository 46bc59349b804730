"""Fractional max pooling: PyTorch's windows, values and gradients (2D, 3D), a
float64 NumPy reference of the same rule (1D), the layer contract, seeds,
compiled calls, fast paths and errors."""

import itertools
import math

import keras
import numpy as np
import pytest
from absl.testing import parameterized
from keras.src import testing

from keras_pool.layers.fractional_pooling import (
    FractionalMaxPooling1D,
    FractionalMaxPooling2D,
    FractionalMaxPooling3D,
)
from keras_pool.ops import fractional_pooling as fractional
from keras_pool.ops import window
from keras_pool.ops.fractional_pooling import fractional_max_pool
from tests.backend_utils import (
    assert_seeded_draws_reproduce_and_advance,
    compile_fn,
    value_and_grad,
)

LAYERS = {1: FractionalMaxPooling1D, 2: FractionalMaxPooling2D, 3: FractionalMaxPooling3D}


def _np(x):
    return keras.ops.convert_to_numpy(x)


# -- NumPy reference of PyTorch's rule -----------------------------------------


def ref_starts(u, n, out, k, dtype):
    """PyTorch's generate_intervals for one sample, in `dtype` (its scalar_t)."""
    if out == 1:
        return [n - k]
    alpha = dtype(n - k) / dtype(out - 1)
    u = dtype(u)
    return [int((dtype(i) + u) * alpha) - int(u * alpha) for i in range(out - 1)] + [n - k]


def ref_fractional(x, output_size, pool_size, samples, upstream):
    """Channels_first float64 value and input gradient (upstream `upstream`):
    each window walked in row-major order, `v > best or isnan(v)` picks."""
    x = np.asarray(x)
    dtype = np.float64 if x.dtype == np.float64 else np.float32
    rank = x.ndim - 2
    y = np.zeros(x.shape[:2] + tuple(output_size))
    grad = np.zeros(x.shape, np.float64)
    for b, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        starts = [ref_starts(samples[b, c, col], n, o, k, dtype) for col, n, o, k in zip(
            fractional.SAMPLE_COLUMNS[rank], x.shape[2:], output_size, pool_size)]
        for index in itertools.product(*(range(o) for o in output_size)):
            cells = itertools.product(*(range(s[i], s[i] + k)
                                        for s, i, k in zip(starts, index, pool_size)))
            first = next(cells)
            best, where = float(x[(b, c) + first]), first
            for cell in cells:
                v = float(x[(b, c) + cell])
                if v > best or math.isnan(v):
                    best, where = v, cell
            y[(b, c) + index] = best
            grad[(b, c) + where] += upstream[(b, c) + index]
    return y, grad


def test_reference_starts_match_torch_own_windows():
    """The reference rule reproduces PyTorch's windows (its maxima's positions)."""
    torch = pytest.importorskip("torch")
    x = torch.arange(23.0).reshape(1, 1, 1, 23)  # increasing: the max is a window's last cell
    for out, k, u in [(16, 2, 0.3), (7, 3, 0.9), (11, 2, 0.01), (1, 2, 0.5)]:
        s = torch.tensor([[[u, 0.5]]])  # [W, H]
        _, idx = torch.nn.functional.fractional_max_pool2d(
            x, (1, k), output_size=(1, out), _random_samples=s, return_indices=True)
        starts = [int(i) - k + 1 for i in idx.ravel()]
        assert starts == ref_starts(u, 23, out, k, np.float32)


# -- PyTorch equality ------------------------------------------------------------

CASES_2D = [  # (input spatial, output_size, pool_size)
    ((9, 11), (5, 7), 2),
    ((25, 25), (17, 17), 2),  # overlapping windows
    ((24, 24), (12, 12), 2),  # alpha = 2: windows tile, nothing overlaps
    ((10, 13), (4, 6), 3),
    ((7, 5), (1, 1), 2),  # out = 1: one window at n - pool_size
    ((11, 8), (6, 1), (2, 3)),  # non-square window
    ((13, 6), (8, 4), (3, 2)),
]
CASES_3D = [
    ((7, 8, 9), (4, 5, 6), 2),
    ((6, 9, 5), (3, 6, 1), (2, 3, 2)),  # PyTorch 3D wants out + k - 1 < n (2D: <=)
    ((6, 5, 8), (4, 3, 4), 2),
]


def _overlaps(spatial, output_size, pool_size):
    """Whether some cell lies in two windows of an axis (alpha < pool_size)."""
    pool_size = (pool_size,) * len(spatial) if isinstance(pool_size, int) else pool_size
    return any(o > 1 and (n - k) / (o - 1) < k for n, o, k in zip(spatial, output_size, pool_size))


def _torch_value_and_grad(x, output_size, pool_size, samples, upstream):
    torch = pytest.importorskip("torch")
    rank = x.ndim - 2
    fn = {2: torch.nn.functional.fractional_max_pool2d,
          3: torch.nn.functional.fractional_max_pool3d}[rank]
    tx = torch.tensor(x, requires_grad=True)
    ty = fn(tx, pool_size, output_size=output_size, _random_samples=torch.tensor(samples))
    ty.backward(torch.tensor(upstream))
    return ty.detach().numpy(), tx.grad.numpy()


def _ours(x, output_size, pool_size, samples, upstream, data_format="channels_first"):
    """Our value and input gradient for upstream gradient `upstream`."""
    def fn(v):
        y = fractional_max_pool(v, output_size, pool_size, samples, data_format=data_format)
        return y * keras.ops.convert_to_tensor(upstream, y.dtype)

    return value_and_grad(fn, x)


def _skip_float64_without_x64(dtype):
    if dtype == "float64" and keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("JAX without x64 computes float64 inputs in float32")


def _assert_grads(grad, expected, dtype, overlapping):
    """Exact where no cell is in two windows; else up to float summation order:
    a cell that is the maximum of several windows sums their gradients, here
    in a scatter-add's order, in PyTorch's in output order (two terms commute
    exactly; three or more may round differently: 1e-6 relative in float32,
    1e-15 in float64)."""
    if not overlapping:
        np.testing.assert_array_equal(grad, expected)
    else:
        rtol = 1e-6 if dtype == "float32" else 1e-15
        np.testing.assert_allclose(grad, expected, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES_2D + CASES_3D, ids=str)
def test_values_and_gradients_match_torch(rng, case, dtype):
    _skip_float64_without_x64(dtype)
    spatial, output_size, pool_size = case
    rank = len(spatial)
    x = rng.normal(size=(2, 3, *spatial)).astype(dtype)
    samples = rng.uniform(size=(2, 3, rank)).astype(dtype)
    upstream = rng.normal(size=(2, 3, *output_size)).astype(dtype)
    expected, expected_grad = _torch_value_and_grad(x, output_size, pool_size, samples, upstream)
    y, _ = _ours(x, output_size, pool_size, samples, 1.0)
    np.testing.assert_array_equal(y, expected)
    _, grad = _ours(x, output_size, pool_size, samples, upstream)
    _assert_grads(grad, expected_grad, dtype, _overlaps(spatial, output_size, pool_size))


@pytest.mark.parametrize("case", CASES_2D[:4] + CASES_3D[:1], ids=str)
def test_ties_and_nans_go_where_torch_sends_them(rng, case):
    """Small integers (many tied maxima: the first in row-major order wins) and
    NaNs (a NaN wins its window, the last one of it): values and gradients exact."""
    spatial, output_size, pool_size = case
    rank = len(spatial)
    x = rng.integers(0, 3, size=(2, 3, *spatial)).astype("float32")
    x[rng.uniform(size=x.shape) < 0.05] = np.nan
    x[0, 0].flat[0] = np.inf
    x[1, 2].flat[-1] = -np.inf
    samples = rng.uniform(size=(2, 3, rank)).astype("float32")
    ones = np.ones((2, 3, *output_size), "float32")
    expected, expected_grad = _torch_value_and_grad(x, output_size, pool_size, samples, ones)
    y, grad = _ours(x, output_size, pool_size, samples, 1.0)
    np.testing.assert_array_equal(y, expected)  # NaNs in the same places
    np.testing.assert_array_equal(grad, expected_grad)


def test_sample_columns_are_width_then_height_in_2d_and_thw_in_3d(rng):
    """PyTorch's `_random_samples[..., 0]` places the WIDTH windows in 2D and
    [T, H, W] in 3D: changing one column moves only its axis' windows. (The
    input increases along every axis, so a window's maximum is its last cell.)"""
    torch = pytest.importorskip("torch")
    for rank, spatial in [(2, (13, 13)), (3, (9, 9, 9))]:
        x = np.arange(math.prod(spatial), dtype="float32").reshape((1, 1, *spatial))
        out = (6,) * rank
        base = np.full((1, 1, rank), 0.2, "float32")
        fn = {2: torch.nn.functional.fractional_max_pool2d,
              3: torch.nn.functional.fractional_max_pool3d}[rank]
        for column in range(rank):
            moved = base.copy()
            moved[..., column] = 0.6
            _, i0 = fn(torch.tensor(x), 2, output_size=out, return_indices=True,
                       _random_samples=torch.tensor(base))
            _, i1 = fn(torch.tensor(x), 2, output_size=out, return_indices=True,
                       _random_samples=torch.tensor(moved))
            coords0 = np.stack(np.unravel_index(i0.numpy().ravel(), spatial))
            coords1 = np.stack(np.unravel_index(i1.numpy().ravel(), spatial))
            changed = [a for a in range(rank) if not np.array_equal(coords0[a], coords1[a])]
            assert changed == [fractional.SAMPLE_COLUMNS[rank].index(column)]
            for samples in (base, moved):
                expected, _ = _torch_value_and_grad(x, out, 2, samples, np.ones((1, 1) + out,
                                                                                 "float32"))
                np.testing.assert_array_equal(
                    _np(fractional_max_pool(x, out, 2, samples, data_format="channels_first")),
                    expected)


# -- 1D against the NumPy reference ----------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n,out,k", [(11, 7, 2), (30, 21, 2), (16, 8, 2), (12, 5, 3), (6, 1, 2),
                                     (9, 8, 2)])
def test_1d_matches_the_numpy_reference(rng, dtype, n, out, k):
    _skip_float64_without_x64(dtype)
    x = rng.normal(size=(3, 2, n)).astype(dtype)
    x[0, 0, 2] = np.nan
    samples = rng.uniform(size=(3, 2, 1)).astype(dtype)
    upstream = rng.normal(size=(3, 2, out)).astype(dtype)
    y, _ = _ours(x, out, k, samples, 1.0)
    _, grad = _ours(x, out, k, samples, upstream)
    expected, expected_grad = ref_fractional(x, (out,), (k,), samples, upstream)
    np.testing.assert_array_equal(y, expected.astype(dtype))
    _assert_grads(grad, expected_grad.astype(dtype), dtype, _overlaps((n,), (out,), k))


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_channels_last_is_channels_first_transposed(rng, rank):
    spatial = (9, 8, 7)[:rank]
    x = rng.normal(size=(2, 4, *spatial)).astype("float32")
    samples = rng.uniform(size=(2, 4, rank)).astype("float32")
    out = (5, 6, 4)[:rank]
    first = _ours(x, out, 2, samples, 1.0)
    last = _ours(np.moveaxis(x, 1, -1), out, 2, samples, 1.0, "channels_last")
    for a, b in zip(first, last):
        np.testing.assert_array_equal(np.moveaxis(b, -1, 1), a)


# -- fast paths, clusters, compiled calls -----------------------------------------


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_fast_path_matches_general_path(monkeypatch, rng, rank):
    """TensorFlow's own gather (fast path) against `keras.ops.take`; on other
    backends both are the general path."""
    spatial, out = (11, 10, 9)[:rank], (7, 6, 5)[:rank]
    x = rng.normal(size=(2, *spatial, 3)).astype("float32")
    samples = rng.uniform(size=(2, 3, rank)).astype("float32")
    upstream = rng.normal(size=(2, *out, 3)).astype("float32")
    fast = _ours(x, out, 2, samples, upstream, "channels_last")
    monkeypatch.setattr(window, "_FAST_PATHS", False)
    general = _ours(x, out, 2, samples, upstream, "channels_last")
    for a, b in zip(fast, general):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_compiled_calls_match_eager(rng, rank):
    """XLA / jax.jit for fixed samples, and the layer's inference, equal eager."""
    spatial, out = (12, 11, 9)[:rank], (8, 7, 6)[:rank]
    x = rng.normal(size=(2, *spatial, 3)).astype("float32")
    samples = rng.uniform(size=(2, 3, rank)).astype("float32")

    def op(v):
        return fractional_max_pool(v, out, (2, 3, 2)[:rank], samples)

    np.testing.assert_array_equal(_np(compile_fn(op)(x)), _np(op(x)))
    layer = LAYERS[rank](output_ratio=0.7, seed=3)
    eager = _np(layer(x))  # built eagerly: jax.jit cannot create the layer's weight
    np.testing.assert_array_equal(_np(compile_fn(layer)(x)), eager)


def test_plain_tensorflow_graph_runs_the_xla_cluster_alike(rng):
    """In a plain tf.function the op runs as an XLA cluster: values and
    gradients equal eager's."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow graphs only")
    import tensorflow as tf

    x = rng.normal(size=(2, 25, 25, 3)).astype("float32")
    samples = rng.uniform(size=(2, 3, 2)).astype("float32")
    upstream = rng.normal(size=(2, 17, 17, 3)).astype("float32")

    def fn(v):
        return fractional_max_pool(v, 17, 2, samples) * upstream

    eager = value_and_grad(fn, x)

    @tf.function
    def graph(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            y = fn(v)
        return y, tape.gradient(y, v)

    for a, b in zip(eager, graph(tf.constant(x))):
        np.testing.assert_allclose(b.numpy(), a, rtol=1e-6, atol=1e-6)


# -- seeds and the layer's two modes -------------------------------------------------


def test_training_draws_fresh_reproducible_windows_and_inference_is_fixed(rng):
    x = rng.normal(size=(4, 25, 25, 3)).astype("float32")
    first, second = (FractionalMaxPooling2D(output_size=17, seed=42) for _ in range(2))
    a1, a2 = _np(first(x, training=True)), _np(first(x, training=True))
    np.testing.assert_array_equal(a1, _np(second(x, training=True)))  # a seed reproduces
    assert not np.array_equal(a1, a2)  # every call draws anew
    inference = _np(first(x))
    np.testing.assert_array_equal(inference, _np(first(x, training=False)))
    np.testing.assert_array_equal(inference, _np(second(x)))  # a seed fixes them too
    # one fixed draw per channel and axis, the same for every example
    fixed = np.random.default_rng(42).uniform(size=(3, 2)).astype("float32")
    np.testing.assert_array_equal(_np(first.inference_samples), fixed)
    samples = np.broadcast_to(fixed, (4, 3, 2))
    np.testing.assert_array_equal(inference, _np(fractional_max_pool(x, 17, 2, samples)))


def test_inference_windows_differ_between_channels_and_survive_saving(rng, tmp_path):
    x = np.tile(rng.normal(size=(1, 30, 1)).astype("float32"), (2, 1, 8))
    layer = FractionalMaxPooling1D(output_size=20)  # no seed: a random draw, then fixed
    out = _np(layer(x))
    assert len({out[0, :, j].tobytes() for j in range(8)}) > 2  # channels differ
    np.testing.assert_array_equal(out[0], out[1])  # examples share them
    model = keras.Sequential([keras.Input((30, 8)), layer])
    path = tmp_path / "fractional.keras"
    model.save(path)
    np.testing.assert_array_equal(_np(keras.saving.load_model(path)(x)), out)


def test_random_at_inference_draws_fresh_windows_at_inference(rng):
    x = rng.normal(size=(4, 25, 25, 3)).astype("float32")
    layer = FractionalMaxPooling2D(output_ratio=0.7, seed=1, random_at_inference=True)
    a, b = _np(layer(x)), _np(layer(x))
    assert a.shape == (4, 17, 17, 3) and not np.array_equal(a, b)
    average = np.mean([_np(layer(x)) for _ in range(4)], axis=0)  # Graham's test-time average
    assert np.all(np.isfinite(average))


def test_samples_are_per_example_and_channel(rng):
    """Training windows differ between examples and channels of one call."""
    x = np.tile(rng.normal(size=(1, 30, 1)).astype("float32"), (64, 1, 8))
    out = _np(FractionalMaxPooling1D(output_size=20, seed=0)(x, training=True))
    assert len({out[i, :, 0].tobytes() for i in range(64)}) > 4  # across examples
    assert len({out[0, :, j].tobytes() for j in range(8)}) > 2  # across channels


def test_compiled_stateless_calls_reproduce_and_advance(rng):
    layer = FractionalMaxPooling2D(output_ratio=0.7, seed=5)
    x = keras.ops.convert_to_tensor(rng.normal(size=(4, 16, 16, 3)).astype("float32"))
    assert_seeded_draws_reproduce_and_advance(layer, x)


# -- the layer contract -----------------------------------------------------------------


class LayerTest(testing.TestCase):
    @parameterized.named_parameters(
        ("1d_size_last", 1, {"output_size": 5}, "channels_last"),
        ("2d_ratio_first", 2, {"output_ratio": (0.7, 0.5)}, "channels_first"),
        ("3d_size_last", 3, {"output_size": (3, 4, 2), "pool_size": (2, 1, 3)}, "channels_last"),
    )
    def test_run_layer_test(self, rank, kwargs, data_format):
        spatial = (8, 9, 7)[:rank]
        shape = (2, *spatial, 3) if data_format == "channels_last" else (2, 3, *spatial)
        cls = LAYERS[rank]
        init = {**kwargs, "seed": 1, "data_format": data_format}
        self.run_layer_test(
            cls,
            init_kwargs=init,
            input_shape=shape,
            expected_output_shape=cls(**init).compute_output_shape(shape),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=1,  # the fixed inference windows
            expected_num_seed_generators=1,
            expected_num_losses=0,
            supports_masking=False,
        )


def test_get_config_round_trip_and_keras_file(tmp_path, rng):
    layer = FractionalMaxPooling3D(output_ratio=(0.5, 0.75, 0.9), pool_size=(2, 3, 1), seed=9,
                                   data_format="channels_first", random_at_inference=True)
    clone = FractionalMaxPooling3D.from_config(layer.get_config())
    for key in ("output_size", "output_ratio", "pool_size", "seed", "data_format",
                "random_at_inference"):
        assert getattr(clone, key) == getattr(layer, key), key
    inputs = [keras.Input((20, 3)), keras.Input((25, 25, 3)), keras.Input((6, 7, 8, 3))]
    outputs = [
        keras.layers.Flatten()(FractionalMaxPooling1D(output_size=13, seed=1)(inputs[0])),
        keras.layers.Flatten()(FractionalMaxPooling2D(output_ratio=0.7, pool_size=3)(inputs[1])),
        keras.layers.Flatten()(FractionalMaxPooling3D(output_size=(4, 5, 6))(inputs[2])),
    ]
    model = keras.Model(inputs, keras.layers.Concatenate()(outputs))
    data = [rng.normal(size=(2, *i.shape[1:])).astype("float32") for i in inputs]
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(model.predict(data, verbose=0), reloaded.predict(data, verbose=0))
    assert {type(layer) for layer in reloaded.layers} >= set(LAYERS.values())


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_compute_output_shape_with_unknown_sizes(data_format):
    def shape(spatial):
        return (None, *spatial, 3) if data_format == "channels_last" else (None, 3, *spatial)

    ratio = FractionalMaxPooling2D(output_ratio=(0.7, 0.5), data_format=data_format)
    assert ratio.compute_output_shape(shape((None, 25))) == shape((None, 12))
    assert ratio.compute_output_shape(shape((10, 25))) == shape((7, 12))
    size = FractionalMaxPooling2D(output_size=(6, 4), data_format=data_format)
    assert size.compute_output_shape(shape((None, None))) == shape((6, 4))
    symbolic = fractional_max_pool(keras.Input(shape((None, 9))[1:]), (6, 4),
                                   data_format=data_format)
    assert tuple(symbolic.shape) == shape((6, 4))


def test_unknown_spatial_dims_in_a_model(rng):
    """A model on keras.Input((None, None, 3)) builds on every backend (static
    sizes at each call); TensorFlow also runs it as one graph of unknown sizes."""
    model = keras.Sequential([
        keras.Input((None, None, 3)),
        FractionalMaxPooling2D(output_ratio=0.7, seed=0),
        FractionalMaxPooling2D(output_size=(3, 2)),
        keras.layers.GlobalMaxPooling2D(),
    ])
    assert model.output_shape == (None, 3)
    assert model.layers[0].compute_output_shape((None, None, None, 3)) == (None, None, None, 3)
    for size in (9, 16):
        x = rng.normal(size=(2, size, size + 1, 3)).astype("float32")
        out = model.predict(x, verbose=0)
        assert out.shape == (2, 3) and np.all(np.isfinite(out))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        layer = FractionalMaxPooling2D(output_ratio=(0.7, 0.5), seed=0)
        graph = tf.function(lambda v: layer(v, training=True),
                            input_signature=[tf.TensorSpec((None, None, None, 3))])
        for size in (9, 16):
            x = rng.normal(size=(2, size, size, 3)).astype("float32")
            out = graph(x).numpy()
            assert out.shape == (2, int(size * 0.7), int(size * 0.5), 3)
        infer = tf.function(lambda v: layer(v), input_signature=[tf.TensorSpec((None, 9, None, 3))])
        x = rng.normal(size=(2, 9, 11, 3)).astype("float32")
        np.testing.assert_array_equal(infer(x).numpy(), _np(layer(x)))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16", "float16", "bfloat16"])
def test_half_precision_policies_stay_finite_with_finite_gradients(rng, policy):
    x = rng.uniform(-6e3, 6e3, size=(2, 13, 13, 3)).astype("float32")
    for training in (False, True):
        layer = FractionalMaxPooling2D(output_size=9, pool_size=3, seed=0, dtype=policy)
        out = layer(x, training=training)
        assert keras.backend.standardize_dtype(out.dtype) == policy.replace("mixed_", "")
        assert np.all(np.isfinite(_np(keras.ops.cast(out, "float32"))))
        _, grad = value_and_grad(
            lambda v: keras.ops.cast(layer(v, training=training), "float32"), x)
        assert np.all(np.isfinite(grad)) and grad.sum() == 2 * 9 * 9 * 3


def test_fit_trains_and_predicts(rng):
    x = rng.normal(size=(32, 12, 12, 1)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0).astype("int32")
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        FractionalMaxPooling2D(output_ratio=0.7, seed=1),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2),
    ])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = _np(model.layers[0].kernel).copy()
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert not np.array_equal(before, _np(model.layers[0].kernel))
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


# -- errors -------------------------------------------------------------------------

BAD_LAYERS = [
    ({}, "Exactly one of `output_size` and `output_ratio`"),
    ({"output_size": 4, "output_ratio": 0.5}, "Exactly one of"),
    ({"output_ratio": 1.0}, "output_ratio=1.0"),
    ({"output_ratio": 0}, "output_ratio=0"),
    ({"output_ratio": (0.5, 1.5)}, r"output_ratio=\(0.5, 1.5\)"),
    ({"output_ratio": "half"}, "output_ratio='half'"),
    ({"output_size": 0}, "output_size=0"),
    ({"output_size": (4, 4, 4)}, r"output_size=\(4, 4, 4\)"),
    ({"output_size": 4, "pool_size": 0}, "pool_size=0"),
    ({"output_size": 4, "pool_size": (2, 2, 2)}, r"pool_size=\(2, 2, 2\)"),
    ({"output_size": 4, "data_format": "NHWC"}, "data_format='NHWC'"),
    ({"output_size": 4, "seed": "one"}, "seed='one'"),
    ({"output_size": 4, "random_at_inference": "yes"}, "random_at_inference='yes'"),
]


@pytest.mark.parametrize("kwargs,message", BAD_LAYERS)
def test_bad_layer_arguments_are_value_errors_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FractionalMaxPooling2D(**kwargs)


def test_too_large_output_sizes_fail_at_build_and_call():
    message = r"output_size \+ pool_size - 1 <= input size.*output_size=\(9, 4\)"
    with pytest.raises(ValueError, match=message):
        FractionalMaxPooling2D(output_size=(9, 4))(keras.Input((9, 9, 3)))
    with pytest.raises(ValueError, match=message):
        FractionalMaxPooling2D(output_size=(9, 4)).compute_output_shape((None, 9, 9, 3))
    x = np.zeros((1, 9, 9, 2), "float32")
    with pytest.raises(ValueError, match=message):
        FractionalMaxPooling2D(output_size=(9, 4))(x)
    with pytest.raises(ValueError, match=r"output_size=\(9, 4\)"):
        fractional_max_pool(x, (9, 4))
    with pytest.raises(ValueError, match=r"output_size=\(6, 6\)"):  # 6 + 4 - 1 > 8
        fractional_max_pool(np.zeros((1, 8, 8, 1), "float32"), 6, pool_size=4)
    with pytest.raises(ValueError, match=r"output_size=\(0,\)"):  # int(3 * 0.2) = 0
        FractionalMaxPooling1D(output_ratio=0.2)(np.zeros((1, 3, 1), "float32"))
    assert fractional_max_pool(np.zeros((1, 8, 8, 1), "float32"), 7).shape == (1, 7, 7, 1)


def test_bad_op_arguments_are_value_errors_naming_them():
    x = np.zeros((2, 9, 9, 3), "float32")
    with pytest.raises(ValueError, match="3D, 4D or 5D input"):
        fractional_max_pool(np.zeros((9, 9), "float32"), 4)
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=5"):  # Keras's InputSpec
        FractionalMaxPooling2D(output_size=4)(np.zeros((2, 9, 9, 3, 1), "float32"))
    with pytest.raises(ValueError, match="pool_size=-1"):
        fractional_max_pool(x, 4, pool_size=-1)
    with pytest.raises(ValueError, match="data_format='NCHW'"):
        fractional_max_pool(x, 4, data_format="NCHW")
    with pytest.raises(ValueError, match="output_size=4.5"):
        fractional_max_pool(x, 4.5)
    for shape in [(2, 3), (2, 3, 1), (2, 4, 2), (1, 3, 2), (2, 3, 2, 1)]:
        with pytest.raises(ValueError, match=r"samples.shape=" + re_tuple(shape)):
            fractional_max_pool(x, 4, samples=np.zeros(shape, "float32"))
    symbolic = keras.Input((9, 9, 3))
    with pytest.raises(ValueError, match=r"samples.shape=\(None, 3, 3\)"):
        fractional_max_pool(symbolic, 4, samples=keras.Input((3, 3)))


def re_tuple(shape):
    return r"\(" + r",\s*".join(str(s) for s in shape) + r",?\)"


@pytest.mark.parametrize("n,out,k", [(n, o, k) for n in (5, 9, 25, 64) for k in (1, 2, 3)
                                     for o in (1, 2, n // 2, n - k + 1) if o + k - 1 <= n and o])
def test_window_starts_cover_the_input_in_order(n, out, k):
    """Starts from 0 to n - k, increasing (alpha >= 1), in float32 as PyTorch."""
    u = np.linspace(0, 1, 50, endpoint=False, dtype="float32")
    starts = _np(fractional.window_starts(u, n, out, k, "float32"))
    assert starts.shape == (50, out)
    assert np.all(starts[:, -1] == n - k) and (out == 1 or np.all(starts[:, 0] == 0))
    assert np.all(np.diff(starts, axis=1) >= 1)
    for row, s in zip(starts, u):
        assert row.tolist() == ref_starts(s, n, out, k, np.float32)
