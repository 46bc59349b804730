"""Max pooling with indices and max unpooling (SegNet): MaxPoolingWithArgmax1D/2D/3D
and MaxUnpooling1D/2D/3D, in PyTorch's index convention."""

import keras

from keras_pool import ops as pool_ops
from keras_pool.layers.base import BasePooling, Documented, set_window_arguments
from keras_pool.layers.docs import WINDOWED_ARGS
from keras_pool.ops.unpooling import (
    default_output_size,
    max_pool_with_argmax,
    max_unpool,
    normalize_output_size,
)

register = keras.saving.register_keras_serializable(package="keras_pool")


class MaxPoolingWithArgmax(BasePooling):
    """Max pooling that also returns each maximum's flat index (for unpooling)."""

    output_doc = """\
[values, indices], both the input's layout with each spatial size n pooled
to (n - pool_size) // strides + 1 ("valid") or ceil(n / strides) ("same").
`values` are `keras.layers.MaxPooling` outputs (the layer's dtype);
`indices` (int32; PyTorch's are int64, no gradient) name each maximum's cell
in its example-channel's spatial map of the input (h * W + w in 2D), as
`torch.nn.functional.max_pool2d(..., return_indices=True)`: the first
maximum in window order, a NaN before any number, never a padded cell."""

    def _pool(self, inputs, training):
        values, indices = max_pool_with_argmax(
            inputs, self.pool_size, self.strides, self.padding, self.data_format
        )
        return [values, indices]

    def compute_output_shape(self, input_shape):
        shape = super().compute_output_shape(input_shape)
        return [shape, shape]

    def compute_output_spec(self, inputs, training=None):
        shape = super().compute_output_shape(inputs.shape)
        return [
            keras.KerasTensor(shape, self.compute_dtype),
            keras.KerasTensor(shape, "int32"),
        ]


