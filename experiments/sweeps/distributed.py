"""``python -m experiments run CONFIG`` on a chief and N workers: one sweep, many machines.

The same command and config run everywhere; keras-tuner's environment
variables give each process its role, as for ``tune``
(``experiments.sweeps.oracle``): ``KERASTUNER_ORACLE_IP`` /
``KERASTUNER_ORACLE_PORT`` name the chief, ``KERASTUNER_TUNER_ID`` is
``chief`` on the chief and ``tuner0``, ``tuner1``, ... on the workers.
Without them ``run`` is the one-process sweep (``experiments.sweeps.sweep``);
``run --jobs N`` (``experiments.sweeps.jobs``) is this chief and N workers on
one machine.

- The chief trains nothing. It serves the runs of the config that its
  ``--out`` folder has not finished (``sweep.plan`` order), one keras-tuner
  trial per run, and writes every output of a one-process sweep:
  ``config.json``, ``versions.json`` (its own), ``runs/*.json``,
  ``results.csv`` and ``history.csv`` (rebuilt as runs end), then
  ``summary.md``, ``findings.md`` and the plots.
- A worker asks for the next run (variant, seed, training-set size), trains
  it on its own copy of the data (``sweep.one_run``: the same function a
  one-process sweep calls, so with ``train.deterministic`` the record is the
  same), and sends the record to the chief. It writes nothing but its
  TensorBoard logs (``train.tensorboard``), under its own ``--out``.

How a record travels: keras-tuner's trial messages carry float metrics only,
so the chief serves one extra RPC beside the oracle on the same port,
``/keras_pool.experiments.Runs/Report``, whose request is the JSON of
``{"run", "check", "tuner_id", "record"}``. The chief checks it, writes
``runs/<run>.json`` atomically (never over a file that exists) and only then
ends the trial as completed, under the oracle's lock; the worker's heartbeat
keeps the trial alive until the chief has answered. The run is named by its
file stem, not by its trial, so a report reaches a restarted chief too, and a
late report of a run that was already re-issued is kept (the first record
wins; the copy that finishes later is dropped). Each run carries a check
(a hash of the settings that change results: ``data``, ``model``, ``train``,
``eval`` less the cosmetic keys, and the run's variant): a worker whose
config differs from the chief's stops with a ConfigError instead of sending
records the chief would mix with its own.

Failures: a worker's heartbeat comes every ``lost_after / 6`` seconds; a run
not heard of for ``lost_after`` seconds (a killed worker or machine) is lost
and goes to the next worker that asks, within ``retries``; so does a run whose
training raised (the worker prints the traceback and goes on). ``run
--lost-after`` and ``run --retries`` default to 60 s and 2, as do
``LOST_AFTER`` and ``RETRIES`` here. Workers wait while a run may come back.
Finished runs are never redone: the chief serves only the runs with no file in
its ``runs/``, so a restarted chief resumes (restart the workers too, or let
them reconnect: they ask again by id). A chief that ends with runs still
missing (failed past ``retries``, or, under ``--jobs``, every worker process
gone) writes the tables of what finished, says which runs are missing and
returns 1; re-running the same command retries them.

Beyond keras-tuner's public API this uses its oracle client
(``keras_tuner.src.distribute.oracle_client.OracleClient``) and, through
``experiments.sweeps.oracle``, its oracle service; both through
``experiments._tuner_private``.
"""

import contextlib
import dataclasses
import hashlib
import json
import os
import traceback
from pathlib import Path

import grpc
import keras_tuner
from keras_tuner.engine.trial import TrialStatus

from .. import _tuner_private, rundir
from ..errors import ConfigError
from . import oracle, sweep

LOST_AFTER = 60.0
RETRIES = 2
OBJECTIVE = "test_accuracy"  # the trial metric the chief records (keras-tuner needs one)
_SERVICE = "keras_pool.experiments.Runs"
_REPORT = f"/{_SERVICE}/Report"
_REPORT_TIMEOUT = 600  # seconds a worker waits for the chief to take a record


