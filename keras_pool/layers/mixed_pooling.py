"""Learned max-average pooling (Lee, Gallagher & Tu 2016, "Generalizing Pooling
Functions in Convolutional Neural Networks: Mixed, Gated, and Tree"):
MixedPooling1D/2D/3D and GatedPooling1D/2D/3D.

Both output avg + a * (max - avg) per window. Mixed pooling learns the
share a in [0, 1] directly (one for the layer or one per channel); gated
pooling computes it per window, a = sigmoid(w . window), from a learned w of
the window's size (shared by the channels or one per channel).
"""

import keras

from keras_pool import ops as pool_ops
from keras_pool.layers.base import BasePooling

register = keras.saving.register_keras_serializable(package="keras_pool")
SCOPES = ("layer", "channel")


@keras.saving.register_keras_serializable(package="keras_pool")
class UnitInterval(keras.constraints.Constraint):
    """Keeps a learned mixing share in [0, 1] after each optimizer step."""

    def __call__(self, w):
        return keras.ops.clip(w, 0.0, 1.0)


class LearnedMix(BasePooling):
    """Shared by mixed and gated pooling: the scope of the learned weight."""

    def _channels(self, input_shape):
        channels = input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
        if channels is None:
            raise ValueError(
                f"{type(self).__name__} with a per-channel weight needs a known number "
                f"of channels. Received input shape: {tuple(input_shape)}"
            )
        return channels


class MixedPooling(LearnedMix):
    """alpha * max + (1 - alpha) * avg with a learned alpha."""

    args_doc = """
        alpha: float in [0, 1] (default 0.5), the initial share of max pooling;
            learned (weight "alpha", kept in [0, 1]).
        mixing: "layer" (one alpha, default) or "channel" (one per channel).
    """

    def __init__(
        self,
        pool_size=2,
        strides=None,
        padding="valid",
        data_format=None,
        alpha=0.5,
        mixing="layer",
        **kwargs,
    ):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)
        self.alpha_init = pool_ops.normalize_number(alpha, "alpha", 0.0, 1.0)
        self.mixing = pool_ops.normalize_choice(mixing, "mixing", SCOPES)

    def build(self, input_shape):
        shape = () if self.mixing == "layer" else (self._channels(input_shape),)
        self.alpha = self.add_weight(
            name="alpha",
            shape=shape,
            initializer=keras.initializers.Constant(self.alpha_init),
            constraint=UnitInterval(),
        )

    def _pool(self, inputs, training):
        return pool_ops.mixed_pool(
            inputs, self.pool_size, self.strides, self.padding, self.data_format,
            alpha=self.alpha,
        )

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha_init, "mixing": self.mixing}


class GatedPooling(LearnedMix):
    """g * max + (1 - g) * avg with g = sigmoid(w . window) per window."""

    args_doc = """
        gating: "layer" (one gate kernel w of the window's shape, shared by
            the channels; default) or "channel" (one per channel). w is the
            weight "gate_kernel", initialized to zeros (every gate 0.5).
    """

    def __init__(
        self, pool_size=2, strides=None, padding="valid", data_format=None, gating="layer",
        **kwargs,
    ):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)
        self.gating = pool_ops.normalize_choice(gating, "gating", SCOPES)

    def build(self, input_shape):
        shape = self.pool_size
        if self.gating == "channel":
            shape += (self._channels(input_shape),)
        self.gate_kernel = self.add_weight(name="gate_kernel", shape=shape, initializer="zeros")

    def _pool(self, inputs, training):
        return pool_ops.gated_pool(
            inputs, self.gate_kernel, self.strides, self.padding, self.data_format
        )

    def get_config(self):
        return {**super().get_config(), "gating": self.gating}


@register
class MixedPooling1D(MixedPooling):
    """Mixed max-average pooling over 1D windows.

    >>> x = keras.ops.convert_to_tensor([[[1.0], [3.0]]])
    >>> keras.ops.convert_to_numpy(MixedPooling1D(pool_size=2, alpha=0.25)(x))[0, 0, 0].tolist()  # .25 * 3 + .75 * 2
    2.25
    """

    rank = 1


@register
class MixedPooling2D(MixedPooling):
    """Mixed max-average pooling over 2D windows, the share of max learned.

    >>> layer = MixedPooling2D(pool_size=2, mixing="channel")
    >>> tuple(layer(keras.random.uniform((8, 32, 32, 3))).shape)
    (8, 16, 16, 3)
    >>> tuple(layer.alpha.shape)  # one share per channel
    (3,)
    """

    rank = 2


@register
class MixedPooling3D(MixedPooling):
    """Mixed max-average pooling over 3D windows.

    >>> tuple(MixedPooling3D()(keras.random.uniform((2, 8, 8, 8, 3))).shape)
    (2, 4, 4, 4, 3)
    """

    rank = 3


@register
class GatedPooling1D(GatedPooling):
    """Gated max-average pooling over 1D windows.

    >>> x = keras.ops.convert_to_tensor([[[1.0], [3.0]]])
    >>> keras.ops.convert_to_numpy(GatedPooling1D(pool_size=2)(x))[0, 0, 0].tolist()  # gate sigmoid(0) = 0.5
    2.5
    """

    rank = 1


@register
class GatedPooling2D(GatedPooling):
    """Gated max-average pooling over 2D windows, the mix computed per window.

    >>> layer = GatedPooling2D(pool_size=2, gating="channel")
    >>> tuple(layer(keras.random.uniform((8, 32, 32, 3))).shape)
    (8, 16, 16, 3)
    >>> tuple(layer.gate_kernel.shape)  # a 2x2 gate per channel
    (2, 2, 3)
    """

    rank = 2


@register
class GatedPooling3D(GatedPooling):
    """Gated max-average pooling over 3D windows.

    >>> tuple(GatedPooling3D()(keras.random.uniform((2, 8, 8, 8, 3))).shape)
    (2, 4, 4, 4, 3)
    """

    rank = 3