class MaxUnpooling(Documented, keras.layers.Layer):
    """Max unpooling: the values back at their indices, zeros elsewhere."""

    shared_args_doc = """\
output_size: None, or int or tuple of {rank} ints: the spatial size to
    restore (the pooling's input size). A `reference` input overrides it.
    With neither, the size PyTorch's `max_unpool` picks from the pooling's
    arguments: (n - 1) * strides + pool_size for "valid" (the smallest input
    that pools to n), n * strides for "same" (the largest); a flat index
    decodes to its cell only at the pooling's own input size, so pass
    `reference` or `output_size` unless the input size is that one.
""" + WINDOWED_ARGS.replace(
        "pool_size: int or tuple of {rank} ints, the window size.",
        "pool_size: int or tuple of {rank} ints, the paired pooling's window size\n"
        "    (used only for the default output size).",
    )
    output_doc = """\
Called on [values, indices] or [values, indices, reference]: `values`'
layout and dtype with the spatial size restored (reference's, output_size
or the default); zeros, and each value at its index of its example-channel's
map, as `torch.nn.functional.max_unpool2d`. Values sharing an index (the
same maximum of overlapping windows) are written once. The gradient of each
value is the output's gradient at its index."""

    def __init__(
        self, output_size=None, pool_size=2, strides=None, padding="valid", data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.output_size = (
            None if output_size is None else normalize_output_size(output_size, self.rank)
        )
        if self.output_size is not None and not all(isinstance(v, int) for v in self.output_size):
            raise ValueError(
                f"`output_size` must be ints (pass a `reference` input for sizes known at run "
                f"time). Received: output_size={output_size!r}"
            )
        set_window_arguments(self, pool_size, strides, padding, data_format)

    def _split(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(
                f"`{type(self).__name__}` must be called on [values, indices] or "
                f"[values, indices, reference]. Received: inputs={inputs!r}"
            )
        values, indices, *rest = inputs
        for name, tensor in [("values", values), ("indices", indices), *(
                [("reference", rest[0])] if rest else [])]:
            if len(tensor.shape) != self.rank + 2:
                raise ValueError(
                    f"`{type(self).__name__}` expects {self.rank + 2}D inputs (batch, "
                    f"spatial..., channels). Received: {name}.shape={tuple(tensor.shape)}"
                )
        return values, indices, rest[0] if rest else None

    def _spatial(self, shape):
        return pool_ops.spatial_dims(tuple(shape), self.data_format)

    def _size(self, values_shape, reference_shape):
        if reference_shape is not None:
            return tuple(self._spatial(reference_shape))
        if self.output_size is not None:
            return self.output_size
        return default_output_size(
            self._spatial(values_shape), self.pool_size, self.strides, self.padding
        )

    def call(self, inputs):
        values, indices, reference = self._split(inputs)
        if reference is not None:
            shape = keras.ops.shape(reference)
        else:
            shape = None
        size = self._size(keras.ops.shape(values), shape)
        return max_unpool(values, indices, size, self.data_format)

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        if len(shapes) not in (2, 3):
            raise ValueError(
                f"`{type(self).__name__}` must be called on [values, indices] or "
                f"[values, indices, reference]. Received input shapes: {shapes}"
            )
        size = self._size(shapes[0], shapes[2] if len(shapes) == 3 else None)
        return pool_ops.with_spatial(shapes[0], size, self.data_format)

    def compute_output_spec(self, inputs):
        self._split(inputs)
        shape = self.compute_output_shape([tuple(t.shape) for t in inputs])
        return keras.KerasTensor(shape, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_size": self.output_size,
                "pool_size": self.pool_size,
                "strides": self.strides,
                "padding": self.padding,
                "data_format": self.data_format,
            }
        )
        return config


@register
class MaxPoolingWithArgmax1D(MaxPoolingWithArgmax):
    """Max pooling over 1D windows with indices; arguments as `keras.layers.MaxPooling1D`.

    >>> x = keras.ops.convert_to_tensor([[[3.0], [1.0], [4.0], [1.5], [5.0], [9.0]]])
    >>> values, indices = MaxPoolingWithArgmax1D(pool_size=2)(x)
    >>> keras.ops.convert_to_numpy(indices)[0, :, 0].tolist()
    [0, 2, 5]
    """

    rank = 1


@register
class MaxPoolingWithArgmax2D(MaxPoolingWithArgmax):
    """Max pooling over 2D windows with indices; arguments as `keras.layers.MaxPooling2D`.

    >>> x = keras.random.uniform((8, 32, 32, 3))
    >>> values, indices = MaxPoolingWithArgmax2D(pool_size=2)(x)
    >>> tuple(values.shape), keras.backend.standardize_dtype(indices.dtype)
    ((8, 16, 16, 3), 'int32')
    """

    rank = 2


@register
class MaxPoolingWithArgmax3D(MaxPoolingWithArgmax):
    """Max pooling over 3D windows with indices; arguments as `keras.layers.MaxPooling3D`.

    >>> x = keras.random.uniform((2, 8, 8, 8, 3))
    >>> values, indices = MaxPoolingWithArgmax3D(2, padding="same")(x)
    >>> tuple(indices.shape)
    (2, 4, 4, 4, 3)
    """

    rank = 3


@register
class MaxUnpooling1D(MaxUnpooling):
    """Max unpooling over steps, the inverse of `MaxPoolingWithArgmax1D`
    (as `torch.nn.MaxUnpool1d`).

    >>> x = keras.ops.convert_to_tensor([[[3.0], [1.0], [4.0], [1.5], [5.0], [9.0]]])
    >>> values, indices = MaxPoolingWithArgmax1D(2)(x)
    >>> keras.ops.convert_to_numpy(MaxUnpooling1D()([values, indices, x]))[0, :, 0].tolist()
    [3.0, 0.0, 4.0, 0.0, 0.0, 9.0]
    """

    rank = 1


@register
class MaxUnpooling2D(MaxUnpooling):
    """Max unpooling over height and width, the inverse of `MaxPoolingWithArgmax2D`
    (as `torch.nn.MaxUnpool2d`; SegNet's decoder upsampling).

    >>> inputs = keras.Input((None, None, 3))
    >>> values, indices = MaxPoolingWithArgmax2D(2)(inputs)
    >>> restored = MaxUnpooling2D()([values, indices, inputs])
    >>> restored.shape
    (None, None, None, 3)
    """

    rank = 2


@register
class MaxUnpooling3D(MaxUnpooling):
    """Max unpooling over three spatial dims, the inverse of `MaxPoolingWithArgmax3D`
    (as `torch.nn.MaxUnpool3d`).

    >>> x = keras.random.uniform((2, 4, 4, 4, 3))
    >>> values, indices = MaxPoolingWithArgmax3D(2)(x)
    >>> tuple(MaxUnpooling3D(output_size=4)([values, indices]).shape)
    (2, 4, 4, 4, 3)
    """

    rank = 3