def main(cfg, out_dir, lost_after=LOST_AFTER, retries=RETRIES, log=print):
    """Run this process's part of the sweep of `cfg`; see the module docstring.

    The role comes from keras-tuner's environment variables: the one-process
    sweep, the chief or a worker.

    Args:
        cfg: the experiment's `Config`.
        out_dir: the run folder (a worker writes only TensorBoard logs there).
        lost_after: seconds without a heartbeat after which a run is lost.
        retries: how often a lost or failed run is handed out again.
        log: called with each progress line.

    Returns:
        The exit status: 0 when the sweep is complete (a worker: when told to
        stop); the chief returns 1 if runs are missing.

    Raises:
        ConfigError: only some of keras-tuner's variables are set, or a worker's
            config differs from the chief's.
    """
    role = oracle.role()
    if role == "local":
        sweep.run(cfg, out_dir, log)
        return 0
    if role == "chief":
        return chief(cfg, out_dir, oracle.address(), lost_after, retries, log)
    return _work(cfg, out_dir, log)


# --- the chief -------------------------------------------------------------------------------


def chief(cfg, out_dir, address, lost_after=LOST_AFTER, retries=RETRIES, log=print,
          workers=None):
    """Serve the unfinished runs of `cfg` to workers; write the results as they come.

    Args:
        cfg: the experiment's `Config`.
        out_dir: the run folder.
        address: ``host:port`` to serve on; port 0 picks one.
        lost_after: seconds without a heartbeat after which a run is lost.
        retries: how often a lost or failed run is handed out again.
        log: called with each progress line.
        workers: if given, called with the port; it must return a context
            manager that yields ``alive() -> bool`` (``experiments.sweeps.jobs``
            starts its processes so). The chief gives up when ``alive()`` is
            false.

    Returns:
        0 when every run is finished, 1 if runs are missing.

    Raises:
        ConfigError: `out_dir` holds other runs, or bad input (`sweep.preflight`,
            called before anything is written and before `workers` start).
    """
    out_dir = Path(out_dir)
    sweep.check_compatible(cfg, out_dir)
    sweep.preflight(cfg, out_dir)  # bad input: one line, before anything is written or served
    sweep.prepare(cfg, out_dir)
    runs = sweep.plan(cfg)
    pending = [(n, s, v) for n, s, v in runs if not rundir.run_path(out_dir, v, s, n).is_file()]
    log(sweep.describe(cfg, out_dir, len(runs) - len(pending)))
    if pending:
        runs_oracle = _RunOracle([_values(cfg, run, lost_after) for run in pending], retries)
        reports = _Reports(cfg, out_dir, runs_oracle, len(runs), log)
        server = oracle.Chief(runs_oracle, lost_after, address, [reports.handler()])
        port = server.start()
        log(f"chief: serving {len(pending)} runs on {address.rsplit(':', 1)[0]}:{port}"
            + ("" if workers else "; workers: the same command with "
               "KERASTUNER_TUNER_ID=tuner0, tuner1, ..."))
        try:
            with workers(port) if workers else contextlib.nullcontext() as alive:
                server.wait(lambda: rundir.write_tables(sweep.finished(cfg, out_dir), out_dir),
                            alive)
        finally:
            server.stop()
    return _finish(cfg, out_dir, log)


def _finish(cfg, out_dir, log):
    """Write the tables and report if every run finished; else say which are missing (1)."""
    records = sweep.finished(cfg, out_dir)
    missing = [rundir.run_path(out_dir, v, s, n).stem for n, s, v in sweep.plan(cfg)
               if not rundir.run_path(out_dir, v, s, n).is_file()]
    if not missing:
        sweep.finish(records, out_dir, log)
        return 0
    rundir.write_tables(records, out_dir)
    log(f"chief: {len(missing)} runs not finished ({', '.join(missing[:5])}"
        f"{', ...' if len(missing) > 5 else ''}); re-run the same command to retry them")
    return 1


