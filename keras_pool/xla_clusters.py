"""XLA clusters for `keras_pool.ops` inside plain TensorFlow graphs.

`model.fit` on TensorFlow runs a `tf.function` without XLA whenever Keras
turns XLA off (on a CPU under op determinism, or with `jit_compile=False`).
There each unfused `keras.ops` element-wise op of a pooling is a full memory
pass, which makes an Lp or SoftPool layer 5-15x slower than a built-in pool.
`cluster(fn)` runs `fn` as one `tf.function(jit_compile=True)` (an XLA
cluster: forward and gradient each fused) when it is called while TensorFlow
traces a graph that XLA does not compile already, and calls `fn` unchanged
everywhere else: eagerly, inside `jit_compile=True` functions, on JAX and
PyTorch, for symbolic `keras.Input` tensors, for inputs with unknown
non-batch dimensions, on GPUs under op determinism (XLA's GPU kernels are not
all deterministic), where TensorFlow was built without XLA, and when the
environment variable ``KERAS_POOL_XLA_CLUSTERS=0`` (read at import) or
`set_enabled(False)` switches clusters off.

The cluster computes what `fn` computes, in the same order of operations up
to XLA's fusion and float reassociation (tests/layers/test_xla_clusters.py
checks values and gradients of every op against the unclustered graph).

Public API
----------
``cluster(fn) -> fn``, ``cluster(when=predicate)(fn) -> fn``
    Decorator for a `keras_pool.ops` function whose first argument is the
    input tensor; `predicate(arguments)` (the call's arguments by name,
    defaults included) may keep a call out of the cluster, e.g. one that
    runs a native pooling kernel, which is faster outside XLA on a CPU.
    Tensor and variable arguments become cluster inputs (a trainable p gets
    its gradient; drawn random keys pass in as a tensor); the others (sizes,
    strings, Python numbers) key the cluster's traces.
``inside_xla() -> bool``
    Whether TensorFlow is tracing a function XLA compiles whole (False on JAX
    and PyTorch, eagerly and in plain graphs): ops whose native kernel XLA's
    CPU backend runs slowly (a depthwise convolution) choose another form there.
``set_enabled(flag)``, ``enabled() -> bool``
    Switch clusters on or off process-wide (for comparisons and debugging).
"""

import functools
import inspect
import os

import keras
import numpy as np

_ENABLED = os.environ.get("KERAS_POOL_XLA_CLUSTERS", "1") != "0"


def set_enabled(flag):
    """Turn XLA clusters on or off for every later trace."""
    global _ENABLED
    _ENABLED = bool(flag)


def enabled():
    """Whether `cluster` may compile (it still only does in TensorFlow graphs)."""
    return _ENABLED


def cluster(fn=None, *, when=None):
    """`fn` as an XLA cluster inside TensorFlow graphs; see the module docstring."""
    if fn is None:
        return functools.partial(cluster, when=when)
    if keras.backend.backend() != "tensorflow":
        return fn
    import tensorflow as tf

    compiled = tf.function(fn, jit_compile=True, autograph=False)
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def call(inputs, *args, **kwargs):
        if not (_ENABLED and tf.inside_function() and _clusterable(tf, inputs)):
            return fn(inputs, *args, **kwargs)
        if when is not None:
            bound = signature.bind(inputs, *args, **kwargs)
            bound.apply_defaults()
            if not when(bound.arguments):
                return fn(inputs, *args, **kwargs)
        args = [_as_tensor(tf, a) for a in args]
        kwargs = {k: _as_tensor(tf, v) for k, v in kwargs.items()}
        return compiled(tf.convert_to_tensor(inputs), *args, **kwargs)

    return call


def inside_xla():
    """Whether TensorFlow is tracing a function that XLA compiles whole."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.inside_function() and _compiled_already()


def _clusterable(tf, inputs):
    if isinstance(inputs, keras.KerasTensor) or _compiled_already() or not _xla_usable(tf):
        return False
    shape = getattr(inputs, "shape", None)
    return shape is not None and None not in tuple(shape)[1:]


def _compiled_already():
    """Tracing inside a `jit_compile=True` function: XLA compiles the whole of it.

    (A nested cluster there would only add a function call, and with a seed
    drawn outside it, a recompilation on every call.) TensorFlow's own test,
    the one `tf.function` makes before it opens an XLA context.
    """
    from keras_pool import _tf_private

    return _tf_private.in_xla_context()


def _xla_usable(tf):
    if not tf.test.is_built_with_xla():
        return False
    # The check Keras itself makes before XLA (not in TensorFlow's public API).
    from keras_pool import _tf_private

    return not (_tf_private.op_determinism_enabled() and tf.config.list_logical_devices("GPU"))


def _as_tensor(tf, value):
    """Tensors, variables and arrays as graph tensors; anything else as is (static)."""
    if isinstance(value, keras.Variable):
        return tf.convert_to_tensor(value.value)
    if tf.is_tensor(value) or isinstance(value, np.ndarray):
        return tf.convert_to_tensor(value)
    return value
