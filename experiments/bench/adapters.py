"""What differs between the Keras backends when a benchmark runs on them.

A function is compiled the way each mode runs it (``tf.function`` with or
without XLA, ``jax.jit``, eager PyTorch or ``torch.compile``); a layer's
forward or backward pass becomes a function of plain tensors the way each
backend's trainer calls it; a mode that does not compile here is probed and
reported rather than fatal. Also the backend's tensors, its GPUs and the
CPU threads it may use. Every backend library is imported inside the
function that needs it, so importing this module imports none of them.
"""

import os

from .timing import sync

# mode -> the `jit_compile` of `model.compile` (on jax, False would run the step op by op)
CNN_JIT = {"tf.function": False, "XLA": True, "jit": True, "eager": False, "torch.compile": True}


def compile_fn(fn, backend, mode):
    """`fn` as `mode` of `backend` runs it (see `timing.MODES`)."""
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=mode == "XLA")
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if mode == "torch.compile":
        import torch

        return torch.compile(fn)
    return fn  # torch eager


def probe_mode(backend, mode):
    """None if `mode` compiles and runs a tiny function here, else the reason (one line)."""
    import keras

    x = keras.ops.ones((2, 4, 4, 1))
    fn = compile_fn(lambda x, dy: keras.ops.max(x * dy, axis=(1, 2)), backend, mode)
    try:
        sync(fn(x, x))
    except Exception as e:  # noqa: BLE001 - any failure makes the mode unavailable
        text = str(e).strip().splitlines()
        return f"{type(e).__name__}: {text[0] if text else ''}"[:300]
    return None


def pass_fn(layer, training, backward, backend):
    """(fn, state): `fn(x, dy, *state)` is the layer's output, or its input gradient.

    The cotangent `dy` is an argument (random, not ones) so that no gradient
    can be constant-folded: d sum(avg_pool(x)) / dx does not depend on x, and
    both Grappler and XLA would otherwise fold the baseline's backward pass
    away. On JAX the layer runs through `stateless_call` with its variables
    as arguments (so jit neither bakes them in nor leaks tracers into them)
    and `fn` returns the new non-trainable state too (the stochastic layers'
    seed), as Keras' JAX trainer does.
    """
    if backend == "tensorflow":
        import tensorflow as tf

        def forward(x, dy):
            return layer(x, training=training)

        def backward_(x, dy):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y, carried = split_outputs(layer(x, training=training))
            grad = tape.gradient(y, x, output_gradients=dy)
            return (grad, *carried) if carried else grad

        return (backward_ if backward else forward), ()
    if backend == "jax":
        import jax

        state = (
            [v.value for v in layer.trainable_variables],
            [v.value for v in layer.non_trainable_variables],
        )

        # stateless_call goes straight to `call`: the built-ins take no `training`
        kwargs = {"training": training} if "training" in _call_args(layer) else {}

        def stateless(x, trainable, non_trainable):
            return layer.stateless_call(trainable, non_trainable, x, **kwargs)

        def forward(x, dy, trainable, non_trainable):
            return stateless(x, trainable, non_trainable)

        def differentiated(x, trainable, non_trainable):
            y, new_state = stateless(x, trainable, non_trainable)
            y, carried = split_outputs(y)
            return y, (carried, new_state)

        def backward_(x, dy, trainable, non_trainable):
            _, vjp, (carried, new_state) = jax.vjp(
                lambda x: differentiated(x, trainable, non_trainable), x, has_aux=True
            )
            return (vjp(dy)[0], new_state, carried) if carried else (vjp(dy)[0], new_state)

        return (backward_ if backward else forward), state
    import torch

    def forward(x, dy):
        return layer(x, training=training)

    def backward_(x, dy):
        x = x.detach().requires_grad_(True)
        y, carried = split_outputs(layer(x, training=training))
        (grad,) = torch.autograd.grad(y, x, grad_outputs=dy)
        return (grad, *carried) if carried else grad

    return (backward_ if backward else forward), ()


def split_outputs(y):
    """(differentiated, carried) of a layer's output: a tensor is differentiated;
    of a list, the float tensors are (a list unless one) and the others
    (argmax pooling's indices) are carried along, so that they are computed."""
    import keras

    if not isinstance(y, (list, tuple)):
        return y, []
    floats = [t for t in y if "float" in keras.backend.standardize_dtype(t.dtype)]
    carried = [t for t in y if "float" not in keras.backend.standardize_dtype(t.dtype)]
    return (floats[0] if len(floats) == 1 else floats), carried


