"""Every private TensorFlow API keras_pool uses, in one place.

Only `keras_pool.xla_clusters` uses these, and only on the TensorFlow
backend: this module imports TensorFlow (lazily, inside each function), so
keras_pool itself still imports without it. An upgrade that moves one of
these breaks here, and ``tests/test_private_apis.py`` names the API and the
TensorFlow version that lost it.
"""


def in_xla_context():
    """Whether the graph being traced (or one it is nested in) is compiled by XLA.

    TensorFlow's own test, the one `tf.function` makes before it opens an XLA context.
    """
    from tensorflow.python.framework import ops as tf_ops
    from tensorflow.python.ops import control_flow_util

    return control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph())


def op_determinism_enabled():
    """Whether `tf.config.experimental.enable_op_determinism()` is on.

    The check Keras itself makes before XLA (not in TensorFlow's public API).
    """
    from tensorflow.python.framework.config import is_op_determinism_enabled

    return is_op_determinism_enabled()
