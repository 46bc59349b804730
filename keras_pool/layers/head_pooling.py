"""timm's global pooling heads: GlobalAvgMaxPooling1D/2D/3D (`0.5 * (avg + max)`,
timm's "avgmax"), GlobalCatAvgMaxPooling1D/2D/3D (`[avg, max]` on the channel
axis, averages first: timm's "catavgmax", channels double) and
GlobalLsePooling1D/2D/3D (timm's `LsePlus2d`:
`x_max + log(mean(exp(r * (x - x_max)))) / r`, r learned by default and kept
> 0). Formulas from timm/layers/adaptive_avgmax_pool.py and
timm/layers/other_pool.py; see `keras_pool.ops.head_pooling`.
"""

import keras

from keras_pool.layers import docs
from keras_pool.layers.base import BaseGlobalPooling
from keras_pool.ops.head_pooling import (
    cat_global_shape,
    global_avg_max_pool,
    global_cat_avg_max_pool,
    global_lse_pool,
    normalize_r,
)
from keras_pool.ops.arguments import normalize_bool

register = keras.saving.register_keras_serializable(package="keras_pool")

# The smallest r a trainable r may take (r -> 0 is the mean; r = 0 divides by 0).
R_FLOOR = 1e-4


@register
class AtLeast(keras.constraints.Constraint):
    """Keeps a weight at or above `value` after each optimizer step (a trainable
    r stays positive)."""

    def __init__(self, value=R_FLOOR):
        self.value = float(value)

    def __call__(self, w):
        return keras.ops.maximum(w, keras.ops.cast(self.value, w.dtype))

    def get_config(self):
        return {"value": self.value}


class GlobalAvgMaxPooling(BaseGlobalPooling):
    """`0.5 * (mean + max)` over all spatial positions, per channel."""

    def _pool(self, inputs, training):
        return global_avg_max_pool(inputs, self.data_format, self.keepdims)


class GlobalCatAvgMaxPooling(BaseGlobalPooling):
    """The mean and the max over all spatial positions, concatenated (channels double)."""

    output_doc = """\
(batch, 2 * channels): the channels' averages, then their maxima; with
`keepdims=True` the input's layout with every spatial size 1 and
2 * channels channels."""

    def _pool(self, inputs, training):
        return global_cat_avg_max_pool(inputs, self.data_format, self.keepdims)

    def compute_output_shape(self, input_shape):
        return cat_global_shape(input_shape, self.data_format, self.keepdims)


class GlobalLsePooling(BaseGlobalPooling):
    """LogSumExp pooling over all spatial positions; see the module docstring."""

    shared_args_doc = """\
r: positive finite float (default 10.0), the sharpness: r -> 0 gives the
    mean, r -> inf the max.
trainable_r: bool (default True); True learns r (a weight named "r",
    kept >= 1e-4).
""" + docs.GLOBAL_ARGS

    def __init__(self, r=10.0, trainable_r=True, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format, keepdims, **kwargs)
        self.r_init = normalize_r(r)
        self.trainable_r = normalize_bool(trainable_r, "trainable_r")
        if self.trainable_r:
            self.r = self.add_weight(
                name="r",
                shape=(),
                initializer=keras.initializers.Constant(self.r_init),
                constraint=AtLeast(R_FLOOR),
                trainable=True,
            )
        else:
            self.r = self.r_init

    def _pool(self, inputs, training):
        return global_lse_pool(inputs, self.r, self.data_format, self.keepdims)

    def get_config(self):
        return {**super().get_config(), "r": self.r_init, "trainable_r": self.trainable_r}


@register
class GlobalAvgMaxPooling1D(GlobalAvgMaxPooling):
    """timm's "avgmax" head over steps: `0.5 * (mean + max)` per channel.

    >>> x = keras.ops.convert_to_tensor([[[1.0], [2.0], [6.0]]])
    >>> keras.ops.convert_to_numpy(GlobalAvgMaxPooling1D()(x)).tolist()  # (3 + 6) / 2
    [[4.5]]
    """

    rank = 1


@register
class GlobalAvgMaxPooling2D(GlobalAvgMaxPooling):
    """timm's "avgmax" head over height and width: `0.5 * (mean + max)` per channel.

    >>> tuple(GlobalAvgMaxPooling2D()(keras.random.uniform((4, 8, 8, 3))).shape)
    (4, 3)
    """

    rank = 2


@register
class GlobalAvgMaxPooling3D(GlobalAvgMaxPooling):
    """timm's "avgmax" head over three spatial dims.

    >>> tuple(GlobalAvgMaxPooling3D(keepdims=True)(keras.random.uniform((2, 4, 4, 4, 3))).shape)
    (2, 1, 1, 1, 3)
    """

    rank = 3


@register
class GlobalCatAvgMaxPooling1D(GlobalCatAvgMaxPooling):
    """timm's "catavgmax" head over steps: `[mean, max]` per channel, channels double.

    >>> x = keras.ops.convert_to_tensor([[[1.0, 10.0], [3.0, 20.0]]])
    >>> keras.ops.convert_to_numpy(GlobalCatAvgMaxPooling1D()(x)).tolist()
    [[2.0, 15.0, 3.0, 20.0]]
    """

    rank = 1


@register
class GlobalCatAvgMaxPooling2D(GlobalCatAvgMaxPooling):
    """timm's "catavgmax" head over height and width: `[mean, max]`, channels double.

    >>> tuple(GlobalCatAvgMaxPooling2D()(keras.random.uniform((4, 8, 8, 3))).shape)
    (4, 6)
    """

    rank = 2


@register
class GlobalCatAvgMaxPooling3D(GlobalCatAvgMaxPooling):
    """timm's "catavgmax" head over three spatial dims.

    >>> layer = GlobalCatAvgMaxPooling3D(data_format="channels_first", keepdims=True)
    >>> tuple(layer(keras.random.uniform((2, 3, 4, 4, 4))).shape)
    (2, 6, 1, 1, 1)
    """

    rank = 3


@register
class GlobalLsePooling1D(GlobalLsePooling):
    """LogSumExp pooling over steps (timm's LsePlus), r learned by default.

    >>> x = keras.ops.convert_to_tensor([[[2.0], [2.0]]])
    >>> keras.ops.convert_to_numpy(GlobalLsePooling1D(r=5.0)(x)).tolist()
    [[2.0]]
    """

    rank = 1


@register
class GlobalLsePooling2D(GlobalLsePooling):
    """LogSumExp pooling over height and width: between the mean (small r) and the max.

    >>> tuple(GlobalLsePooling2D()(keras.random.uniform((4, 8, 8, 3))).shape)
    (4, 3)
    >>> [w.name for w in GlobalLsePooling2D(r=3.0).trainable_weights] == ["r"]
    True
    """

    rank = 2


@register
class GlobalLsePooling3D(GlobalLsePooling):
    """LogSumExp pooling over three spatial dims.

    >>> layer = GlobalLsePooling3D(r=20.0, trainable_r=False, keepdims=True)
    >>> tuple(layer(keras.random.uniform((2, 4, 4, 4, 3))).shape)
    (2, 1, 1, 1, 3)
    """

    rank = 3
