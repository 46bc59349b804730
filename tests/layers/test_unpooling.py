"""Max pooling with indices and max unpooling: equal to PyTorch (values, indices,
unpooled maps and gradients), a NumPy float64 reference for "same" padding, the
fast paths against the general path, and the Keras layer contract (run_layer_test,
configs, .keras round trip, unknown sizes, mixed precision, XLA, errors, training)."""

import itertools

import keras
import numpy as np
import pytest
import torch
from keras.src import testing

from keras_pool import ops as pool_ops
from keras_pool.layers.unpooling import (
    MaxPoolingWithArgmax1D,
    MaxPoolingWithArgmax2D,
    MaxPoolingWithArgmax3D,
    MaxUnpooling1D,
    MaxUnpooling2D,
    MaxUnpooling3D,
)
from keras_pool.ops.unpooling import default_output_size, max_pool_with_argmax, max_unpool
from tests.backend_utils import compile_fn, supports_xla, value_and_grad

F = torch.nn.functional
POOL = {1: MaxPoolingWithArgmax1D, 2: MaxPoolingWithArgmax2D, 3: MaxPoolingWithArgmax3D}
UNPOOL = {1: MaxUnpooling1D, 2: MaxUnpooling2D, 3: MaxUnpooling3D}
SPATIAL = {1: (11,), 2: (7, 6), 3: (5, 4, 5)}
# (pool_size, strides): non-overlapping, overlapping (stride < pool), gaps, odd sizes.
WINDOWS = [(2, 2), (3, 2), (3, 1), (2, 3), (3, 3), (2, 1)]


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _first(x):
    """channels_last -> channels_first (PyTorch's layout)."""
    return np.moveaxis(x, -1, 1)


def _last(x):
    return np.moveaxis(x, 1, -1)


def _torch_pool(x_first, k, s):
    rank = x_first.ndim - 2
    values, indices = getattr(F, f"max_pool{rank}d")(
        torch.tensor(x_first), k, s, return_indices=True)
    return values.numpy(), indices.numpy()


def _inputs(rng, rank, kind):
    shape = (2, 3, *SPATIAL[rank])  # channels_first
    if kind == "distinct":
        return rng.normal(size=shape).astype("float32")
    if kind == "ties":  # few distinct values: many ties within windows
        return rng.integers(0, 3, shape).astype("float32")
    return -rng.uniform(1, 2, shape).astype("float32")  # all negative


def _fast_paths(monkeypatch, on):
    """The fast paths on or off; off is the same code on JAX (no fast path there)."""
    if not on and keras.backend.backend() == "jax":
        pytest.skip("JAX has no fast path here: the general path is the one tested")
    monkeypatch.setattr(pool_ops, "_FAST_PATHS", on)


# -- equal to PyTorch ----------------------------------------------------------


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "general"])
@pytest.mark.parametrize("kind", ["distinct", "ties", "negative"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_values_indices_and_unpooling_equal_pytorch(monkeypatch, rng, rank, kind, fast):
    _fast_paths(monkeypatch, fast)
    x = _inputs(rng, rank, kind)
    for k, s in WINDOWS:
        t_values, t_indices = _torch_pool(x, k, s)
        t_unpooled = getattr(F, f"max_unpool{rank}d")(
            torch.tensor(t_values), torch.tensor(t_indices), k, s, output_size=SPATIAL[rank]
        ).numpy()
        for data_format in ("channels_first", "channels_last"):
            inputs = x if data_format == "channels_first" else _last(x)
            values, indices = max_pool_with_argmax(inputs, k, s, data_format=data_format)
            assert keras.backend.standardize_dtype(indices.dtype) == "int32"
            unpooled = _np(max_unpool(values, indices, SPATIAL[rank], data_format))
            values, indices = _np(values), _np(indices)
            if data_format == "channels_last":
                values, indices, unpooled = _first(values), _first(indices), _first(unpooled)
            np.testing.assert_array_equal(indices, t_indices, err_msg=f"{k}, {s}")
            np.testing.assert_array_equal(values, t_values)
            np.testing.assert_array_equal(unpooled, t_unpooled)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "general"])
