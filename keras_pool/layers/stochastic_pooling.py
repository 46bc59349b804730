"""Stochastic pooling (Zeiler & Fergus 2013): StochasticPooling1D/2D/3D and globals.

With a = max(x, 0) and p_i = a_i / sum(a) per window, training draws one a_i
with probability p_i; inference returns sum(p_i a_i). Windows with sum(a) = 0
give 0. Draws come from `keras.random.SeedGenerator(seed)`: reproducible for a
seed, fresh on each call, safe under jit.
"""

import keras

from keras_pool import ops as pool_ops
from keras_pool.layers.base import BaseGlobalPooling, BasePooling, StochasticMixin

register = keras.saving.register_keras_serializable(package="keras_pool")


class StochasticPooling(StochasticMixin, BasePooling):
    """Windowed stochastic pooling; see the module docstring."""

    def __init__(
        self, pool_size=2, strides=None, padding="valid", data_format=None, seed=None,
        **kwargs,
    ):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)
        self._init_seed(seed)

    def _pool(self, inputs, training):
        return pool_ops.stochastic_pool(
            inputs,
            self.pool_size,
            self.strides,
            self.padding,
            self.data_format,
            training=training,
            seed=self.seed_generator,
        )

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class GlobalStochasticPooling(StochasticMixin, BaseGlobalPooling):
    """Stochastic pooling over all spatial positions; see the module docstring."""

    def __init__(self, data_format=None, keepdims=False, seed=None, **kwargs):
        super().__init__(data_format, keepdims, **kwargs)
        self._init_seed(seed)

    def _pool(self, inputs, training):
        return pool_ops.global_stochastic_pool(
            inputs, self.data_format, self.keepdims, training=training,
            seed=self.seed_generator,
        )

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@register
class StochasticPooling1D(StochasticPooling):
    """Stochastic pooling over 1D windows.

    >>> x = keras.ops.convert_to_tensor([[[1.0], [3.0]]])
    >>> keras.ops.convert_to_numpy(StochasticPooling1D(pool_size=2)(x))[0, 0, 0].tolist()  # (1 + 9) / 4
    2.5
    """

    rank = 1


@register
class StochasticPooling2D(StochasticPooling):
    """Stochastic pooling over 2D windows; samples in training, weighted mean otherwise.

    >>> x = keras.random.uniform((8, 32, 32, 3))
    >>> layer = StochasticPooling2D(pool_size=2, seed=1)
    >>> tuple(layer(x, training=True).shape)
    (8, 16, 16, 3)
    """

    rank = 2


@register
class StochasticPooling3D(StochasticPooling):
    """Stochastic pooling over 3D windows.

    >>> tuple(StochasticPooling3D(seed=0)(keras.random.uniform((2, 8, 8, 8, 3))).shape)
    (2, 4, 4, 4, 3)
    """

    rank = 3


@register
class GlobalStochasticPooling1D(GlobalStochasticPooling):
    """Global stochastic pooling over steps.

    >>> tuple(GlobalStochasticPooling1D(seed=0)(keras.random.uniform((4, 10, 3))).shape)
    (4, 3)
    """

    rank = 1


@register
class GlobalStochasticPooling2D(GlobalStochasticPooling):
    """Global stochastic pooling over height and width.

    >>> tuple(GlobalStochasticPooling2D(seed=0)(keras.random.uniform((4, 8, 8, 3))).shape)
    (4, 3)
    """

    rank = 2


@register
class GlobalStochasticPooling3D(GlobalStochasticPooling):
    """Global stochastic pooling over three spatial dims.

    >>> tuple(GlobalStochasticPooling3D(keepdims=True)(keras.random.uniform((2, 4, 4, 4, 3))).shape)
    (2, 1, 1, 1, 3)
    """

    rank = 3
