"""Models: the CNN family, pooling and head by name, and paired initial weights."""

import keras
import numpy as np
import pytest

from experiments import config, models
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
