"""Min pooling: MinPooling1D/2D/3D and GlobalMinPooling1D/2D/3D."""

import keras

from keras_pool import ops as pool_ops
from keras_pool.layers.base import BaseGlobalPooling, BasePooling

register = keras.saving.register_keras_serializable(package="keras_pool")


class MinPooling(BasePooling):
    """Window minimum; the gradient goes to the minimum, as max pooling's does."""

    def _pool(self, inputs, training):
        return pool_ops.min_pool(
            inputs, self.pool_size, self.strides, self.padding, self.data_format
        )


class GlobalMinPooling(BaseGlobalPooling):
    """Minimum over all spatial positions, per channel."""

    def _pool(self, inputs, training):
        return pool_ops.global_min_pool(inputs, self.data_format, self.keepdims)


@register
class MinPooling1D(MinPooling):
    """Min pooling over 1D windows; arguments as `keras.layers.MaxPooling1D`.

    >>> x = keras.ops.convert_to_tensor([[[3.0], [1.0], [4.0], [1.5]]])
    >>> keras.ops.convert_to_numpy(MinPooling1D(pool_size=2)(x))[0, :, 0].tolist()
    [1.0, 1.5]
    """

    rank = 1


@register
class MinPooling2D(MinPooling):
    """Min pooling over 2D windows; arguments as `keras.layers.MaxPooling2D`.

    >>> x = keras.random.uniform((8, 32, 32, 3))
    >>> tuple(MinPooling2D(pool_size=2)(x).shape)
    (8, 16, 16, 3)
    """

    rank = 2


@register
class MinPooling3D(MinPooling):
    """Min pooling over 3D windows; arguments as `keras.layers.MaxPooling3D`.

    >>> x = keras.random.uniform((2, 8, 8, 8, 3))
    >>> tuple(MinPooling3D(pool_size=2, strides=2, padding="same")(x).shape)
    (2, 4, 4, 4, 3)
    """

    rank = 3


@register
class GlobalMinPooling1D(GlobalMinPooling):
    """Global min pooling over steps; arguments as `keras.layers.GlobalMaxPooling1D`.

    >>> tuple(GlobalMinPooling1D()(keras.random.uniform((4, 10, 3))).shape)
    (4, 3)
    """

    rank = 1


@register
class GlobalMinPooling2D(GlobalMinPooling):
    """Global min pooling over height and width; as `keras.layers.GlobalMaxPooling2D`.

    >>> tuple(GlobalMinPooling2D(keepdims=True)(keras.random.uniform((4, 8, 8, 3))).shape)
    (4, 1, 1, 3)
    """

    rank = 2


@register
class GlobalMinPooling3D(GlobalMinPooling):
    """Global min pooling over three spatial dims; as `keras.layers.GlobalMaxPooling3D`.

    >>> tuple(GlobalMinPooling3D()(keras.random.uniform((2, 4, 4, 4, 3))).shape)
    (2, 3)
    """

    rank = 3
