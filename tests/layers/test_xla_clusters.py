"""XLA clusters (keras_pool.xla_clusters) against the unclustered TensorFlow graph.

Inside a plain `tf.function` the clustered ops run as one XLA cluster; with
clusters off they run op by op. Values and input gradients (and the gradient
of a trainable p) must agree; the cluster must really be in the graph where
it should be, and absent where the op falls back (eager calls, unknown
spatial dimensions, stochastic inference, clusters switched off).
"""

import keras
import numpy as np
import pytest

import keras_pool
from keras_pool import ops as pool_ops
from keras_pool import xla_clusters

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="XLA clusters exist on TensorFlow only"
)

SHAPES = {1: (2, 11, 3), 2: (2, 7, 6, 3), 3: (2, 5, 4, 5, 3)}
CLUSTERED = {  # op name -> call
    "lp_pool p=3": lambda x: pool_ops.lp_pool(x, 3, 2, "same", p=3.0),
    "lp_pool p=2.5 normalize": lambda x: pool_ops.lp_pool(x, 2, 2, p=2.5, normalize=True),
    "stochastic_pool training": lambda x: pool_ops.stochastic_pool(
        x, 3, 2, "same", training=True, seed=3),
    "soft_pool": lambda x: pool_ops.soft_pool(x, 3, 2, "same"),
    "global_lp_pool": lambda x: pool_ops.global_lp_pool(x, p=3.0),
    "global_stochastic_pool training": lambda x: pool_ops.global_stochastic_pool(
        x, training=True, seed=5),
    "global_stochastic_pool inference": lambda x: pool_ops.global_stochastic_pool(x),
    "global_soft_pool": lambda x: pool_ops.global_soft_pool(x),
}
UNCLUSTERED = {  # native pooling and matmul kernels: faster outside XLA on a CPU
    "blur_pool": lambda x: pool_ops.blur_pool(x, 4, 2, "reflect"),
    "min_pool": lambda x: pool_ops.min_pool(x, 2),
    "stochastic_pool inference": lambda x: pool_ops.stochastic_pool(x, 3, 2, "same"),
    "mixed_pool": lambda x: pool_ops.mixed_pool(x, 2, alpha=0.3),
    "max_blur_pool": lambda x: pool_ops.max_blur_pool(x, 2, 2, 3),
}


@pytest.fixture
def clusters():
    """Restore the process-wide switch however a test leaves it."""
    before = xla_clusters.enabled()
    yield xla_clusters.set_enabled
    xla_clusters.set_enabled(before)


def _graph_value_and_grad(fn, x):
    import tensorflow as tf

    @tf.function(jit_compile=False)
    def step(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            y = fn(v)
        return y, tape.gradient(y, v, output_gradients=tf.cos(y))

    y, g = step(tf.constant(x))
    return y.numpy(), g.numpy(), step.get_concrete_function(tf.constant(x)).graph


def _has_cluster(graph):
    """Any call in `graph` to a function that XLA must compile."""
    for op in graph.get_operations():
        try:
            if op.get_attr("_XlaMustCompile"):
                return True
        except ValueError:
            continue
    return False


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("name", sorted(CLUSTERED))
def test_cluster_matches_the_unclustered_graph(clusters, rng, name, rank):
    x = rng.standard_normal(SHAPES[rank]).astype("float32")
    clusters(True)
    y, g, graph = _graph_value_and_grad(CLUSTERED[name], x)
    assert _has_cluster(graph)
    clusters(False)
    y0, g0, graph0 = _graph_value_and_grad(CLUSTERED[name], x)
    assert not _has_cluster(graph0)
    np.testing.assert_allclose(y, y0, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(g, g0, rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(UNCLUSTERED))
def test_native_pooling_kernels_stay_out_of_clusters(clusters, rng, name):
    clusters(True)
    x = rng.standard_normal(SHAPES[2]).astype("float32")
    _, _, graph = _graph_value_and_grad(UNCLUSTERED[name], x)
    assert not _has_cluster(graph)


@pytest.mark.parametrize("name", ["stochastic_pool training", "lp_pool p=3"])
def test_no_nested_cluster_inside_an_xla_function(clusters, rng, name):
    """Under jit_compile=True XLA compiles the whole function: a nested cluster
    would only be a call boundary (with a seed drawn outside it, TensorFlow
    recompiled it on every call: 3 s a step)."""
    import tensorflow as tf

    clusters(True)
    x = tf.constant(rng.standard_normal(SHAPES[2]).astype("float32"))
    compiled = tf.function(CLUSTERED[name], jit_compile=True)
    graph = compiled.get_concrete_function(x).graph
    assert not _has_cluster(graph)
    np.testing.assert_allclose(compiled(x), tf.function(CLUSTERED[name])(x), rtol=1e-5, atol=1e-6)


def test_trainable_p_gets_its_gradient_through_the_cluster(clusters, rng):
    """One SGD step of `model.fit` (a plain tf.function) moves p alike with and without."""
    x = rng.uniform(0.5, 2.0, size=(4, 8, 8, 2)).astype("float32")

    def p_after_one_step():
        layer = keras_pool.LpPooling2D(2, p=2.5, trainable_p=True)
        model = keras.Sequential([keras.Input((8, 8, 2)), layer, keras.layers.Flatten()])
        model.compile(optimizer=keras.optimizers.SGD(1.0), jit_compile=False,
                      loss=lambda y, pred: keras.ops.mean(pred))
        model.fit(x, np.zeros((4, 32)), epochs=1, batch_size=4, verbose=0)
        return float(keras.ops.convert_to_numpy(layer.p))

    clusters(True)
    with_cluster = p_after_one_step()
    clusters(False)
    without = p_after_one_step()
    assert with_cluster > 2.5 + 1e-3  # minimizing the Lp norm pushes p up
    np.testing.assert_allclose(with_cluster, without, rtol=1e-5)


def test_unknown_spatial_dimensions_and_eager_calls_fall_back(clusters, rng):
    import tensorflow as tf

    clusters(True)
    spec = tf.TensorSpec((None, None, None, 3), "float32")
    traced = tf.function(lambda v: pool_ops.soft_pool(v, 2)).get_concrete_function(spec)
    assert not _has_cluster(traced.graph)
    batch_only = tf.TensorSpec((None, 6, 6, 3), "float32")
    traced = tf.function(lambda v: pool_ops.soft_pool(v, 2)).get_concrete_function(batch_only)
    assert _has_cluster(traced.graph)
    x = rng.standard_normal((3, 6, 6, 3)).astype("float32")
    np.testing.assert_allclose(traced(tf.constant(x)), pool_ops.soft_pool(x, 2), rtol=1e-5)


def test_model_fit_is_repeatable_with_clusters(clusters):
    """Two fits from the same seed give the same weights (what the harness relies on)."""
    clusters(True)
    rng = np.random.default_rng(0)
    x = rng.random((32, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 32)

    def fit():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same"),
            keras_pool.LpPooling2D(2, p=3.0), keras_pool.SoftPooling2D(2),
            keras.layers.Flatten(), keras.layers.Dense(3),
        ])
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=False)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        return [w.numpy() for w in model.weights]

    for a, b in zip(fit(), fit()):
        np.testing.assert_array_equal(a, b)
