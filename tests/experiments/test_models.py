"""Models: the CNN family, pooling and head by name, and paired initial weights."""

import keras
import numpy as np
import pytest

from experiments import config
from experiments.run import models
from keras_pool import registry

SHAPE = (16, 16, 1)


def _weights(model, name):
    return [np.asarray(w) for w in model.get_layer(name).get_weights()]


def _build(pooling="max", head="flatten", seed=0, **kwargs):
    return models.build_model(SHAPE, 10, pooling=pooling, head=head, seed=seed, **kwargs)


def test_every_pooling_and_head_builds_and_predicts():
    x = np.random.default_rng(0).random((3, *SHAPE), dtype=np.float32)
    for pooling in registry.POOLINGS:
        for head in registry.HEADS:
            model = _build(pooling, head, lp_options={"p": 3.0} if "lp" in (pooling, head[7:]) else None)
            assert model(x, training=False).shape == (3, 10), (pooling, head)


def test_layers_come_from_the_registry():
    model = _build("lp", "global_lp", lp_options={"p": 4.0, "normalize": True})
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Conv2D", "LpPooling2D", "Conv2D", "LpPooling2D",
                     "GlobalLpPooling2D", "Dense"]
    lp_layers = [layer for layer in model.layers if "Lp" in type(layer).__name__]
    assert all(layer.p == 4.0 and layer.normalize for layer in lp_layers)


def test_same_seed_same_initial_conv_weights_across_all_variants():
    reference = _build("max", seed=7)
    for pooling in registry.POOLINGS:
        for head in ("flatten", "global_avg", "global_stochastic"):
            other = _build(pooling, head, seed=7)
            for name in ("conv1", "conv2"):
                for a, b in zip(_weights(reference, name), _weights(other, name)):
                    np.testing.assert_array_equal(a, b, err_msg=f"{pooling}+{head} {name}")


def test_same_seed_same_dense_weights_for_the_same_head_size():
    # Flatten after max or stochastic pooling gives the same feature size.
    a = _build("max", dense_units=12, dropout=0.5, seed=3)
    b = _build("stochastic", dense_units=12, dropout=0.5, seed=3)
    for name in ("hidden", "logits"):
        for wa, wb in zip(_weights(a, name), _weights(b, name)):
            np.testing.assert_array_equal(wa, wb)


def test_paired_weights_do_not_depend_on_global_rng_state():
    keras.utils.set_random_seed(0)
    a = _build("avg", seed=5)
    keras.utils.set_random_seed(123)
    keras.random.uniform((4,))  # disturb the global streams
    b = _build("stochastic", seed=5)
    np.testing.assert_array_equal(_weights(a, "conv1")[0], _weights(b, "conv1")[0])


def test_different_seeds_give_different_weights():
    a, b = _build(seed=0), _build(seed=1)
    assert not np.array_equal(_weights(a, "conv1")[0], _weights(b, "conv1")[0])


def test_stochastic_layers_are_seeded_from_the_run_seed():
    seeds = [layer.seed for layer in _build("stochastic", "global_stochastic", seed=2).layers
             if hasattr(layer, "seed_generator")]
    again = [layer.seed for layer in _build("stochastic", "global_stochastic", seed=2).layers
             if hasattr(layer, "seed_generator")]
    assert len(seeds) == 3 and len(set(seeds)) == 3 and seeds == again


def test_from_config_follows_the_variant_and_model_section():
    cfg = config.parse({"model": {"filters": [4, 6, 8], "kernel_size": 5, "dense_units": 7},
                        "variants": [{"pooling": "lp", "p": 2.0, "trainable_p": True}]})
    model = models.from_config(cfg.variants[0], cfg.model, (32, 32, 3), 5, seed=0)
    assert [model.get_layer(f"conv{i}").filters for i in (1, 2, 3)] == [4, 6, 8]
    assert model.get_layer("conv1").kernel_size == (5, 5)
    assert model.get_layer("hidden").units == 7 and model.output_shape == (None, 5)
    assert any(w.name == "p" for w in model.trainable_weights)


def test_unknown_pooling_is_rejected_by_the_registry():
    with pytest.raises(ValueError, match="Unknown pooling 'median'"):
        _build("median")


def test_one_pooling_kind_per_stage_keeps_the_paired_conv_weights():
    mixed = _build(("max", "min"), seed=9)
    kinds = [type(layer).__name__ for layer in mixed.layers if "Pooling" in type(layer).__name__]
    assert kinds == ["MaxPooling2D", "MinPooling2D"]
    np.testing.assert_array_equal(_weights(mixed, "conv2")[0], _weights(_build(seed=9), "conv2")[0])


