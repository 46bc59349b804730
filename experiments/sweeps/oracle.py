"""Chief and workers over keras-tuner's oracle service: what ``tune`` and ``run`` share.

A distributed search (``experiments.tuning.tuner``) and a distributed sweep
(``experiments.sweeps.distributed``) both serve a keras-tuner oracle from a
chief to workers; this module holds their common part: who is who, the gRPC
server and the rules that keep a dead worker from stalling the chief.

The same command runs on a chief and N workers. keras-tuner's environment
variables say which is which: ``KERASTUNER_ORACLE_IP`` /
``KERASTUNER_ORACLE_PORT`` name the chief, ``KERASTUNER_TUNER_ID`` is
``chief`` for the process that serves the oracle (it trains nothing) and a
unique id (``tuner0``, ``tuner1``, ...) for each worker. A worker asks the
chief for a trial, runs it and ends it; keras-tuner's own chief waits forever
for a worker that died mid-trial; this one does not:

- while a trial runs, its worker asks the chief about it every
  ``lost_after / 6`` seconds (``heartbeat``);
- a trial not heard of for ``lost_after`` seconds is ended as lost and,
  within the oracle's ``max_retries_per_trial``, handed to the next worker
  that asks (a restarted worker with the same id takes its old trial back
  at once);
- a worker that asks for a trial while others still run keeps waiting
  instead of leaving, so a lost trial still finds a worker;
- the chief ends once every trial has completed or failed and the live
  workers have been told to stop (at most ``lost_after`` seconds later).

Beyond keras-tuner's public API this uses (as of 1.4) its oracle gRPC service
(``keras_tuner.src.distribute.oracle_chief.OracleServicer``, ``src.protos``),
through ``experiments._tuner_private``.
"""

import contextlib
import os
import threading
import time
from concurrent import futures

import grpc
import keras_tuner
from keras_tuner.engine.trial import TrialStatus

from .. import _tuner_private
from ..errors import ConfigError

FINISHED = (TrialStatus.COMPLETED, TrialStatus.FAILED)


def role():
    """"local", "chief" or "worker", from keras-tuner's environment variables.

    "local" without ``KERASTUNER_ORACLE_IP``; else "chief" if
    ``KERASTUNER_TUNER_ID`` contains "chief", and "worker" otherwise.

    Raises:
        ConfigError: ``KERASTUNER_ORACLE_IP`` is set but ``KERASTUNER_ORACLE_PORT``
            or ``KERASTUNER_TUNER_ID`` is not.
    """
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "local"
    for name in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        if not os.environ.get(name):
            raise ConfigError(f"KERASTUNER_ORACLE_IP is set but {name} is not; a distributed "
                              f"run needs all three (see docs/distributed.md)")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


def address():
    """`ip:port` of the chief, from `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT`."""
    return f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"


@contextlib.contextmanager
def heartbeat(oracle, trial_id, every):
    """While the block runs, ask the chief about `trial_id` every `every` seconds.

    Args:
        oracle: the worker's oracle client (keras-tuner's ``OracleClient``).
        trial_id: the trial the worker runs.
        every: seconds between two asks (``lost_after / 6``).
    """
    stop = threading.Event()

    def beat():
        while not stop.wait(every):
            with contextlib.suppress(grpc.RpcError):
                oracle.get_trial(trial_id)

    threading.Thread(target=beat, daemon=True, name=f"heartbeat-{trial_id}").start()
    try:
        yield
    finally:
        stop.set()  # not joined: a call to a vanished chief may block for long


class _Servicer(_tuner_private.OracleServicer):
    """keras-tuner's oracle service, plus heartbeats and the rules of the module docstring."""

    def __init__(self, oracle):
        super().__init__(oracle)
        self.heard = {}  # trial id -> time.monotonic() of the last word from its worker
        self.stopped = False  # a worker was told that the search is over

    def CreateTrial(self, request, context):
        trial = _next_trial(self.oracle, request.tuner_id)
        if trial.status == TrialStatus.RUNNING:
            self.heard[trial.trial_id] = time.monotonic()
        elif trial.status == TrialStatus.STOPPED:
            self.stopped = True
        else:
            time.sleep(1)  # IDLE: the worker asks again at once; pace it
        return _tuner_private.service().CreateTrialResponse(trial=trial.to_proto())

    def GetTrial(self, request, context):
        self.heard[request.trial_id] = time.monotonic()
        return super().GetTrial(request, context)


