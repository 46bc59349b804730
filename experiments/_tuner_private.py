"""Every private keras-tuner API the harness uses, in one place.

The distributed sweep (`experiments.sweeps.oracle`, `.distributed`) serves
and asks keras-tuner's oracle over its own gRPC service, which keras-tuner
exposes only under ``keras_tuner.src``, and takes a lost trial off an
oracle's retry queue when its run turns out to have finished. Nothing else in
the harness touches ``keras_tuner.src`` or a private oracle attribute: an
upgrade that moves one breaks here, and ``tests/test_private_apis.py`` names
the API and the keras-tuner version that lost it. Tested with the keras-tuner
versions ``pyproject.toml`` admits.
"""

from keras_tuner.src import protos
from keras_tuner.src.distribute import oracle_chief, oracle_client

OracleServicer = oracle_chief.OracleServicer  # the oracle's gRPC servicer (chief side)
OracleClient = oracle_client.OracleClient     # an oracle that asks the chief (worker side)


def service():
    """The module of the oracle service's messages (``CreateTrialResponse``, ...)."""
    return protos.get_service()


def service_grpc():
    """The module of the oracle service's gRPC stubs (``add_OracleServicer_to_server``, ...)."""
    return protos.get_service_grpc()


def retry_queue(oracle):
    """The ids of `oracle`'s trials waiting to be run again (a list; edit it in place)."""
    return oracle._retry_queue