def test_signals_get_conv1d_and_the_baselines_have_no_pooling_layer():
    model = models.build_model((40, 1), 10, pooling="max", filters=(4, 8), kernel_size=5)
    assert [type(l).__name__ for l in model.layers[1:4]] == ["Conv1D", "MaxPooling1D", "Conv1D"]
    assert model.output_shape == (None, 10)
    none = models.build_model((40, 1), 10, pooling="none", filters=(4, 8))
    stride = models.build_model((40, 1), 10, pooling="stride", filters=(4, 8), pool_size=2)
    for m in (none, stride):
        assert not any("Pool" in type(l).__name__ for l in m.layers)
    assert none.get_layer("conv2").output.shape[1] == 40  # full resolution
    assert stride.get_layer("conv1").strides == (2,)
    assert stride.get_layer("conv2").output.shape[1] == 10  # 40 / 2 / 2, as with pooling
    two_d = models.build_model(SHAPE, 10, pooling="stride", filters=(4, 8))
    assert two_d.get_layer("conv2").output.shape[1:3] == (4, 4)


def test_baselines_share_the_initial_conv_weights_with_pooled_variants():
    pooled = models.build_model((40, 1), 10, pooling="max", filters=(4, 8), seed=2)
    for kind in ("none", "stride"):
        other = models.build_model((40, 1), 10, pooling=kind, filters=(4, 8), seed=2)
        for name in ("conv1", "conv2"):
            for a, b in zip(_weights(pooled, name), _weights(other, name)):
                np.testing.assert_array_equal(a, b)


def _digit_in_border(pad, size=8):
    rng = np.random.default_rng(0)
    x = np.zeros((4, size + 2 * pad, size + 2 * pad, 1), dtype=np.float32)
    x[:, pad:pad + size, pad:pad + size] = rng.random((4, size, size, 1))
    return x


@pytest.mark.parametrize("shift", [(2, 0), (0, -2), (2, 2), (-2, 2), (4, 0), (-4, -4)])
def test_max_pool_then_global_max_is_exactly_invariant_to_even_shifts(shift):
    """The README's claim: with max pooling and a global max head, only the first pool's
    stride-2 subsampling aliases (global max of a max pool = global max of its input), so a
    shift by a multiple of 2 -- not of the total stride 4 -- leaves the output unchanged,
    given a border (config.border) that no shift lets a feature map clip."""
    from experiments.run import metrics

    model_cfg = config.ModelConfig(filters=(6, 8), kernel_size=3, pool_size=2)
    pad = config.border(model_cfg, 4)
    x = _digit_in_border(pad)
    model = models.from_config(config.Variant(pooling="max", head="global_max"), model_cfg,
                               x.shape[1:], 10, seed=0)
    before = np.asarray(model(x, training=False))
    after = np.asarray(model(metrics.shift(x, *shift), training=False))
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)


def test_odd_shifts_break_it_and_no_pooling_is_invariant_to_every_shift():
    from experiments.run import metrics

    model_cfg = config.ModelConfig(filters=(6, 8), kernel_size=3, pool_size=2)
    x = _digit_in_border(config.border(model_cfg, 4))
    make = lambda kind: models.from_config(config.Variant(pooling=kind, head="global_max"),
                                           model_cfg, x.shape[1:], 10, seed=0)
    pooled, full = make("max"), make("none")
    moved = metrics.shift(x, 1, 0)
    assert not np.allclose(pooled(x, training=False), pooled(moved, training=False), atol=1e-4)
    for dy, dx in ((1, 0), (3, -1), (-4, 4)):
        np.testing.assert_allclose(full(metrics.shift(x, dy, dx), training=False),
                                   full(x, training=False), rtol=1e-5, atol=1e-6)


def test_a_border_narrower_than_config_border_lets_even_shifts_change_the_output():
    from experiments.run import metrics

    model_cfg = config.ModelConfig(filters=(6, 8), kernel_size=3, pool_size=2)
    x = _digit_in_border(4)  # the old digits border: a 4-pixel shift reaches the edge
    model = models.from_config(config.Variant(pooling="max", head="global_max"), model_cfg,
                               x.shape[1:], 10, seed=0)
    moved = metrics.shift(x, 4, 4)
    assert not np.allclose(model(moved, training=False), model(x, training=False), atol=1e-4)