def test_nan_names_the_last_nan_as_pytorch(monkeypatch, rng, fast):
    """PyTorch's kernels: a NaN beats any number, a later NaN an earlier one.
    `values` stay `keras.ops.max_pool`'s (TensorFlow's skips NaN)."""
    _fast_paths(monkeypatch, fast)
    x = rng.normal(size=(2, 3, 7, 6)).astype("float32")
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = x[1, 2, 4, 4] = np.nan
    x[0, 1, :2, :2] = np.inf
    for k, s in [(2, 2), (3, 1), (3, 2)]:
        values, indices = max_pool_with_argmax(_last(x), k, s)
        np.testing.assert_array_equal(_first(_np(indices)), _torch_pool(x, k, s)[1])
        np.testing.assert_array_equal(_np(values), _np(keras.ops.max_pool(_last(x), k, s)))


def _reference_same(x, k, s):
    """float64 NumPy "same" max pooling with indices (channels_last, TF padding
    placement, padded cells skipped, first max, the last NaN wins)."""
    rank = x.ndim - 2
    spatial = x.shape[1:-1]
    ks, ss = (k,) * rank, (s,) * rank
    outs = [-(-n // st) for n, st in zip(spatial, ss)]
    befores = [max((o - 1) * st + kk - n, 0) // 2 for o, st, kk, n in zip(outs, ss, ks, spatial)]
    values = np.zeros((x.shape[0], *outs, x.shape[-1]))
    indices = np.zeros(values.shape, "int64")
    for b, c in itertools.product(range(x.shape[0]), range(x.shape[-1])):
        for out in itertools.product(*(range(o) for o in outs)):
            best, where = -np.inf, None
            for offset in itertools.product(*(range(kk) for kk in ks)):
                cell = [o * st + d - bf for o, st, d, bf in zip(out, ss, offset, befores)]
                if not all(0 <= v < n for v, n in zip(cell, spatial)):
                    continue
                value = float(x[(b, *cell, c)])
                flat = int(np.ravel_multi_index(cell, spatial))
                if where is None or value > best or np.isnan(value):
                    best, where = value, flat
            values[(b, *out, c)], indices[(b, *out, c)] = best, where
    return values, indices


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "general"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_same_padding_against_numpy(monkeypatch, rng, rank, fast):
    """Negative, all -inf and zero windows: a padded cell (0) must never win."""
    _fast_paths(monkeypatch, fast)
    x = -rng.uniform(1, 2, (2, *SPATIAL[rank], 2)).astype("float32")
    x[0] = -np.inf
    x[1, ..., 1] = 0.0
    for k, s in [(2, 2), (3, 2), (3, 1), (2, 3), (3, 3)]:
        values, indices = max_pool_with_argmax(x, k, s, "same")
        ref_values, ref_indices = _reference_same(x.astype("float64"), k, s)
        np.testing.assert_array_equal(_np(indices), ref_indices, err_msg=f"{k}, {s}")
        finite = np.isfinite(ref_values)  # all -inf: TensorFlow's max pool gives lowest()
        np.testing.assert_array_equal(_np(values)[finite], ref_values[finite].astype("float32"))
        np.testing.assert_array_equal(_np(values), _np(keras.ops.max_pool(x, k, s, "same")))
        assert _np(indices).min() >= 0 and _np(indices).max() < np.prod(SPATIAL[rank])


# -- gradients -----------------------------------------------------------------


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "general"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_gradients_equal_pytorch(monkeypatch, rng, rank, fast):
    """d values / dx goes to the cell the index names (ties included); d unpool / d
    values is the output's gradient gathered at the indices (duplicates included)."""
    _fast_paths(monkeypatch, fast)
    x = _inputs(rng, rank, "ties") + 0.0
    for k, s in WINDOWS:
        weights = keras.ops.convert_to_tensor(
            rng.normal(size=_torch_pool(x, k, s)[0].shape).astype("float32"))
        fn = lambda v: max_pool_with_argmax(v, k, s, data_format="channels_first")[0] * weights  # noqa: E731
        _, grad = value_and_grad(fn, x)
        t_x = torch.tensor(x, requires_grad=True)
        t_values, t_indices = getattr(F, f"max_pool{rank}d")(t_x, k, s, return_indices=True)
        (t_values * torch.tensor(_np(weights))).sum().backward()
        # PyTorch's gradient goes to its index; so must ours.
        np.testing.assert_allclose(grad, t_x.grad.numpy(), rtol=1e-6, atol=1e-6)

        out_weights = keras.ops.convert_to_tensor(rng.normal(size=x.shape).astype("float32"))
        indices = t_indices.numpy().astype("int32")
        fn = lambda v: max_unpool(v, indices, SPATIAL[rank], "channels_first") * out_weights  # noqa: E731
        _, grad = value_and_grad(fn, t_values.detach().numpy())
        t_v = t_values.detach().clone().requires_grad_(True)
        t_out = getattr(F, f"max_unpool{rank}d")(t_v, t_indices, k, s, output_size=SPATIAL[rank])
        (t_out * torch.tensor(_np(out_weights))).sum().backward()
        np.testing.assert_allclose(grad, t_v.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_unpool_gradient_by_finite_differences(rng):
    """max_unpool is linear in its values: a difference quotient equals the gradient."""
    values = rng.normal(size=(1, 3, 3, 2)).astype("float64")
    _, indices = max_pool_with_argmax(rng.normal(size=(1, 7, 7, 2)), 2, 2)  # no duplicates
    indices = _np(indices)
    out_weights = keras.ops.convert_to_tensor(rng.normal(size=(1, 7, 7, 2)))
    fn = lambda v: max_unpool(v, indices, (7, 7)) * out_weights  # noqa: E731
    _, grad = value_and_grad(fn, values)
    eps = 1e-2  # linear: exact up to rounding (JAX computes in float32)
    for position in [(0, 0, 0, 0), (0, 1, 2, 1), (0, 2, 2, 0)]:
        bumped = values.copy()
        bumped[position] += eps
        quotient = (np.sum(_np(fn(bumped))) - np.sum(_np(fn(values)))) / eps
        np.testing.assert_allclose(grad[position], quotient, rtol=1e-4)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "general"])
def test_duplicated_indices_are_written_once(monkeypatch, fast):
    """Overlapping windows whose maximum is the same cell: the value once, not added."""
    _fast_paths(monkeypatch, fast)
    x = np.zeros((1, 5, 5, 1), "float32")
    x[0, 2, 2, 0] = 7.0
    values, indices = max_pool_with_argmax(x, 3, 1)
    assert (_np(indices) == 12).all()  # all nine windows name the centre
    unpooled = _np(max_unpool(values, indices, (5, 5)))
    np.testing.assert_array_equal(unpooled, x)
    _, grad = value_and_grad(lambda v: max_unpool(v, indices, (5, 5)) * 3.0, _np(values))
    np.testing.assert_array_equal(grad, np.full((1, 3, 3, 1), 3.0, "float32"))


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_fast_paths_equal_general_path(monkeypatch, rng, rank):
    if keras.backend.backend() == "jax":
        pytest.skip("JAX has no fast path here")
    x = _last(_inputs(rng, rank, "distinct"))
    for k, s, padding in [(2, 2, "valid"), (3, 2, "same"), (3, 1, "valid")]:
        results = []
        for on in (True, False):
            monkeypatch.setattr(pool_ops, "_FAST_PATHS", on)
            pooled = value_and_grad(lambda v: max_pool_with_argmax(v, k, s, padding)[0] ** 2, x)
            values, indices = max_pool_with_argmax(x, k, s, padding)
            unpooled = value_and_grad(
                lambda v: max_unpool(v, indices, SPATIAL[rank]) ** 2, _np(values))
            results.append((*pooled, _np(indices), *unpooled))
        for fast, general in zip(*results):
            np.testing.assert_array_equal(fast, general)


# -- the layers ----------------------------------------------------------------


class LayerTest(testing.TestCase):
    def test_run_layer_test(self):
        for rank in (1, 2, 3):
            spatial = (8, 6, 4)[:rank]
            for data_format in ("channels_last", "channels_first"):
                shape = (2, *spatial, 3) if data_format == "channels_last" else (2, 3, *spatial)
                pooled = POOL[rank](data_format=data_format).compute_output_shape(shape)
                self.run_layer_test(
                    POOL[rank],
                    init_kwargs={"pool_size": 2, "data_format": data_format},
                    input_shape=shape,
                    expected_output_shape=pooled,
                    expected_output_dtype=["float32", "int32"],
                    expected_num_trainable_weights=0,
                    expected_num_non_trainable_weights=0,
                    expected_num_seed_generators=0,
                    expected_num_losses=0,
                    supports_masking=False,
                    run_training_check=False,
                )
                x = np.random.default_rng(0).normal(size=shape).astype("float32")
                values, indices = max_pool_with_argmax(x, 2, data_format=data_format)
                self.run_layer_test(
                    UNPOOL[rank],
                    init_kwargs={"data_format": data_format},
                    input_data=[_np(values), _np(indices), x],
                    expected_output_shape=shape,
                    expected_num_trainable_weights=0,
                    expected_num_non_trainable_weights=0,
                    expected_num_seed_generators=0,
                    expected_num_losses=0,
                    supports_masking=False,
                    run_training_check=False,
                )


def test_get_config_round_trip():
    layer = MaxPoolingWithArgmax2D((2, 3), (1, 2), "same", "channels_first", name="argmax")
    clone = MaxPoolingWithArgmax2D.from_config(layer.get_config())
    for key in ("pool_size", "strides", "padding", "data_format", "name"):
        assert getattr(clone, key) == getattr(layer, key)
    layer = MaxUnpooling3D((8, 9, 10), 3, 2, "same", "channels_first")
    clone = MaxUnpooling3D.from_config(layer.get_config())
    for key in ("output_size", "pool_size", "strides", "padding", "data_format"):
        assert getattr(clone, key) == getattr(layer, key), key
    assert MaxUnpooling1D.from_config(MaxUnpooling1D().get_config()).output_size is None


def test_compute_output_shape_and_default_output_size():
    assert MaxPoolingWithArgmax2D(3, 2, "same").compute_output_shape((4, 7, 6, 3)) == [
        (4, 4, 3, 3), (4, 4, 3, 3)]
    assert MaxUnpooling2D().compute_output_shape([(4, 3, 3, 5)] * 2) == (4, 6, 6, 5)
    assert MaxUnpooling2D(pool_size=3, strides=2).compute_output_shape(
        [(4, 3, 3, 5)] * 2) == (4, 7, 7, 5)
    assert MaxUnpooling2D(pool_size=3, strides=2, padding="same").compute_output_shape(
        [(4, 3, None, 5)] * 2) == (4, 6, None, 5)
    assert MaxUnpooling2D(output_size=(7, 8)).compute_output_shape(
        [(4, 3, 3, 5)] * 2) == (4, 7, 8, 5)
    assert MaxUnpooling1D(data_format="channels_first").compute_output_shape(
        [(4, 5, 3), (4, 5, 3), (4, 5, None)]) == (4, 5, None)
    # The defaults are PyTorch's for "valid": (n - 1) * stride + pool_size.
    t = F.max_unpool2d(torch.zeros(1, 1, 3, 4), torch.zeros(1, 1, 3, 4, dtype=torch.int64), 3, 2)
    assert default_output_size((3, 4), (3, 3), (2, 2), "valid") == tuple(t.shape[2:])


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_default_output_size_restores_inputs_of_that_size(rng, padding):
    x = rng.normal(size=(2, 9, 7, 3)).astype("float32") if padding == "valid" else (
        rng.normal(size=(2, 8, 8, 3)).astype("float32"))
    k = 3 if padding == "valid" else 2
    values, indices = MaxPoolingWithArgmax2D(k, 2, padding)(x)
    restored = _np(MaxUnpooling2D(pool_size=k, strides=2, padding=padding)([values, indices]))
    assert restored.shape == x.shape
    np.testing.assert_array_equal(restored[restored != 0], x[restored != 0])


def test_unknown_spatial_dims_with_a_reference(rng):
    inputs = keras.Input((None, None, 3))
    values, indices = MaxPoolingWithArgmax2D(3, 2, "same")(inputs)
    assert keras.backend.standardize_dtype(indices.dtype) == "int32"
    assert tuple(values.shape) == (None, None, None, 3)
    outputs = MaxUnpooling2D()([values, indices, inputs])
    assert tuple(outputs.shape) == (None, None, None, 3)
    model = keras.Model(inputs, outputs)
    for size in [(7, 9), (6, 4)]:
        x = rng.normal(size=(2, *size, 3)).astype("float32")
        out = model.predict(x, verbose=0)
        assert out.shape == x.shape
        nonzero = out != 0
        np.testing.assert_array_equal(out[nonzero], x[nonzero])
        # every window maximum is restored, nothing else
        np.testing.assert_array_equal(
            np.sort(np.unique(out[nonzero])),
            np.sort(np.unique(_np(keras.ops.max_pool(x, 3, 2, "same")))))


def _encoder_decoder(data_format="channels_last"):
    shape = (8, 8, 2) if data_format == "channels_last" else (2, 8, 8)
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(4, 3, padding="same", data_format=data_format)(inputs)
    values, indices = MaxPoolingWithArgmax2D(2, data_format=data_format)(x)
    y = keras.layers.Conv2D(4, 3, padding="same", data_format=data_format)(values)
    y = MaxUnpooling2D(data_format=data_format)([y, indices, x])
    return keras.Model(inputs, keras.layers.Conv2D(1, 1, data_format=data_format)(y))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_encoder_decoder_saves_reloads_and_trains(tmp_path, rng, data_format):
    model = _encoder_decoder(data_format)
    x = rng.normal(size=(4, *model.input_shape[1:])).astype("float32")
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), reloaded.predict(x, verbose=0))
    assert {type(layer) for layer in reloaded.layers} >= {MaxPoolingWithArgmax2D, MaxUnpooling2D}
    # The gradient reaches the input through the unpooling and the first conv
    # (the reference adds no path: only its shape is read).
    _, grad = value_and_grad(lambda v: model(v), x)
    assert np.abs(grad).sum() > 0 and np.isfinite(grad).all()
    encoder = model.layers[1].kernel
    before = _np(encoder).copy()
    model.compile("sgd", "mse")
    model.fit(x, rng.normal(size=(4, *model.output_shape[1:])), epochs=1, verbose=0)
    assert not np.array_equal(before, _np(encoder))


