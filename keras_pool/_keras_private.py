"""Every private Keras API keras_pool uses, in one place.

Keras 3 has no public way to tell a Functional model from a subclassed one,
nor to walk a layer's call graph or find the layer that made a symbolic
tensor; pooling surgery (`keras_pool.surgery`, `keras_pool.antialiasing`)
needs all three. Nothing else in keras_pool touches ``keras.src`` or a
node attribute: an upgrade that moves one breaks here, and
``tests/test_private_apis.py`` names the API and the Keras version that
lost it. Tested with the Keras versions ``pyproject.toml`` admits.
"""

from keras.src.models.functional import Functional  # noqa: F401 (re-exported)


def inbound_nodes(layer):
    """The nodes of `layer`'s calls (each with `input_tensors`, `output_tensors`)."""
    return layer._inbound_nodes


def outbound_nodes(layer):
    """The nodes of the operations that consume `layer`'s outputs (each with `operation`)."""
    return layer._outbound_nodes


def producer(tensor):
    """The operation (layer) whose output the symbolic `tensor` is."""
    return tensor._keras_history.operation
