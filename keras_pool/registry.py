"""Pooling choices by name, so a model takes `pooling="lp"` from a config.

>>> from keras_pool import registry
>>> type(registry.pooling("lp", rank=2, pool_size=2, p=3.0)).__name__
'LpPooling2D'
>>> type(registry.pooling("maxblur", rank=1)).__name__
'MaxBlurPooling1D'
>>> type(registry.head("global_avg")).__name__
'GlobalAveragePooling2D'

"blur" takes its subsampling factor from `strides` (or `pool_size`) and pads
by `padding_mode`: its output has ceil(n / strides) cells whatever `padding`
says (the sizes of "same" padding). "fractional" takes windows of `pool_size`
cells and, unless an `output_size` or `output_ratio` is given, the output
ratio 1 / `strides` (so int(n / strides) cells: a drop-in for "valid" max
pooling); its windows always lie inside the input, so `padding` is not used.
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
    "blur": (layers.BlurPooling1D, layers.BlurPooling2D, layers.BlurPooling3D),
    "maxblur": (layers.MaxBlurPooling1D, layers.MaxBlurPooling2D, layers.MaxBlurPooling3D),
    "mixed": (layers.MixedPooling1D, layers.MixedPooling2D, layers.MixedPooling3D),
    "gated": (layers.GatedPooling1D, layers.GatedPooling2D, layers.GatedPooling3D),
    "soft": (layers.SoftPooling1D, layers.SoftPooling2D, layers.SoftPooling3D),
    "fractional": (
        layers.FractionalMaxPooling1D,
        layers.FractionalMaxPooling2D,
        layers.FractionalMaxPooling3D,
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
    "global_soft": (
        layers.GlobalSoftPooling1D,
        layers.GlobalSoftPooling2D,
        layers.GlobalSoftPooling3D,
    ),
    "global_avgmax": (
        layers.GlobalAvgMaxPooling1D,
        layers.GlobalAvgMaxPooling2D,
        layers.GlobalAvgMaxPooling3D,
    ),
    "global_catavgmax": (
        layers.GlobalCatAvgMaxPooling1D,
        layers.GlobalCatAvgMaxPooling2D,
        layers.GlobalCatAvgMaxPooling3D,
    ),
    "global_lse": (
        layers.GlobalLsePooling1D,
        layers.GlobalLsePooling2D,
        layers.GlobalLsePooling3D,
    ),
}
POOLINGS = tuple(_WINDOWED)
HEADS = ("flatten",) + tuple(_GLOBAL)
# Extra arguments each kind accepts beyond the Keras pooling arguments.
OPTIONS = {
    "lp": ("p", "normalize", "trainable_p"),
    "stochastic": ("seed",),
    "blur": ("filter_size", "padding_mode"),
    "maxblur": ("filter_size", "padding_mode"),
    "mixed": ("alpha", "mixing"),
    "gated": ("gating",),
    "fractional": ("output_size", "output_ratio", "seed", "random_at_inference"),
}
OPTIONS.update({"global_lp": OPTIONS["lp"], "global_stochastic": OPTIONS["stochastic"],
                "global_lse": ("r", "trainable_r")})


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

    Args:
        name: "max", "avg", "min", "lp", "stochastic", "blur", "maxblur",
            "mixed", "gated", "soft" or "fractional".
        rank: 1, 2 or 3: the layer's spatial rank.
        pool_size: the window, as Keras's pooling layers take it.
        strides: None (the default) is `pool_size`.
        padding: "valid" or "same".
        data_format: None, "channels_last" or "channels_first".
        **options: kind-specific (see `OPTIONS`: `p`, `normalize`,
            `trainable_p` for "lp", `seed` for "stochastic", `filter_size`,
            `padding_mode` for "blur" and "maxblur", `alpha`, `mixing` for
            "mixed", `gating` for "gated", `output_size`, `output_ratio`,
            `seed`, `random_at_inference` for "fractional"); None values are
            ignored.

    Returns:
        A new layer.

    Raises:
        ValueError: an unknown name or rank, or an option the kind does not take.
    """
    cls, options = _pick(_WINDOWED, "pooling", name, rank, options)
    if name in ("blur", "maxblur") and strides is None:
        strides = pool_size  # their own default stride is 2, Keras pooling's is pool_size
    if name == "blur":
        return cls(strides=strides, data_format=data_format, **options)
    if name == "fractional":
        if "output_size" not in options and "output_ratio" not in options:
            steps = strides if strides is not None else pool_size
            steps = (steps,) * rank if isinstance(steps, int) else tuple(steps)
            options["output_ratio"] = tuple(1.0 / s for s in steps)
        return cls(pool_size=pool_size, data_format=data_format, **options)
    return cls(pool_size=pool_size, strides=strides, padding=padding,
               data_format=data_format, **options)


def head(name, rank=2, data_format=None, keepdims=False, **options):
    """A classifier head's pooling by name: one of `HEADS` ("flatten" is Flatten).

    Args:
        name: "flatten", "global_max", "global_avg", "global_min", "global_lp",
            "global_stochastic", "global_soft", "global_avgmax" ((avg + max) / 2),
            "global_catavgmax" ([avg, max]: twice the channels) or "global_lse"
            (log-sum-exp with a learned sharpness `r`).
        rank: 1, 2 or 3: the input's spatial rank.
        data_format: None, "channels_last" or "channels_first".
        keepdims: keep the pooled spatial axes (not for "flatten").
        **options: as for `pooling` ("global_lp": `p`, `normalize`,
            `trainable_p`; "global_stochastic": `seed`; "global_lse": `r`,
            `trainable_r`).

    Returns:
        A new layer.

    Raises:
        ValueError: an unknown name or rank, or an option the head does not take.
    """
    if name == "flatten":
        _pick({"flatten": (None,) * 3}, "head", name, rank, options)
        if keepdims:
            raise ValueError("head 'flatten' has no `keepdims`. Received: keepdims=True")
        return keras.layers.Flatten(data_format=data_format)
    cls, options = _pick(_GLOBAL, "head", name, rank, options)
    return cls(data_format=data_format, keepdims=keepdims, **options)


def pooling_classes(name):
    """The (1D, 2D, 3D) layer classes of a pooling or global head name."""
    table = {**_WINDOWED, **_GLOBAL}
    if name not in table:
        raise ValueError(f"Unknown pooling {name!r}; allowed: {', '.join(table)}")
    return table[name]
