"""Lp pooling: LpPooling1D/2D/3D and GlobalLpPooling1D/2D/3D.

Default: the Lp norm (sum |x|**p)**(1/p) per window, equal to
`torch.nn.LPPool2d` on non-negative input. `normalize=True`: the power mean
(mean |x|**p)**(1/p) (GeM), from average pooling (p=1) to max pooling
(p -> inf) of |x|. `trainable_p=True` learns p, kept >= 1.
"""

import keras

from keras_pool import ops as pool_ops
from keras_pool.layers.base import BaseGlobalPooling, BasePooling, LpMixin

register = keras.saving.register_keras_serializable(package="keras_pool")


class LpPooling(LpMixin, BasePooling):
    """Windowed Lp pooling; see the module docstring."""

    def __init__(
        self,
        pool_size=2,
        strides=None,
        padding="valid",
        data_format=None,
        p=2.0,
        normalize=False,
        trainable_p=False,
        **kwargs,
    ):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)
        self._init_lp(p, normalize, trainable_p)

    def _pool(self, inputs, training):
        return pool_ops.lp_pool(
            inputs,
            self.pool_size,
            self.strides,
            self.padding,
            self.data_format,
            p=self.p,
            normalize=self.normalize,
        )

    def get_config(self):
        return {**super().get_config(), **self._lp_config()}


class GlobalLpPooling(LpMixin, BaseGlobalPooling):
    """Lp pooling over all spatial positions; see the module docstring."""

    def __init__(
        self, data_format=None, keepdims=False, p=2.0, normalize=False, trainable_p=False,
        **kwargs,
    ):
        super().__init__(data_format, keepdims, **kwargs)
        self._init_lp(p, normalize, trainable_p)

    def _pool(self, inputs, training):
        return pool_ops.global_lp_pool(
            inputs, self.data_format, self.keepdims, p=self.p, normalize=self.normalize
        )

    def get_config(self):
        return {**super().get_config(), **self._lp_config()}


@register
class LpPooling1D(LpPooling):
    """Lp pooling over 1D windows.

    >>> x = keras.ops.convert_to_tensor([[[3.0], [4.0]]])
    >>> keras.ops.convert_to_numpy(LpPooling1D(pool_size=2, p=2.0)(x))[0, 0, 0].tolist()  # sqrt(9 + 16)
    5.0
    """

    rank = 1


@register
class LpPooling2D(LpPooling):
    """Lp pooling over 2D windows (GeM with `normalize=True`).

    >>> x = keras.random.uniform((8, 32, 32, 3))
    >>> tuple(LpPooling2D(pool_size=3, strides=2, padding="same", p=3.0)(x).shape)
    (8, 16, 16, 3)
    >>> tuple(LpPooling2D(p=3.0, normalize=True, trainable_p=True)(x).shape)  # learns p
    (8, 16, 16, 3)
    """

    rank = 2


@register
class LpPooling3D(LpPooling):
    """Lp pooling over 3D windows.

    >>> tuple(LpPooling3D(pool_size=2, p=4.0)(keras.random.uniform((2, 8, 8, 8, 3))).shape)
    (2, 4, 4, 4, 3)
    """

    rank = 3


@register
class GlobalLpPooling1D(GlobalLpPooling):
    """Global Lp pooling over steps.

    >>> tuple(GlobalLpPooling1D(p=2.0)(keras.random.uniform((4, 10, 3))).shape)
    (4, 3)
    """

    rank = 1


@register
class GlobalLpPooling2D(GlobalLpPooling):
    """Global Lp pooling over height and width; GeM with `normalize=True`.

    >>> tuple(GlobalLpPooling2D(p=3.0, normalize=True)(keras.random.uniform((4, 8, 8, 3))).shape)
    (4, 3)
    """

    rank = 2


@register
class GlobalLpPooling3D(GlobalLpPooling):
    """Global Lp pooling over three spatial dims.

    >>> tuple(GlobalLpPooling3D(keepdims=True)(keras.random.uniform((2, 4, 4, 4, 3))).shape)
    (2, 1, 1, 1, 3)
    """

    rank = 3