def cotangent(layer, x, training, seed=(3, 3)):
    """A random cotangent of `layer`'s differentiated output(s) on `x` (see `pass_fn`)."""
    y, _ = split_outputs(layer(x, training=training))
    if isinstance(y, list):
        return [normal(tuple(t.shape), seed=(*seed, i)) for i, t in enumerate(y)]
    return normal(tuple(y.shape), seed=seed)


def _call_args(layer):
    import inspect

    return inspect.signature(layer.call).parameters


def normal(shape, seed, absolute=False):
    """A float32 standard normal tensor of the current backend (NumPy-seeded)."""
    import keras
    import numpy as np

    values = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    return keras.ops.convert_to_tensor(np.abs(values) if absolute else values)


def make_layer(name, rank, pool_args, options, x=None):
    """The registry's layer `name` of `rank`: a head when `pool_args` is None.

    A name of `ADAPTERS` is built by its adapter, given the bench input `x`.
    """
    from keras_pool import registry

    if name in ADAPTERS:
        return globals()[ADAPTERS[name]](rank, pool_args or {}, options, x)
    if pool_args is None:
        return registry.head(name, rank=rank, **options)
    return registry.pooling(name, rank=rank, **pool_args, **options)


# The candidates and baselines that are not registry pools (issue 26), by name: each
# builder is `builder(rank, pool_args, options, x)` with `x` the bench input of `rank`.
ADAPTERS = {
    "max_pool_with_argmax": "_argmax_pooling",  # [values, indices]
    "max_unpool": "_unpooling",  # pooled values -> input size, at x's argmax indices
    "upsampling": "_upsampling",  # keras UpSampling(2) of the pooled values
    "spp_max": "_pyramid",  # SpatialPyramidPooling bins (1, 2, 4), max
    "spp_max_levels": "_pyramid_levels",  # its levels' pools, one output each
}
PYRAMID_BINS = (1, 2, 4)


def pooled(x):
    """The 2x2/2 (2/2, 2x2x2/2) max pool of `x`: the input of unpooling rows."""
    import keras

    return keras.ops.max_pool(x, 2, 2)


def _argmax_pooling(rank, pool_args, options, x):
    import keras_pool

    return getattr(keras_pool, f"MaxPoolingWithArgmax{rank}D")(**pool_args, **options)


def _unpooling(rank, pool_args, options, x):
    import keras

    import keras_pool

    _, indices = keras_pool.ops.max_pool_with_argmax(x, 2)
    unpool = getattr(keras_pool, f"MaxUnpooling{rank}D")(**pool_args, **options)

    class MaxUnpoolingAt(keras.layers.Layer):
        """`unpool([values, indices])` with the indices of pooling the bench input."""

        def call(self, values):
            return unpool([values, indices])

    return MaxUnpoolingAt()


def _upsampling(rank, pool_args, options, x):
    import keras

    return getattr(keras.layers, f"UpSampling{rank}D")(2)


def _pyramid(rank, pool_args, options, x):
    import keras_pool

    return getattr(keras_pool, f"SpatialPyramidPooling{rank}D")(PYRAMID_BINS, "max")


def _pyramid_levels(rank, pool_args, options, x):
    import keras

    class PyramidLevels(keras.layers.Layer):
        """Each bin's adaptive max pool, not flattened or joined (Keras's
        AdaptiveMaxPooling(1) raises on TensorFlow: GlobalMaxPooling(keepdims))."""

        bench_label = (f"GlobalMaxPooling{rank}D + AdaptiveMaxPooling{rank}D "
                       f"{', '.join(map(str, PYRAMID_BINS[1:]))} (levels, not joined)")

        def __init__(self):
            super().__init__()
            self.levels = [
                getattr(keras.layers, f"GlobalMaxPooling{rank}D")(keepdims=True) if b == 1
                else getattr(keras.layers, f"AdaptiveMaxPooling{rank}D")(b)
                for b in PYRAMID_BINS
            ]

        def call(self, x):
            return [level(x) for level in self.levels]

    return PyramidLevels()


def built(layer, x, training):
    """`layer`, called once on `x` eagerly: stateless_call needs the variables."""
    layer(x, training=training)
    return layer


def torch_threads():
    """The CPU cores this process may use (the thread count of every torch timing)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def gpus(backend):
    """The names of the GPUs `backend` sees (empty on a CPU-only machine)."""
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [str(d) for d in jax.devices() if d.platform != "cpu"]
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [torch.cuda.get_device_name(i) for i in range(count)]
