"""Pooling choices by name, so a model takes `pooling="lp"` from a config.

>>> from keras_pool import registry
>>> registry.pooling("lp", rank=2, pool_size=2, p=3.0)      # LpPooling2D
>>> registry.head("global_avg")                              # GlobalAveragePooling2D
"""

import keras

from keras_pool import layers

_WINDOWED = {
    "max": (keras.layers.MaxPooling1D, keras.layers.MaxPooling2D, keras.layers.MaxPooling3D),
    "avg": (
        keras.layers.AveragePooling1D,
        keras.layers.AveragePooling2D,
        keras.layers.AveragePooling3D,
    ),
    "min": (layers.MinPooling1D, layers.MinPooling2D, layers.MinPooling3D),
    "lp": (layers.LpPooling1D, layers.LpPooling2D, layers.LpPooling3D),
    "stochastic": (
        layers.StochasticPooling1D,
        layers.StochasticPooling2D,
        layers.StochasticPooling3D,
    ),
}
_GLOBAL = {
    "global_max": (
        keras.layers.GlobalMaxPooling1D,
        keras.layers.GlobalMaxPooling2D,
        keras.layers.GlobalMaxPooling3D,
    ),
    "global_avg": (
        keras.layers.GlobalAveragePooling1D,
        keras.layers.GlobalAveragePooling2D,
        keras.layers.GlobalAveragePooling3D,
    ),
    "global_min": (layers.GlobalMinPooling1D, layers.GlobalMinPooling2D, layers.GlobalMinPooling3D),
    "global_lp": (layers.GlobalLpPooling1D, layers.GlobalLpPooling2D, layers.GlobalLpPooling3D),
    "global_stochastic": (
        layers.GlobalStochasticPooling1D,
        layers.GlobalStochasticPooling2D,
        layers.GlobalStochasticPooling3D,
    ),
}
POOLINGS = tuple(_WINDOWED)
HEADS = ("flatten",) + tuple(_GLOBAL)
# Extra arguments each kind accepts beyond the Keras pooling arguments.
OPTIONS = {"lp": ("p", "normalize", "trainable_p"), "stochastic": ("seed",)}
OPTIONS.update({"global_lp": OPTIONS["lp"], "global_stochastic": OPTIONS["stochastic"]})


def _pick(table, kind, name, rank, options):
    if name not in table:
        raise ValueError(f"Unknown {kind} {name!r}; allowed: {', '.join(table)}")
    if rank not in (1, 2, 3):
        raise ValueError(f"`rank` must be 1, 2 or 3. Received: rank={rank!r}")
    allowed = OPTIONS.get(name, ())
    options = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"{kind} {name!r} takes no option(s) {unknown}; it accepts: {list(allowed)}"
        )
    return table[name][rank - 1], options


def pooling(name, rank=2, pool_size=2, strides=None, padding="valid", data_format=None,
            **options):
    """A windowed pooling layer by name: one of `POOLINGS`.

    `options` are kind-specific (`p`, `normalize`, `trainable_p` for "lp",
    `seed` for "stochastic"); None values are ignored.
    """
    cls, options = _pick(_WINDOWED, "pooling", name, rank, options)
    return cls(pool_size=pool_size, strides=strides, padding=padding,
               data_format=data_format, **options)


def head(name, rank=2, data_format=None, **options):
    """A classifier head's pooling by name: one of `HEADS` ("flatten" is Flatten)."""
    if name == "flatten":
        _pick({"flatten": (None,) * 3}, "head", name, rank, options)
        return keras.layers.Flatten(data_format=data_format)
    cls, options = _pick(_GLOBAL, "head", name, rank, options)
    return cls(data_format=data_format, **options)
