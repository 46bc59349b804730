"""Per-backend gradient and compilation helpers for the layer tests.

keras.ops has no `grad`, so tests that check gradients call the backend's own
autodiff here: tf.GradientTape, jax.grad or torch.autograd.
"""

import keras
import numpy as np


def value_and_grad(fn, x):
    """(fn(x), d sum(fn(x)) / dx) as NumPy arrays, for a NumPy input `x`."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
            total = tf.reduce_sum(y)
        return y.numpy(), tape.gradient(total, x).numpy()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        def total(v):
            y = fn(v)
            return jnp.sum(y), y

        (_, y), g = jax.value_and_grad(total, has_aux=True)(jnp.asarray(x))
        return np.asarray(y), np.asarray(g)
    import torch

    x = torch.tensor(x, requires_grad=True)
    y = fn(x)
    y.sum().backward()
    return y.detach().cpu().numpy(), x.grad.cpu().numpy()


def compile_fn(fn):
    """`fn` compiled the way each backend compiles a train step (XLA where it can)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def supports_xla():
    return keras.backend.backend() in ("tensorflow", "jax")