def test_gradient_reaches_the_encoder_only_through_unpooling(rng):
    """Without the decoder's skip the only path to the first conv is the unpooling."""
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(3, 3, padding="same")(inputs)
    values, indices = MaxPoolingWithArgmax2D(2)(x)
    out = MaxUnpooling2D()([values, indices, inputs])
    model = keras.Model(inputs, out)
    data = rng.normal(size=(2, 8, 8, 2)).astype("float32")
    _, grad = value_and_grad(lambda v: model(v), data)
    assert np.abs(grad).sum() > 0


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_mixed_precision(rng, policy, rank):
    half = policy.split("_")[1]
    x = rng.normal(size=(2, *SPATIAL[rank], 3)).astype("float32")
    pool, unpool = POOL[rank](2, dtype=policy), UNPOOL[rank](dtype=policy)
    values, indices = pool(x)
    assert keras.backend.standardize_dtype(values.dtype) == half
    assert keras.backend.standardize_dtype(indices.dtype) == "int32"
    out = unpool([values, indices, x])
    assert keras.backend.standardize_dtype(out.dtype) == half
    assert np.isfinite(_np(keras.ops.cast(out, "float32"))).all()
    reference = _np(max_pool_with_argmax(keras.ops.cast(x, half), 2)[1])
    np.testing.assert_array_equal(_np(indices), reference)