def _check(cfg, variant):
    """Hash of what a run's record depends on, besides its seed and training-set size."""
    raw = cfg.to_dict()
    fixed = {section: {k: v for k, v in raw[section].items()
                       if (section, k) not in sweep.COSMETIC}
             for section in ("data", "model", "train", "eval")}
    fixed["variant"] = dataclasses.asdict(variant)
    return hashlib.sha256(json.dumps(fixed, sort_keys=True).encode()).hexdigest()[:16]


def _values(cfg, run, lost_after):
    """The trial's hyperparameter values: which run, and how often to send a heartbeat."""
    size, seed, variant = run
    return {"run": rundir.run_path("", variant, seed, size).stem, "variant": variant.label,
            "seed": seed, "train_size": size, "check": _check(cfg, variant),
            "heartbeat": lost_after / 6}


class _RunOracle(keras_tuner.Oracle):
    """Hands out the runs, one trial each; lost or crashed runs come back (retries).

    A worker is given, in plan order, a run of a variant it has trained before
    (it reuses that compiled model: ``experiments.run.train``), else one of a
    variant no other worker has had, else the next run; results do not depend
    on which worker trains a run. Nothing is saved under a keras-tuner
    project: the run files are the state.
    """

    def __init__(self, runs, retries):
        self.runs = runs
        self._left = list(range(len(runs)))  # the runs not handed out yet, in plan order
        self._had = {}  # tuner id -> the variants it has been given
        self._asking = None
        space = keras_tuner.HyperParameters()
        space.Choice("run", [r["run"] for r in runs])
        super().__init__(objective=keras_tuner.Objective(OBJECTIVE, "max"),
                         max_trials=len(runs), hyperparameters=space,
                         max_retries_per_trial=retries,
                         max_consecutive_failed_trials=len(runs) + 1)
        self.verbose = 0  # keras-tuner's trial tables; the chief logs its own lines

    @keras_tuner.synchronized
    def create_trial(self, tuner_id):
        self._asking = tuner_id
        trial = super().create_trial(tuner_id)
        if trial.status == TrialStatus.RUNNING:
            self._had.setdefault(tuner_id, set()).add(trial.hyperparameters.values["variant"])
        return trial

    def populate_space(self, trial_id):
        mine = self._had.get(self._asking, set())
        others = set().union(*(had for tuner, had in self._had.items() if tuner != self._asking))
        variant = [self.runs[i]["variant"] for i in self._left]
        pick = next((k for k, v in enumerate(variant) if v in mine),
                    next((k for k, v in enumerate(variant) if v not in others), 0))
        return {"status": TrialStatus.RUNNING, "values": dict(self.runs[self._left.pop(pick)])}

    def save(self):
        pass

    def _save_trial(self, trial):
        pass


@keras_tuner.synchronized
def _complete(runs_oracle, run, score):
    """End the unfinished trial of `run` as completed; False if there is none."""
    for trial in runs_oracle.trials.values():
        values = trial.hyperparameters.values
        if values.get("run") == run and trial.status not in oracle.FINISHED:
            retry = _tuner_private.retry_queue(runs_oracle)
            if trial.trial_id in retry:  # lost, waiting for a worker
                retry.remove(trial.trial_id)
            runs_oracle.update_trial(trial.trial_id, {OBJECTIVE: score})
            trial.status = TrialStatus.COMPLETED
            runs_oracle.end_trial(trial)
            return True
    return False


