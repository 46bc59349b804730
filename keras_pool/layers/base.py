"""The two bases every keras_pool layer stands on: windowed and global pooling.

They hold the argument checks, the config and the output shapes; a concrete
layer only says which `keras_pool.ops` function pools (`_pool`).
"""

import keras

from keras_pool import ops as pool_ops
from keras_pool.layers import docs


class Documented:
    """Completes the docstring of each concrete layer class (one that sets `rank`).

    `args_doc` lists a family's own arguments; `shared_args_doc` and
    `output_doc` come from the base (see `keras_pool.layers.docs`).
    """

    rank = None
    args_doc = ""
    shared_args_doc = ""
    output_doc = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "rank" in cls.__dict__:
            docs.document(cls, cls.shared_args_doc, cls.output_doc)


def set_window_arguments(layer, pool_size, strides, padding, data_format):
    """Checked `pool_size`, `strides` (default: `pool_size`), `padding` and
    `data_format` set on `layer`, whose `rank` is 1, 2 or 3."""
    layer.pool_size = pool_ops.normalize_tuple(pool_size, layer.rank, "pool_size")
    layer.strides = (
        layer.pool_size
        if strides is None
        else pool_ops.normalize_tuple(strides, layer.rank, "strides")
    )
    layer.padding = pool_ops.normalize_padding(padding)
    layer.data_format = pool_ops.normalize_data_format(data_format)


class BasePooling(Documented, keras.layers.Layer):
    """Windowed pooling with the arguments of `keras.layers.MaxPooling2D`.

    Subclasses set `rank` (1, 2 or 3) and implement `_pool(inputs, training)`.
    """

    shared_args_doc = docs.WINDOWED_ARGS
    output_doc = docs.WINDOWED_OUTPUT

    def __init__(
        self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs
    ):
        super().__init__(**kwargs)
        set_window_arguments(self, pool_size, strides, padding, data_format)
        self.input_spec = keras.layers.InputSpec(ndim=self.rank + 2)

    def call(self, inputs, training=None):
        return self._pool(inputs, bool(training))

    def _pool(self, inputs, training):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return pool_ops.pooled_shape(
            input_shape, self.pool_size, self.strides, self.padding, self.data_format
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "pool_size": self.pool_size,
                "strides": self.strides,
                "padding": self.padding,
                "data_format": self.data_format,
            }
        )
        return config


class BaseGlobalPooling(Documented, keras.layers.Layer):
    """Global pooling with the arguments of `keras.layers.GlobalMaxPooling2D`.

    Subclasses set `rank` and implement `_pool(inputs, training)`.
    """

    shared_args_doc = docs.GLOBAL_ARGS
    output_doc = docs.GLOBAL_OUTPUT

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = pool_ops.normalize_data_format(data_format)
        self.keepdims = pool_ops.normalize_bool(keepdims, "keepdims")
        self.input_spec = keras.layers.InputSpec(ndim=self.rank + 2)

    def call(self, inputs, training=None):
        return self._pool(inputs, bool(training))

    def _pool(self, inputs, training):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return pool_ops.global_shape(input_shape, self.data_format, self.keepdims)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class LpMixin:
    """`p`, `normalize` and `trainable_p` for the Lp layers (windowed and global)."""

    args_doc = """
        p: float in [1, inf] (default 2.0); `float("inf")` is the max of |x|.
        normalize: bool; False gives the Lp norm `(sum |x|**p)**(1/p)` (as
            `torch.nn.LPPool2d` on x >= 0), True the power mean
            `(mean |x|**p)**(1/p)` (GeM), over the window's real cells.
        trainable_p: bool; True learns p (a weight named "p", kept >= 1).
    """

    def _init_lp(self, p, normalize, trainable_p):
        self.normalize = pool_ops.normalize_bool(normalize, "normalize")
        self.trainable_p = pool_ops.normalize_bool(trainable_p, "trainable_p")
        self.p_init = pool_ops.normalize_p(p)
        if self.trainable_p:
            if self.p_init == float("inf"):
                raise ValueError(
                    "`p` must be finite when `trainable_p=True`. Received: p=inf"
                )
            self.p = self.add_weight(
                name="p",
                shape=(),
                initializer=keras.initializers.Constant(self.p_init),
                constraint=AtLeastOne(),
                trainable=True,
            )
        else:
            self.p = self.p_init

    def _lp_config(self):
        return {"p": self.p_init, "normalize": self.normalize, "trainable_p": self.trainable_p}


@keras.saving.register_keras_serializable(package="keras_pool")
class AtLeastOne(keras.constraints.Constraint):
    """Keeps a trainable `p` at or above 1 after each optimizer step."""

    def __call__(self, w):
        return keras.ops.maximum(w, keras.ops.cast(1.0, w.dtype))


class StochasticMixin:
    """`seed` for the stochastic layers: reproducible, fresh on every call."""

    args_doc = """
        seed: int or None, seeds the layer's `keras.random.SeedGenerator`:
            draws are reproducible for a seed and fresh on every call.
    """

    def _init_seed(self, seed):
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError(f"`seed` must be an int or None. Received: seed={seed!r}")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
