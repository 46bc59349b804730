"""Anti-aliased pooling (Zhang 2019, "Making Convolutional Networks
Shift-Invariant Again"): BlurPooling1D/2D/3D and MaxBlurPooling1D/2D/3D.

BlurPool pads, low-passes each channel with a normalized binomial filter and
subsamples; MaxBlurPool is max pooling with stride 1 followed by BlurPool,
the anti-aliased replacement for max pooling. Both agree with the
antialiased-cnns package (and kornia where their padding matches).
"""

import keras

from keras_pool import ops as pool_ops
from keras_pool.layers.base import BasePooling, Documented

register = keras.saving.register_keras_serializable(package="keras_pool")

BLUR_ARGS = """
    filter_size: int in 1..7 or a tuple of them (default 4): binomial taps
        per axis; 1 is plain subsampling, 3 is [1, 2, 1] / 4, 4 is
        [1, 3, 3, 1] / 8 (the filter is their outer product).
    padding_mode: "reflect" (default, as antialiased-cnns), "replicate" or
        "zero"; each axis is padded ((filter_size - 1) // 2, filter_size // 2).
"""


class BlurPooling(Documented, keras.layers.Layer):
    """Windowless pooling: blur, then subsample by `strides`."""

    shared_args_doc = """\
strides: int or tuple of {rank} ints (default 2), the subsampling factor.
data_format: "channels_last" or "channels_first"; None uses
    `keras.config.image_data_format()`."""
    output_doc = "The input's layout with each spatial size n reduced to ceil(n / strides)."
    args_doc = BLUR_ARGS

    def __init__(
        self, filter_size=4, strides=2, padding_mode="reflect", data_format=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.filter_size, self.strides, self.padding_mode = pool_ops.normalize_blur_arguments(
            self.rank, filter_size, strides, padding_mode
        )
        self.data_format = pool_ops.normalize_data_format(data_format)
        self.input_spec = keras.layers.InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        return pool_ops.blur_pool(
            inputs, self.filter_size, self.strides, self.padding_mode, self.data_format
        )

    def compute_output_shape(self, input_shape):
        return pool_ops.blurred_shape(
            input_shape, self.filter_size, self.strides, self.padding_mode, self.data_format
        )

    def get_config(self):
        return {
            **super().get_config(),
            "filter_size": self.filter_size,
            "strides": self.strides,
            "padding_mode": self.padding_mode,
            "data_format": self.data_format,
        }


class MaxBlurPooling(BasePooling):
    """Max pooling with stride 1, then BlurPool with `strides`."""

    shared_args_doc = """\
pool_size: int or tuple of {rank} ints (default 2), the max pool's window
    (its stride is 1).
strides: int or tuple of {rank} ints (default 2), the blur's subsampling.
padding: the max pool's, "valid" (default, as antialiased-cnns'
    `MaxPool2d(kernel_size=2, stride=1)`) or "same".
data_format: "channels_last" or "channels_first"; None uses
    `keras.config.image_data_format()`."""
    output_doc = """\
The input's layout with each spatial size n first max-pooled to
n - pool_size + 1 ("valid") or n ("same"), then reduced to ceil(m / strides)."""
    args_doc = BLUR_ARGS

    def __init__(
        self,
        pool_size=2,
        strides=2,
        filter_size=4,
        padding="valid",
        padding_mode="reflect",
        data_format=None,
        **kwargs,
    ):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)
        self.filter_size, self.strides, self.padding_mode = pool_ops.normalize_blur_arguments(
            self.rank, filter_size, strides, padding_mode
        )

    def _pool(self, inputs, training):
        return pool_ops.max_blur_pool(
            inputs,
            self.pool_size,
            self.strides,
            self.filter_size,
            self.padding,
            self.padding_mode,
            self.data_format,
        )

    def compute_output_shape(self, input_shape):
        return pool_ops.max_blurred_shape(
            input_shape, self.pool_size, self.strides, self.filter_size, self.padding,
            self.padding_mode, self.data_format,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "filter_size": self.filter_size,
            "padding_mode": self.padding_mode,
        }


@register
class BlurPooling1D(BlurPooling):
    """BlurPool over steps: binomial low-pass, then subsampling.

    >>> x = keras.ops.convert_to_tensor([[[0.0], [0.0], [8.0], [0.0], [0.0], [0.0]]])
    >>> keras.ops.convert_to_numpy(BlurPooling1D(filter_size=3, strides=2)(x))[0, :, 0].tolist()  # [1, 2, 1] / 4
    [0.0, 4.0, 0.0]
    """

    rank = 1


@register
class BlurPooling2D(BlurPooling):
    """BlurPool over height and width (Zhang 2019), as antialiased-cnns' `BlurPool`.

    >>> x = keras.random.uniform((8, 32, 32, 3))
    >>> tuple(BlurPooling2D()(x).shape)  # filter_size=4, strides=2, reflect padding
    (8, 16, 16, 3)
    """

    rank = 2


@register
class BlurPooling3D(BlurPooling):
    """BlurPool over three spatial dims.

    >>> tuple(BlurPooling3D(filter_size=3)(keras.random.uniform((2, 8, 8, 8, 3))).shape)
    (2, 4, 4, 4, 3)
    """

    rank = 3


@register
class MaxBlurPooling1D(MaxBlurPooling):
    """Anti-aliased max pooling over steps.

    >>> tuple(MaxBlurPooling1D()(keras.random.uniform((4, 16, 3))).shape)
    (4, 8, 3)
    """

    rank = 1


@register
class MaxBlurPooling2D(MaxBlurPooling):
    """Anti-aliased max pooling (Zhang's MaxBlurPool) over height and width.

    >>> x = keras.random.uniform((8, 32, 32, 3))
    >>> tuple(MaxBlurPooling2D(pool_size=2, strides=2)(x).shape)  # 32 -> 31 (max) -> 16
    (8, 16, 16, 3)
    """

    rank = 2


@register
class MaxBlurPooling3D(MaxBlurPooling):
    """Anti-aliased max pooling over three spatial dims.

    >>> tuple(MaxBlurPooling3D(padding="same")(keras.random.uniform((2, 8, 8, 8, 3))).shape)
    (2, 4, 4, 4, 3)
    """

    rank = 3
