"""The small CNN family, with every pooling stage and the head chosen by name.

Public API
----------
``build_model(input_shape, num_classes, *, pooling="max", head="flatten",
lp_options=None, filters=(16, 32), kernel_size=3, pool_size=2, dense_units=0,
dropout=0.0, seed=0) -> keras.Model``
    An uncompiled model that outputs logits::

        Input -> [ConvND(f, same, relu) -> pooling] for f in filters
              -> head -> [Dropout] -> [Dense(dense_units, relu)] -> Dense(num_classes)

    Conv1D for (length, channels) inputs, Conv2D for (height, width, channels).
    `pooling` is one of ``keras_pool.registry.POOLINGS`` or a baseline (or a
    sequence of them, one per conv stage): "none" (no pooling layer: the
    stage keeps full resolution) or "stride" (no pooling layer: the conv
    itself has strides = pool_size). `head` is one of
    ``registry.HEADS``; `lp_options` (``p``, ``normalize``, ``trainable_p``)
    go to the Lp layers. The weighted layers are named ``conv1, conv2, ..,
    hidden, logits``.
``from_config(variant, model_cfg, input_shape, num_classes, seed) -> keras.Model``
    The same, from a ``config.Variant`` and ``config.ModelConfig``.

Paired initialisation: every layer that draws random numbers gets its own
seed, derived from (`seed`, the layer's role, its index) and nothing else.
So for one seed, all variants start from the same conv kernels (and the same
dense kernels when their heads give the same feature size), whatever pooling
sits between them or in which order layers draw from the global RNG.
"""

import keras
import numpy as np

from keras_pool import registry

_CONV, _DENSE, _POOL, _DROPOUT = range(4)


def layer_seed(seed, role, index=0):
    """A 31-bit seed for layer `index` of kind `role`, fixed by the run `seed` alone."""
    state = np.random.SeedSequence([seed, role, index]).generate_state(1)[0]
    return int(state) & 0x7FFFFFFF


BASELINES = ("none", "stride")


def build_model(input_shape, num_classes, *, pooling="max", head="flatten", lp_options=None,
                filters=(16, 32), kernel_size=3, pool_size=2, dense_units=0, dropout=0.0,
                seed=0):
    """An uncompiled CNN: `pooling` after each conv block, `head` before the classifier."""
    lp_options = dict(lp_options or {})
    kinds = [pooling] * len(filters) if isinstance(pooling, str) else list(pooling)
    if len(kinds) != len(filters):
        raise ValueError(f"`pooling` needs one kind per conv stage ({len(filters)}); got {pooling}")
    rank = len(input_shape) - 1
    if rank not in (1, 2):
        raise ValueError(f"input_shape must be (length, channels) or (height, width, channels); "
                         f"got {input_shape}")
    conv = keras.layers.Conv1D if rank == 1 else keras.layers.Conv2D
    inputs = keras.Input(input_shape)
    x = inputs
    for i, width in enumerate(filters):
        x = conv(
            width, kernel_size, strides=pool_size if kinds[i] == "stride" else 1,
            padding="same", activation="relu", name=f"conv{i + 1}",
            kernel_initializer=keras.initializers.GlorotUniform(layer_seed(seed, _CONV, i)),
        )(x)
        if kinds[i] not in BASELINES:
            x = registry.pooling(kinds[i], rank=rank, pool_size=pool_size,
                                 **_options(kinds[i], lp_options, seed, i))(x)
    x = registry.head(head, rank=rank, **_options(head, lp_options, seed, len(filters)))(x)
    if dropout:
        x = keras.layers.Dropout(dropout, seed=layer_seed(seed, _DROPOUT), name="dropout")(x)
    if dense_units:
        x = keras.layers.Dense(
            dense_units, activation="relu", name="hidden",
            kernel_initializer=keras.initializers.GlorotUniform(layer_seed(seed, _DENSE, 0)),
        )(x)
    outputs = keras.layers.Dense(
        num_classes, name="logits",
        kernel_initializer=keras.initializers.GlorotUniform(layer_seed(seed, _DENSE, 1)),
    )(x)
    return keras.Model(inputs, outputs, name="cnn")


def from_config(variant, model_cfg, input_shape, num_classes, seed):
    """`build_model` for a `config.Variant` under a `config.ModelConfig`."""
    return build_model(
        input_shape, num_classes, pooling=variant.pooling, head=variant.head,
        lp_options=variant.lp_options, filters=model_cfg.filters,
        kernel_size=model_cfg.kernel_size, pool_size=model_cfg.pool_size,
        dense_units=model_cfg.dense_units, dropout=model_cfg.dropout, seed=seed,
    )


def _options(name, lp_options, seed, index):
    """Keyword arguments for the registry layer `name` at pooling stage `index`."""
    if name.endswith("lp"):
        return lp_options
    if name.endswith("stochastic"):
        return {"seed": layer_seed(seed, _POOL, index)}
    return {}
