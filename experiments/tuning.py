"""``python -m experiments tune CONFIG``: keras-tuner search over pooling, on one or many machines.

Public API
----------
``main(config_path, out_dir, log=print) -> int``
    Run (or resume) the search of a tuning config (``experiments.search_space``)
    in `out_dir`; 0 when done. A trial is an ``experiments run`` of its config
    (``search_space.trial_config``) with ``train.fit``; it reports
    ``val_accuracy`` (last epoch), ``val_shift_consistency``
    (``metrics.shift_consistency`` on the validation images after training)
    and ``seconds``. The objective is one of the first two, maximized.

Layout of `out_dir`:

- ``keras_tuner/``: the keras-tuner project (``oracle.json``, ``trial_*/``).
  Re-running the same command reloads it: finished trials are kept, a trial
  cut off mid-way runs again, and the search goes on to ``max_trials``
  (which may be raised to extend it).
- ``tune.json``: the resolved config. Resuming with other data, model,
  train or space settings is a ConfigError.
- ``trials.csv``: one row per trial: ``trial, status, objective``, the
  hyperparameters (empty where unused: ``p`` without an Lp layer), the
  metrics and ``seconds``; rewritten as trials end.
- ``best.toml``: the best completed trial as an ``experiments run`` config.
- ``objective_by_pooling.png``: every trial's objective by pooling kind, per stage.

Distributed search is keras-tuner's own mode, with the same command and
config everywhere: ``KERASTUNER_ORACLE_IP`` / ``KERASTUNER_ORACLE_PORT``
name the chief, ``KERASTUNER_TUNER_ID`` is ``chief`` for the process that
serves the oracle (it trains nothing) and a unique id (``tuner0``,
``tuner1``, ...) for each worker. The chief writes the outputs above;
workers only train (each needs the data). keras-tuner's own chief waits
forever for a worker that died mid-trial; this one does not:

- while a trial runs, its worker asks the chief about it every
  ``tune.lost_after / 6`` seconds (its heartbeat);
- a trial not heard of for ``tune.lost_after`` seconds is ended as lost
  and, within ``tune.retries``, handed to the next worker that asks
  (a restarted worker with the same id takes its old trial back at once);
- a worker that asks for a trial while others still run keeps waiting
  instead of leaving, so a lost trial still finds a worker;
- the chief ends once every trial has completed or failed and the live
  workers have been told to stop (at most ``tune.lost_after`` seconds later).

Beyond keras-tuner's public API this uses (as of 1.4) its oracle gRPC service
(``keras_tuner.src.distribute.oracle_chief.OracleServicer``, ``src.protos``)
and the hook ``Oracle._compute_values_hash``, which its own Hyperband oracle
overrides too.
"""

import contextlib
import csv
import dataclasses
import io
import json
import os
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import keras
import keras_tuner
from keras_tuner.engine.trial import TrialStatus
from keras_tuner.src import protos
from keras_tuner.src.distribute import oracle_chief

from . import data as data_lib
from . import metrics, report, search_space, train
from . import config
from .config import ConfigError

PROJECT = "keras_tuner"
METRICS = ("val_accuracy", "val_shift_consistency", "seconds")
_FINISHED = (TrialStatus.COMPLETED, TrialStatus.FAILED)
_FREE = (("tune", "max_trials"), ("tune", "retries"), ("tune", "lost_after"), ("train", "verbose"),
         ("train", "tensorboard"))


def main(config_path, out_dir, log=print):
    """Search as `config_path` says, in `out_dir`; see the module docstring."""
    base, tune = search_space.load(config_path)
    role = _role()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if role != "worker":
        _check_resume(out_dir, base, tune)
    tuner = _Tuner(base, tune, out_dir, role)
    if role == "chief":
        log(f"chief: serving the oracle on {_address()}; workers: the same command with "
            f"KERASTUNER_TUNER_ID=tuner0, tuner1, ...")
        tuner.save()
        _serve(tuner.oracle, tune, tuner.write_results)
    else:
        tuner.search(data_lib.load(base.data))
        if role == "worker":
            log(f"{tuner.tuner_id}: no trials left; the chief writes the results")
            return 0
    rows, best = tuner.write_results()
    if best is None:
        log(f"no trial completed; see {out_dir / 'trials.csv'}")
        return 1
    log(_markdown(rows, _columns(base, tune)))
    log(f"best: trial {best.trial_id}, {tune.objective} {best.score:.4f}: "
        f"python -m experiments run {out_dir / 'best.toml'}")
    return 0


