"""The private APIs of Keras, TensorFlow and keras-tuner that keras-pool uses.

Each library's private uses sit behind one module of ours:
`keras_pool._keras_private` (Keras), `keras_pool._tf_private` (TensorFlow,
for the XLA clusters) and `experiments._tuner_private` (keras-tuner, for the
distributed sweep). These tests exercise every accessor against the installed
versions; when an upgrade removes or changes one, the failure names the
private API, the library version and the module to update.
"""

import importlib.metadata

import keras
import pytest

tf_backend = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="keras_pool uses these only on the TensorFlow backend")


def _require(library, api, used_by, check):
    """Run `check()`; fail, naming `api` and `library`'s version, if it raises."""
    try:
        return check()
    except (ImportError, AttributeError, TypeError, IndexError, KeyError) as e:
        version = importlib.metadata.version(library)
        pytest.fail(
            f"{library} {version}: the private API {api} (used by {used_by}) is gone or "
            f"changed ({type(e).__name__}: {e}). pyproject.toml admits only the tested "
            f"{library} versions; update {used_by} before raising the bound.",
            pytrace=False,
        )


# Keras: keras_pool._keras_private ------------------------------------------

KERAS = "keras_pool._keras_private"


def _shared_model():
    inputs = keras.Input((8, 8, 2), name="pixels")
    conv = keras.layers.Conv2D(3, 3, padding="same", name="conv")
    pool = keras.layers.MaxPooling2D(name="pool")
    x = pool(conv(inputs))
    y = conv(keras.layers.Identity(name="twin")(inputs))
    outputs = keras.layers.Add(name="add")([keras.layers.UpSampling2D(name="up")(x), y])
    return keras.Model(inputs, outputs), conv, pool


def test_keras_functional_class():
    private = _require("keras", "keras.src.models.functional.Functional", KERAS,
                       lambda: importlib.import_module(KERAS))
    model, _, _ = _shared_model()
    assert isinstance(model, private.Functional), (
        f"keras {keras.__version__}: keras.src.models.functional.Functional is no longer "
        f"the class of keras.Model(inputs, outputs); update {KERAS}")

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    assert not isinstance(Subclassed(), private.Functional)
    assert not isinstance(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
                          private.Functional)


def test_keras_node_accessors():
    from keras_pool import _keras_private as private

    model, conv, pool = _shared_model()
    nodes = _require("keras", "Operation._inbound_nodes", KERAS,
                     lambda: private.inbound_nodes(conv))
    assert len(nodes) == 2, f"keras {keras.__version__}: a layer called twice has {len(nodes)} inbound nodes"
    shapes = _require("keras", "Node.input_tensors / Node.output_tensors", KERAS,
                      lambda: [(tuple(n.input_tensors[0].shape), tuple(n.output_tensors[0].shape))
                               for n in nodes])
    assert shapes == [((None, 8, 8, 2), (None, 8, 8, 3))] * 2
    consumers = _require("keras", "Operation._outbound_nodes / Node.operation", KERAS,
                         lambda: [n.operation.name for n in private.outbound_nodes(conv)])
    assert sorted(consumers) == ["add", "pool"]
    assert [n.operation.name for n in private.outbound_nodes(pool)] == ["up"]
    name = _require("keras", "KerasTensor._keras_history.operation", KERAS,
                    lambda: private.producer(model.input).name)
    assert name == "pixels"
    assert private.producer(model.output).name == "add"


# TensorFlow: keras_pool._tf_private ----------------------------------------

TF = "keras_pool._tf_private"


@tf_backend
def test_tensorflow_xla_context():
    tf = pytest.importorskip("tensorflow")
    from keras_pool import _tf_private as private

    check = private.in_xla_context
    api = "tensorflow.python.ops.control_flow_util.GraphOrParentsInXlaContext"
    assert _require("tensorflow", api, TF, check) is False
    seen = {}

    @tf.function(jit_compile=True)
    def compiled(x):
        seen["compiled"] = check()
        return x + 1

    @tf.function(jit_compile=False)
    def plain(x):
        seen["plain"] = check()
        return x + 1

    compiled(tf.constant(1.0))
    plain(tf.constant(1.0))
    assert seen == {"compiled": True, "plain": False}, (
        f"tensorflow {tf.__version__}: {api} no longer tells an XLA-compiled trace from a plain "
        f"one ({seen}); update {TF}")


@tf_backend
def test_tensorflow_op_determinism_flag():
    pytest.importorskip("tensorflow")
    from keras_pool import _tf_private as private

    value = _require("tensorflow", "tensorflow.python.framework.config.is_op_determinism_enabled",
                     TF, private.op_determinism_enabled)
    assert isinstance(value, bool)


# keras-tuner: experiments._tuner_private -----------------------------------

TUNER = "experiments._tuner_private"


def test_keras_tuner_oracle_service():
    pytest.importorskip("keras_tuner")
    private = _require("keras-tuner", "keras_tuner.src.protos / keras_tuner.src.distribute",
                       TUNER, lambda: importlib.import_module(TUNER))
    _require("keras-tuner", "oracle_chief.OracleServicer.CreateTrial", TUNER,
             lambda: private.OracleServicer.CreateTrial)
    _require("keras-tuner", "oracle_client.OracleClient.create_trial", TUNER,
             lambda: private.OracleClient.create_trial)
    _require("keras-tuner", "protos.get_service().CreateTrialResponse", TUNER,
             lambda: private.service().CreateTrialResponse(trial=None))
    _require("keras-tuner", "protos.get_service_grpc().add_OracleServicer_to_server", TUNER,
             lambda: private.service_grpc().add_OracleServicer_to_server)


def test_keras_tuner_retry_queue():
    keras_tuner = pytest.importorskip("keras_tuner")
    from experiments import _tuner_private as private

    oracle = keras_tuner.oracles.RandomSearchOracle(
        objective=keras_tuner.Objective("score", "max"), max_trials=1)
    queue = _require("keras-tuner", "Oracle._retry_queue", TUNER,
                     lambda: private.retry_queue(oracle))
    assert isinstance(queue, list), (
        f"keras-tuner {keras_tuner.__version__}: Oracle._retry_queue is a "
        f"{type(queue).__name__}, not a list; update {TUNER} and experiments.sweeps.distributed")
