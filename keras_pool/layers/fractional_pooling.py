"""Fractional max pooling (Graham 2014): FractionalMaxPooling1D/2D/3D.

The maximum over pseudo-random, overlapping windows of `pool_size` cells that
shrink each spatial size n to `output_size` (or `int(n * output_ratio)`),
placed exactly as PyTorch's `FractionalMaxPool2d/3d` place them; see
`keras_pool.ops.fractional_max_pool`.

Which windows a call uses:

- training (`training=True`): fresh samples on every call from the layer's
  `keras.random.SeedGenerator(seed)` (reproducible for a seed, safe under jit),
  as Graham trains;
- inference (the default, `training=False`): deterministic windows, one fixed
  draw of u per channel and axis (from `seed`; a non-trainable weight, so a
  saved model keeps it), the same for every example and call. Channels keep
  windows of their own, as in training: one u shared by every channel (u = 0.5
  everywhere, say) aligns all channels' windows, which training never shows the
  next layer; on the MNIST-5k study's four-stage ratio-1/sqrt(2) CNN it scored
  0.68 where a per-channel draw scored 0.92;
- inference with `random_at_inference=True`: fresh samples on every call, as
  PyTorch's layer draws in eval mode too (average several calls' predictions
  for Graham's test-time averaging).
"""

import keras
import numpy as np

from keras_pool.layers.base import Documented, StochasticMixin
from keras_pool.ops import arguments
from keras_pool.ops import fractional_pooling as fractional
from keras_pool.ops.window import spatial_dims, with_spatial

register = keras.saving.register_keras_serializable(package="keras_pool")

FRACTIONAL_ARGS = """\
output_size: int or tuple of {rank} ints, the output's spatial size
    (`output_size + pool_size - 1 <= n` on each axis). Exactly one of
    `output_size` and `output_ratio` is given.
output_ratio: float in (0, 1) or tuple of {rank}; the output size is
    `int(n * output_ratio)` (PyTorch's rounding), so it may stay unknown
    (None) for unknown input sizes.
pool_size: int or tuple of {rank} ints, the window size (default 2).
seed: int or None, seeds the layer's `keras.random.SeedGenerator`: training
    windows are reproducible for a seed and fresh on every call.
data_format: "channels_last" or "channels_first"; None uses
    `keras.config.image_data_format()`.
random_at_inference: bool (default False). False: inference uses the fixed
    windows of one per-channel draw; True: inference draws fresh windows on each call too,
    as PyTorch's layer does in eval mode."""

FRACTIONAL_OUTPUT = """\
The input's layout with each spatial size n pooled to `output_size`, or to
`int(n * output_ratio)` (None for an unknown n)."""


