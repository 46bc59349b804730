"""Spatial pyramid pooling (He et al. 2014): SpatialPyramidPooling1D/2D/3D.

Each level b of `bins` pools every spatial axis into b bins with PyTorch's
adaptive windows (bin i of n cells spans floor(i * n / b) to
ceil((i + 1) * n / b), as `torch.nn.AdaptiveMaxPool2d` and
`keras.layers.AdaptiveMaxPooling2D`); the levels are flattened in row-major
spatial order and concatenated in the order given, in TF-Addons' layout:
(batch, bins, channels) for channels_last input, (batch, channels, bins) for
channels_first, bins = sum(b ** rank). The output size does not depend on
the input's spatial size, which may be unknown (`keras.Input((None, None, C))`)
so one model takes images of any size.
"""

import keras

from keras_pool.layers.base import Documented
from keras_pool.ops.arguments import normalize_data_format
from keras_pool.ops.pyramid_pooling import (
    normalize_bins,
    normalize_mode,
    pyramid_shape,
    spatial_pyramid_pool,
)

register = keras.saving.register_keras_serializable(package="keras_pool")

PYRAMID_ARGS = """\
bins: tuple of ints >= 1 (default (1, 2, 4)): the bins per axis of each
    pyramid level; level b pools into b ** {rank} cells (b larger than an
    input size repeats cells, as PyTorch's adaptive pooling).
mode: "max" (default) or "avg", the reduction over each bin.
data_format: "channels_last" or "channels_first"; None uses
    `keras.config.image_data_format()`."""

PYRAMID_OUTPUT = """\
channels_last: (batch, sum(b ** rank for b in bins), channels);
channels_first: (batch, channels, sum(b ** rank for b in bins)), as
TF-Addons' SpatialPyramidPooling2D. Each level is flattened in row-major
spatial order, the levels in the order of `bins`."""


class SpatialPyramidPooling(Documented, keras.layers.Layer):
    """Spatial pyramid pooling; see the module docstring. Subclasses set `rank`."""

    shared_args_doc = PYRAMID_ARGS
    output_doc = PYRAMID_OUTPUT

    def __init__(self, bins=(1, 2, 4), mode="max", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.bins = normalize_bins(bins)
        self.mode = normalize_mode(mode)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = keras.layers.InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        return spatial_pyramid_pool(inputs, self.bins, self.mode, self.data_format)

    def compute_output_shape(self, input_shape):
        return pyramid_shape(input_shape, self.bins, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"bins": self.bins, "mode": self.mode, "data_format": self.data_format})
        return config


@register
class SpatialPyramidPooling1D(SpatialPyramidPooling):
    """Spatial pyramid pooling over steps: (batch, sum(bins), channels).

    >>> x = keras.random.uniform((4, 10, 3))
    >>> tuple(SpatialPyramidPooling1D(bins=(1, 2, 4))(x).shape)  # 1 + 2 + 4
    (4, 7, 3)
    """

    rank = 1


@register
class SpatialPyramidPooling2D(SpatialPyramidPooling):
    """Spatial pyramid pooling over height and width, one output size for any image size.

    >>> tuple(SpatialPyramidPooling2D()(keras.random.uniform((4, 13, 9, 3))).shape)  # 1+4+16
    (4, 21, 3)
    >>> model = keras.Sequential([keras.Input((None, None, 3)),
    ...                           SpatialPyramidPooling2D(bins=(1, 2), mode="avg"),
    ...                           keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> tuple(model(keras.random.uniform((1, 7, 11, 3))).shape)
    (1, 2)
    """

    rank = 2


@register
class SpatialPyramidPooling3D(SpatialPyramidPooling):
    """Spatial pyramid pooling over three spatial dims: (batch, sum(b ** 3), channels).

    >>> tuple(SpatialPyramidPooling3D(bins=(1, 2))(keras.random.uniform((2, 5, 4, 6, 3))).shape)
    (2, 9, 3)
    """

    rank = 3