@pytest.mark.skipif(not supports_xla(), reason="no XLA/jit on this backend")
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_compiled_equals_eager(rng, rank):
    x = _last(_inputs(rng, rank, "ties"))
    for k, s, padding in [(2, 2, "valid"), (3, 2, "same"), (3, 1, "valid")]:
        def fn(v):
            values, indices = max_pool_with_argmax(v, k, s, padding)
            return values, indices, max_unpool(values, indices, SPATIAL[rank])

        for eager, compiled in zip(fn(x), compile_fn(fn)(x)):
            np.testing.assert_array_equal(_np(eager), _np(compiled))


def test_symbolic_ops():
    x = keras.Input((None, 5, 3))
    values, indices = max_pool_with_argmax(x, 2, 1, "same")
    assert tuple(values.shape) == (None, None, 5, 3) and values.dtype == x.dtype
    assert keras.backend.standardize_dtype(indices.dtype) == "int32"
    assert tuple(max_unpool(values, indices, (9, 5)).shape) == (None, 9, 5, 3)


def test_errors_name_the_argument_and_value():
    x = np.zeros((2, 4, 4, 3), "float32")
    with pytest.raises(ValueError, match="3D, 4D or 5D"):
        max_pool_with_argmax(np.zeros((2, 3), "float32"), 2)
    with pytest.raises(ValueError, match="pool_size=0"):
        max_pool_with_argmax(x, 0)
    with pytest.raises(ValueError, match="padding='full'"):
        max_pool_with_argmax(x, 2, padding="full")
    with pytest.raises(ValueError, match="larger than the input"):
        max_pool_with_argmax(x, 5)
    with pytest.raises(ValueError, match=r"output_size=\(4,\)"):
        max_unpool(x, x.astype("int32"), (4,))
    with pytest.raises(ValueError, match="output_size=-1"):
        max_unpool(x, x.astype("int32"), -1)
    with pytest.raises(ValueError, match="indices.shape"):
        max_unpool(x, np.zeros((2, 4, 3, 3), "int32"), 8)
    with pytest.raises(ValueError, match="3D, 4D or 5D"):
        max_unpool(np.zeros((2, 3)), np.zeros((2, 3), "int32"), 4)
    with pytest.raises(ValueError, match="strides=0"):
        MaxPoolingWithArgmax2D(2, 0)
    with pytest.raises(ValueError, match="data_format='nhwc'"):
        MaxUnpooling2D(data_format="nhwc")
    with pytest.raises(ValueError, match=r"output_size=\(1, 2, 3\)"):
        MaxUnpooling2D(output_size=(1, 2, 3))
    with pytest.raises(ValueError):  # wrong input rank
        MaxPoolingWithArgmax2D()(np.zeros((2, 4, 3), "float32"))
    with pytest.raises(ValueError, match=r"\[values, indices\]"):
        MaxUnpooling2D()(x)
    with pytest.raises(ValueError, match="values.shape"):
        MaxUnpooling2D()([np.zeros((2, 4, 3), "float32"), np.zeros((2, 4, 3), "int32")])