def _role():
    """"local", "chief" or "worker", from keras-tuner's environment variables."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "local"
    for name in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        if not os.environ.get(name):
            raise ConfigError(f"KERASTUNER_ORACLE_IP is set but {name} is not; distributed "
                              f"tuning needs all three (see experiments.tuning)")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


def _address():
    return f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"


def _check_resume(out_dir, base, tune):
    """Record the settings in tune.json; ConfigError if the folder holds another search."""
    path = out_dir / "tune.json"
    settings = json.loads(json.dumps({**base.to_dict(), "tune": dataclasses.asdict(tune)}))
    if path.is_file():
        old, new = (_fixed(s) for s in (json.loads(path.read_text(encoding="utf-8")), settings))
        changed = [key for key in new if old.get(key) != new[key]]
        if changed:
            raise ConfigError(
                f"{out_dir}: holds a search made with other {changed[0]!r} settings; "
                f"use another --out or delete that folder"
            )
    report.write_atomic(path, json.dumps(settings, indent=2) + "\n")


def _fixed(settings):
    """`settings` less the keys that may change when a search is resumed."""
    settings = json.loads(json.dumps(settings))
    for section, key in _FREE:
        settings.get(section, {}).pop(key, None)
    return settings


class _OneTrialPerModel:
    """Oracle mixin: values that differ only where unused (``p`` without an Lp layer) are one point.

    keras-tuner skips values it has tried by their hash; hashing only the used
    values keeps it from training the same model twice. (Hyperband's oracle
    overrides the same method to drop its own bookkeeping values.)
    """

    def _compute_values_hash(self, values):
        used = {k: v for k, v in values.items() if search_space.used(k, values)}
        return super()._compute_values_hash(used)


class _Random(_OneTrialPerModel, keras_tuner.oracles.RandomSearchOracle):
    pass


class _Bayesian(_OneTrialPerModel, keras_tuner.oracles.BayesianOptimizationOracle):
    pass


class _Hyperband(_OneTrialPerModel, keras_tuner.oracles.HyperbandOracle):
    pass


def _oracle(base, tune):
    """The keras-tuner oracle that `tune.tuner` names, over the space of `tune`."""
    common = dict(
        objective=keras_tuner.Objective(tune.objective, "max"),
        hyperparameters=search_space.hyperparameters(tune, len(base.model.filters)),
        seed=tune.seed + 1,  # keras-tuner takes seed 0 as "pick one at random"
        max_retries_per_trial=tune.retries,
    )
    if tune.tuner == "hyperband":
        return _Hyperband(max_epochs=base.train.epochs, factor=tune.factor,
                          hyperband_iterations=1, **common)
    if tune.tuner == "bayesian":
        return _Bayesian(max_trials=tune.max_trials, **common)
    return _Random(max_trials=tune.max_trials, **common)


class _Tuner(keras_tuner.Tuner):
    """Runs a trial as ``experiments run`` runs its config; scores it on the validation set.

    Hyperband's trials train from scratch for their ``tuner/epochs`` (no
    warm start from the previous round's weights), so ``best.toml``
    reproduces the best trial exactly.
    """

    def __init__(self, base, tune, out_dir, role):
        self.base, self.tune, self.out_dir, self.role = base, tune, out_dir, role
        project = out_dir / PROJECT
        tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
        # keras-tuner reloads only when this tuner id's own file exists; a search
        # started in another mode (local vs chief) must be reloaded all the same.
        adopt = (project / "oracle.json").is_file() and not (project / f"{tuner_id}.json").is_file()
        super().__init__(_oracle(base, tune), directory=str(out_dir), project_name=PROJECT)
        if adopt and role != "worker":
            self.oracle.reload()

    def run_trial(self, trial, data):
        cfg = search_space.trial_config(self.base, self.tune, trial.hyperparameters.values)
        variant, seed = cfg.variants[0], self.tune.seed
        print(f"[{self.tuner_id}] trial {trial.trial_id}: {variant.label}, "
              f"pool_size {cfg.model.pool_size}, lr {cfg.train.learning_rate:.3g}, "
              f"{cfg.train.epochs} epochs", flush=True)
        beat = (_heartbeat(self.oracle, trial.trial_id, self.tune.lost_after / 6)
                if self.role == "worker" else contextlib.nullcontext())
        with beat:
            start = time.perf_counter()
            log_dir = self.out_dir / "tensorboard" / f"trial_{trial.trial_id}"
            fitted = train.fit(variant, cfg, data, seed, log_dir)
            predict = metrics.predictor(fitted.model, cfg.eval.batch_size)
            consistency = metrics.shift_consistency(
                predict, data.x_val, cfg.eval.max_shift, cfg.eval.consistency_pairs, seed)
            seconds = time.perf_counter() - start
        keras.backend.clear_session()
        result = {"val_accuracy": fitted.history["val_accuracy"][-1],
                  "val_shift_consistency": consistency, "seconds": seconds}
        print(f"[{self.tuner_id}] trial {trial.trial_id} done: "
              + ", ".join(f"{k} {v:.4g}" for k, v in result.items()), flush=True)
        return result

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if self.role == "local":
            self.write_results()

    def write_results(self):
        """Write trials.csv, best.toml and the plot; returns (rows, best completed trial)."""
        return _write_results(self.oracle, self.base, self.tune, self.out_dir)


@contextlib.contextmanager
def _heartbeat(oracle, trial_id, every):
    """While the block runs, ask the chief about `trial_id` every `every` seconds."""
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


# --- the chief -------------------------------------------------------------------------------


class _Servicer(oracle_chief.OracleServicer):
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
        return protos.get_service().CreateTrialResponse(trial=trial.to_proto())

    def GetTrial(self, request, context):
        self.heard[request.trial_id] = time.monotonic()
        return super().GetTrial(request, context)


def _settled(oracle):
    """No trial running or waiting for a retry (call with the oracle's lock held)."""
    return not oracle.ongoing_trials and all(
        t.status in _FINISHED for t in oracle.trials.values())


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


def _serve(oracle, tune, on_trial_end):
    """Serve `oracle` to the workers until the search is over; `on_trial_end()` as trials end."""
    servicer = _Servicer(oracle)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        server.add_insecure_port(_address())
    except RuntimeError as e:
        raise ConfigError(f"cannot serve the oracle on {_address()}: {e}") from None
    server.start()
    try:
        ended, finished_at = len(oracle.end_order), None
        while finished_at is None or (
                oracle.tuner_ids and time.monotonic() - finished_at < tune.lost_after):
            time.sleep(0.5)
            _end_lost_trials(oracle, servicer.heard, tune.lost_after)
            if len(oracle.end_order) != ended:
                ended = len(oracle.end_order)
                on_trial_end()
            if finished_at is None and _finished(oracle, servicer.stopped):
                finished_at = time.monotonic()
    finally:
        server.stop(grace=1).wait()


# --- results ---------------------------------------------------------------------------------


def _columns(base, tune):
    names = [hp.name for hp in search_space.hyperparameters(tune, len(base.model.filters)).space]
    epochs = ["epochs"] if tune.tuner == "hyperband" else []
    return ["trial", "status", "objective", *names, *epochs, *METRICS]


@keras_tuner.synchronized
def _trial_rows(oracle, columns):
    rows = []
    for trial in sorted(oracle.trials.values(), key=lambda t: int(t.trial_id)):
        values = trial.hyperparameters.values
        row = {"trial": trial.trial_id, "status": trial.status,
               "objective": "" if trial.score is None else trial.score,
               "epochs": values.get("tuner/epochs", "")}
        row.update({k: v for k, v in values.items() if search_space.used(k, values)})
        row.update({m: trial.metrics.get_last_value(m) for m in METRICS
                    if trial.metrics.exists(m)})
        rows.append({c: row.get(c, "") for c in columns})
    return rows


@keras_tuner.synchronized
def _best_trial(oracle):
    done = [t for t in oracle.trials.values() if t.status == TrialStatus.COMPLETED]
    return max(done, key=lambda t: t.score, default=None)


def _write_results(oracle, base, tune, out_dir):
    """Write trials.csv, best.toml and the plot; returns (rows, best completed trial or None)."""
    columns = _columns(base, tune)
    rows = _trial_rows(oracle, columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    report.write_atomic(out_dir / "trials.csv", buf.getvalue())
    best = _best_trial(oracle)
    if best is None:
        return rows, None
    cfg = search_space.trial_config(base, tune, best.hyperparameters.values)
    header = (f"# Best trial ({best.trial_id}) of a `python -m experiments tune` search: "
              f"{tune.objective} = {best.score:.4f}.\n"
              f"# Run it: python -m experiments run {out_dir / 'best.toml'}\n")
    report.write_atomic(out_dir / "best.toml", header + config.to_toml(cfg.to_dict()))
    _plot(rows, [c for c in columns if c.startswith("pooling")], tune,
          out_dir / "objective_by_pooling.png")
    return rows, best


def _plot(rows, stages, tune, path):
    """Dots: each completed trial's objective, by the pooling kind of each stage.

    Colour and marker tell the heads apart; each tick says how many trials
    had that kind (n=...). Returns the figure's path.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    done = [r for r in rows if r["status"] == TrialStatus.COMPLETED]
    kinds = tune.space.pooling
    def head_of(row):  # "head" is a column only when the space has more than one
        return row.get("head") or tune.space.head[0]

    heads = list(dict.fromkeys(map(head_of, done))) or list(tune.space.head[:1])
    markers = "osD^vP*X"
    fig, axes = plt.subplots(1, len(stages), figsize=(1.3 * len(kinds) * len(stages) + 3, 4.4),
                             sharey=True, squeeze=False)
    for ax, stage in zip(axes[0], stages):
        for i, kind in enumerate(kinds):
            trials = [r for r in done if r[stage] == kind]
            for j, head in enumerate(heads):
                scores = [r["objective"] for r in trials if head_of(r) == head]
                offset = (j - (len(heads) - 1) / 2) * 0.15
                ax.plot([i + offset] * len(scores), scores, markers[j % len(markers)],
                        color=f"C{j}", alpha=0.7, label=head if i == 0 else None)
            if trials:
                ax.plot([i - 0.35, i + 0.35], [max(r["objective"] for r in trials)] * 2, "k-")
        counts = [sum(r[stage] == kind for r in done) for kind in kinds]
        ax.set_xticks(range(len(kinds)), [f"{k}\n(n={c})" for k, c in zip(kinds, counts)])
        ax.set_xlim(-0.5, len(kinds) - 0.5)
        ax.set(title=stage.replace("_", " at stage "), xlabel="pooling kind (n = trials)")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(f"{tune.objective} (dots: trials, bar: best)")
    axes[0][-1].legend(title="head", fontsize="small")
    fig.suptitle(f"{len(done)} completed trials")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _markdown(rows, columns):
    """The completed trials, best first, as a Markdown table."""
    done = sorted((r for r in rows if r["status"] == TrialStatus.COMPLETED),
                  key=lambda r: -r["objective"])
    shown = [c for c in columns if c != "status"]
    lines = ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    for row in done:
        lines.append("| " + " | ".join(_cell(row[c]) for c in shown) + " |")
    return "\n".join(lines)


def _cell(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)