def _settled(oracle):
    """No trial running or waiting for a retry (call with the oracle's lock held)."""
    return not oracle.ongoing_trials and all(
        t.status in FINISHED for t in oracle.trials.values())


@keras_tuner.synchronized
def _next_trial(oracle, tuner_id):
    """`oracle.create_trial`, but a worker is not sent away while a trial may come back."""
    trial = oracle.create_trial(tuner_id)
    if trial.status == TrialStatus.STOPPED and not _settled(oracle):
        oracle.tuner_ids.add(tuner_id)
        trial.status = TrialStatus.IDLE
    return trial


@keras_tuner.synchronized
def _end_lost_trials(oracle, heard, lost_after):
    """End the running trials not heard of for `lost_after` seconds (retried if allowed)."""
    now = time.monotonic()
    for tuner_id, trial in list(oracle.ongoing_trials.items()):
        if now - heard.setdefault(trial.trial_id, now) > lost_after:
            print(f"chief: trial {trial.trial_id} lost: no heartbeat from {tuner_id} "
                  f"for {lost_after:g} s", flush=True)
            trial.status = TrialStatus.INVALID
            trial.message = f"lost: no heartbeat from worker {tuner_id} for {lost_after:g} s"
            oracle.end_trial(trial)
            oracle.tuner_ids.discard(tuner_id)


@keras_tuner.synchronized
def _finished(oracle, stopped):
    """Every trial handed out, and each completed or failed."""
    handed_out = stopped or (oracle.max_trials is not None
                             and len(oracle.trials) >= oracle.max_trials)
    return handed_out and _settled(oracle)


class Chief:
    """Serves `oracle` to the workers over gRPC, handing lost trials on.

    Without authentication or encryption (keras-tuner's own service is
    insecure too): bind `address` to a private interface. Also a context
    manager: `start` on enter, `stop` on exit.

    Args:
        oracle: the keras-tuner oracle to serve.
        lost_after: seconds without a heartbeat after which a trial is lost
            and handed to the next worker that asks.
        address: `host:port` to listen on; port 0 picks one (`start` returns it).
        handlers: extra `grpc.GenericRpcHandler`s served beside the oracle.
    """

    def __init__(self, oracle, lost_after, address, handlers=()):
        self.oracle, self.lost_after, self.address = oracle, lost_after, address
        self.servicer = _Servicer(oracle)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        _tuner_private.service_grpc().add_OracleServicer_to_server(self.servicer, self.server)
        if handlers:
            self.server.add_generic_rpc_handlers(tuple(handlers))

    def start(self):
        """Start serving; returns the port (the one picked if `address` ends in ``:0``).

        Raises:
            ConfigError: the address cannot be bound.
        """
        try:
            port = self.server.add_insecure_port(self.address)
        except RuntimeError as e:
            raise ConfigError(f"cannot serve the oracle on {self.address}: {e}") from None
        self.server.start()
        self.port = port
        return port

    def wait(self, on_trial_end, alive=None):
        """Serve until the search is over (True) or `alive()` is false (False).

        Ends lost trials as it goes (the module docstring's rules).

        Args:
            on_trial_end: called with no arguments each time trials have ended.
            alive: if given, called about twice a second; serving stops when it
                returns false.

        Returns:
            True once the search is over: every trial handed out and completed
            or failed, and the live workers told to stop (or ``lost_after``
            seconds passed). If `alive()` turns false first: whether the search
            was over by then.
        """
        oracle, lost_after = self.oracle, self.lost_after
        ended, finished_at = len(oracle.end_order), None
        while finished_at is None or (
                oracle.tuner_ids and time.monotonic() - finished_at < lost_after):
            time.sleep(0.5)
            _end_lost_trials(oracle, self.servicer.heard, lost_after)
            if len(oracle.end_order) != ended:
                ended = len(oracle.end_order)
                on_trial_end()
            if finished_at is None and _finished(oracle, self.servicer.stopped):
                finished_at = time.monotonic()
            if alive is not None and not alive():
                return finished_at is not None
        return True

    def stop(self):
        """Stop serving (a second's grace for calls in flight)."""
        self.server.stop(grace=1).wait()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def serve(oracle, lost_after, on_trial_end):
    """Serve `oracle` on `address()` until the search is over; `on_trial_end()` as trials end.

    A `Chief` with `lost_after`: start, wait, stop.
    """
    with Chief(oracle, lost_after, address()) as chief:
        chief.wait(on_trial_end)