class FractionalMaxPooling(StochasticMixin, Documented, keras.layers.Layer):
    """Fractional max pooling; see the module docstring.

    Subclasses set `rank` (1, 2 or 3).
    """

    shared_args_doc = FRACTIONAL_ARGS
    output_doc = FRACTIONAL_OUTPUT
    args_doc = ""  # `seed` is in FRACTIONAL_ARGS, in its place

    def __init__(
        self,
        output_size=None,
        output_ratio=None,
        pool_size=2,
        seed=None,
        data_format=None,
        random_at_inference=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (output_size is None) == (output_ratio is None):
            raise ValueError(
                "Exactly one of `output_size` and `output_ratio` must be given. "
                f"Received: output_size={output_size!r}, output_ratio={output_ratio!r}"
            )
        self.output_size = (
            None if output_size is None
            else fractional.normalize_output_size(output_size, self.rank)
        )
        self.output_ratio = (
            None if output_ratio is None
            else fractional.normalize_output_ratio(output_ratio, self.rank)
        )
        self.pool_size = arguments.normalize_tuple(pool_size, self.rank, "pool_size")
        self.data_format = arguments.normalize_data_format(data_format)
        self.random_at_inference = arguments.normalize_bool(
            random_at_inference, "random_at_inference"
        )
        self._init_seed(seed)
        self.input_spec = keras.layers.InputSpec(ndim=self.rank + 2)

    def _output_spatial(self, input_shape):
        spatial = spatial_dims(tuple(input_shape), self.data_format)
        if self.output_size is not None:
            out = self.output_size
        else:
            out = fractional.ratio_output_size(spatial, self.output_ratio)
        fractional.check_output_size(spatial, out, self.pool_size)
        return out

    def build(self, input_shape):
        self._output_spatial(input_shape)  # a too-large output fails at build
        axis = -1 if self.data_format == "channels_last" else 1
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(
                f"{type(self).__name__} needs a known number of channels (its inference "
                f"windows are fixed per channel). Received: input_shape={input_shape}"
            )
        draw = np.random.default_rng(self.seed).uniform(size=(channels, self.rank))
        self.inference_samples = self.add_weight(
            name="inference_samples", shape=(channels, self.rank), dtype="float32",
            initializer=keras.initializers.Constant(draw.astype("float32")), trainable=False)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return with_spatial(tuple(input_shape), self._output_spatial(input_shape),
                            self.data_format)

    def call(self, inputs, training=None):
        draw = bool(training) or self.random_at_inference
        if draw:
            samples = fractional.draw_samples(inputs, self.rank, self.seed_generator,
                                              self.data_format)
        else:  # the fixed per-channel draw, the same for every example
            fixed = keras.ops.expand_dims(self.inference_samples, 0)
            samples = keras.ops.broadcast_to(
                fixed, (keras.ops.shape(inputs)[0], *self.inference_samples.shape))
        out = self._output_spatial(inputs.shape)
        if None in out:  # a ratio of unknown input sizes (TensorFlow graphs)
            spatial = spatial_dims(tuple(keras.ops.shape(inputs)), self.data_format)
            out = tuple(
                o if o is not None
                else keras.ops.cast(keras.ops.cast(n, "float64") * r, "int32")
                for o, n, r in zip(out, spatial, self.output_ratio)
            )
            return fractional._fractional_max_pool(inputs, samples, out, self.pool_size,
                                                   self.data_format)
        return fractional.fractional_max_pool(inputs, out, self.pool_size, samples,
                                              data_format=self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_size": self.output_size,
                "output_ratio": self.output_ratio,
                "pool_size": self.pool_size,
                "seed": self.seed,
                "data_format": self.data_format,
                "random_at_inference": self.random_at_inference,
            }
        )
        return config


@register
class FractionalMaxPooling1D(FractionalMaxPooling):
    """Fractional max pooling over steps (no PyTorch counterpart; the same rule).

    >>> x = keras.random.uniform((4, 30, 3))
    >>> tuple(FractionalMaxPooling1D(output_ratio=0.7, seed=1)(x, training=True).shape)
    (4, 21, 3)
    """

    rank = 1


@register
class FractionalMaxPooling2D(FractionalMaxPooling):
    """Fractional max pooling over height and width, as `torch.nn.FractionalMaxPool2d`.

    >>> x = keras.random.uniform((8, 25, 25, 3))
    >>> layer = FractionalMaxPooling2D(output_size=17, seed=1)
    >>> tuple(layer(x, training=True).shape)
    (8, 17, 17, 3)
    >>> tuple(FractionalMaxPooling2D(output_ratio=(0.5, 0.75))(x).shape)
    (8, 12, 18, 3)
    """

    rank = 2


@register
class FractionalMaxPooling3D(FractionalMaxPooling):
    """Fractional max pooling over three spatial dims, as `torch.nn.FractionalMaxPool3d`.

    >>> x = keras.random.uniform((2, 9, 9, 9, 3))
    >>> tuple(FractionalMaxPooling3D(output_size=(6, 5, 4), seed=0)(x).shape)
    (2, 6, 5, 4, 3)
    """

    rank = 3

