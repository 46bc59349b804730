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


def assert_seeded_draws_reproduce_and_advance(layer, x):
    """Under `compile_fn`, a random layer's seed state is explicit: the same state
    gives the same training output, the state it returns gives another."""
    layer.build(x.shape)
    state = [v.value for v in layer.non_trainable_variables]

    def step(state, x):
        return layer.stateless_call([], state, x, training=True)

    step = compile_fn(step)
    out1, state1 = step(state, x)
    out1_again, _ = step(state, x)
    out2, _ = step(state1, x)
    out1, out1_again, out2 = (keras.ops.convert_to_numpy(v) for v in (out1, out1_again, out2))
    np.testing.assert_array_equal(out1, out1_again)
    assert not np.array_equal(out1, out2)