class _Reports:
    """The chief's side of the Report RPC: check a record, store it, end its trial."""

    def __init__(self, cfg, out_dir, oracle, total, log):
        self.cfg, self.out_dir, self.oracle, self.total, self.log = cfg, out_dir, oracle, total, log
        self.runs = {rundir.run_path("", v, s, n).stem: (n, s, v) for n, s, v in sweep.plan(cfg)}

    def handler(self):
        method = grpc.unary_unary_rpc_method_handler(
            self.report, request_deserializer=_decode, response_serializer=_encode)
        return grpc.method_handlers_generic_handler(_SERVICE, {"Report": method})

    def report(self, request, context):
        run, record = request.get("run"), request.get("record") or {}
        if run not in self.runs:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"the chief's config has no run {run!r}")
        size, seed, variant = self.runs[run]
        if request.get("check") != _check(self.cfg, variant) or (
                record.get("variant"), record.get("seed")) != (variant.label, seed):
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          f"run {run}: the worker's config differs from the chief's")
        path = rundir.run_path(self.out_dir, variant, seed, size)
        kept = not path.is_file()
        if kept:
            rundir.write_json(path, record)
        _complete(self.oracle, run, record[OBJECTIVE])
        done = len(sweep.finished(self.cfg, self.out_dir))
        where = f"{variant.label} seed={seed}" + (f" n={size}" if size else "")
        self.log(f"[{done}/{self.total}] {where} from {request.get('tuner_id')}: "
                 + (sweep.scores(record) if kept else "already finished; this copy dropped"))
        return {"kept": kept}


def _encode(message):
    return json.dumps(message).encode()


def _decode(data):
    return json.loads(data.decode())


# --- a worker --------------------------------------------------------------------------------


def _work(cfg, out_dir, log):
    """Ask the chief for runs, train them, send their records; 0 when told to stop."""
    loaded = {}
    sweep.preflight(cfg, loaded=loaded)  # bad input here: one line, before asking for runs
    tuner_id = os.environ["KERASTUNER_TUNER_ID"]
    client = _tuner_private.OracleClient(None)
    send = grpc.insecure_channel(oracle.address()).unary_unary(
        _REPORT, request_serializer=_encode, response_deserializer=_decode)
    variants = {v.label: v for v in cfg.variants}
    log(f"[{tuner_id}] asking the chief at {oracle.address()} for runs")
    while True:
        trial = client.create_trial(tuner_id)
        if trial.status == TrialStatus.STOPPED:
            break
        if trial.status != TrialStatus.RUNNING:
            continue  # IDLE: other runs are in flight and one may come back
        values = trial.hyperparameters.values
        run, seed, size = values["run"], values["seed"], values["train_size"]
        variant = variants.get(values["variant"])
        if variant is None or _check(cfg, variant) != values["check"]:
            raise ConfigError(f"run {run}: this worker's config differs from the chief's "
                              f"(data, model, train, eval or the variant); use the same file")
        log(f"[{tuner_id}] run {run}: started (trial {trial.trial_id})")
        with oracle.heartbeat(client, trial.trial_id, values["heartbeat"]):
            try:
                data = sweep.load_data(cfg, size, seed, loaded)
                record = sweep.one_run(cfg, variant, seed, size, data, out_dir)
            except ConfigError:
                raise
            except Exception:  # noqa: BLE001 - the chief re-issues the run (retries)
                traceback.print_exc()
                trial.status = TrialStatus.INVALID
                client.end_trial(trial)
                log(f"[{tuner_id}] run {run} failed; sent back to the chief")
                continue
            try:
                send({"run": run, "check": values["check"], "tuner_id": tuner_id,
                      "record": record}, wait_for_ready=True, timeout=_REPORT_TIMEOUT)
            except grpc.RpcError as e:
                if e.code() in (grpc.StatusCode.INVALID_ARGUMENT,
                                grpc.StatusCode.FAILED_PRECONDITION):
                    raise ConfigError(e.details()) from None
                raise
        log(f"[{tuner_id}] run {run} done: {sweep.scores(record)}")
    log(f"[{tuner_id}] no runs left; the chief writes the results")
    return 0
