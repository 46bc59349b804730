"""``python -m experiments tune CONFIG``: keras-tuner search over pooling, on one or many machines.

`main` runs (or resumes) the search of a tuning config
(``experiments.tuning.search_space``). A trial trains the ``experiments run``
config of its hyperparameters (``search_space.trial_config``: one variant, seed
``tune.seed``) with the sweep's own training (``experiments.run.train.fit``),
and reports ``val_accuracy`` (last epoch), ``val_shift_consistency``
(``metrics.shift_consistency`` on the validation images after training) and
``seconds``. The objective is one of the first two, maximized.

Layout of `out_dir`:

- ``keras_tuner/``: the keras-tuner project (``oracle.json``, ``trial_*/``).
  Re-running the same command reloads it: finished trials are kept, a trial
  cut off mid-way runs again, and the search goes on to ``max_trials``
  (which may be raised to extend it).
- ``tune.json``: the resolved config. Resuming with other settings is a
  ConfigError; only ``tune.max_trials``, ``tune.retries``, ``tune.lost_after``,
  ``train.verbose`` and ``train.tensorboard`` may change.
- ``trials.csv``: one row per trial: ``trial, status, objective``, the
  hyperparameters (empty where unused: ``p`` without an Lp layer), the
  metrics and ``seconds``; rewritten as trials end.
- ``best.toml``: the best completed trial as an ``experiments run`` config.
- ``objective_by_pooling.png``: every trial's objective by pooling kind, per stage.
- ``tensorboard/trial_<id>/``: a trial's TensorBoard logs, with ``train.tensorboard``.

Distributed search is keras-tuner's own mode, with the same command and
config everywhere (``experiments.sweeps.oracle``: ``KERASTUNER_ORACLE_IP`` /
``KERASTUNER_ORACLE_PORT`` name the chief, ``KERASTUNER_TUNER_ID`` is
``chief`` for the process that serves the oracle and trains nothing, and
``tuner0``, ``tuner1``, ... for the workers). The chief writes the outputs
above but the TensorBoard logs, which stay with the worker that trained the
trial; workers only train (each needs the data). A worker's heartbeat comes
every ``tune.lost_after / 6`` seconds; a trial not heard of for
``tune.lost_after`` seconds is lost and runs again (within ``tune.retries``)
on the next worker that asks; workers wait while a trial may come back, and
the chief ends when every trial has completed or failed.

Beyond keras-tuner's public API this uses the hook
``Oracle._compute_values_hash``, which its own Hyperband oracle overrides too
(and, through ``experiments.sweeps.oracle``, its oracle gRPC service).
"""

import contextlib
import dataclasses
import json
import os
import time
from pathlib import Path

import keras
import keras_tuner
from keras_tuner.engine.trial import TrialStatus

from .. import config, rundir
from ..errors import ConfigError
from ..results import plots
from ..run import metrics, train
from ..sweeps import oracle, sweep
from . import search_space

PROJECT = "keras_tuner"
METRICS = ("val_accuracy", "val_shift_consistency", "seconds")
_FREE = (("tune", "max_trials"), ("tune", "retries"), ("tune", "lost_after"), ("train", "verbose"),
         ("train", "tensorboard"))


def main(config_path, out_dir, log=print):
    """Run (or resume) the keras-tuner search of a tuning config in `out_dir`.

    Local, or the chief or a worker of a distributed search, as keras-tuner's
    `KERASTUNER_*` environment variables say (`experiments.sweeps.oracle.role`).

    Args:
        config_path: a tuning config (TOML): an experiment config plus `[tune]`.
        out_dir: the output folder: `trials.csv`, `best.toml`,
            `objective_by_pooling.png` and the keras-tuner project `keras_tuner/`.
        log: called with each progress line.

    Returns:
        The exit status: 0 when the search is done (a worker: when no trials
        are left), 1 if no trial completed.

    Raises:
        ConfigError: a bad config, bad input (`preflight`), or a resume with
            different settings.
    """
    base, tune = search_space.load(config_path)
    role = oracle.role()
    data = preflight(base, tune)  # bad input: one line, before anything is written
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if role != "worker":
        _check_resume(out_dir, base, tune)
    tuner = _Tuner(base, tune, out_dir, role)
    if role == "chief":
        log(f"chief: serving the oracle on {oracle.address()}; workers: the same command with "
            f"KERASTUNER_TUNER_ID=tuner0, tuner1, ...")
        tuner.save()
        oracle.serve(tuner.oracle, tune.lost_after, tuner.write_results)
    else:
        tuner.search(data)
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


def preflight(base, tune):
    """The search's data, after ``experiments.sweeps.sweep.preflight`` has checked it.

    The sweep's own check, on a config whose variants are every pooling kind of
    the space (with its first head) and every head (with its first pooling):
    unreadable or malformed data, a builder or application that fails, a
    pooling the family cannot build on these inputs, each a one-line
    ConfigError before anything is written. Every role calls it (the chief
    too, though it trains nothing), as every role of a distributed sweep does.
    """
    hp = search_space.hyperparameters(tune, len(base.model.filters))
    first = dict(hp.values)  # every hyperparameter at its first choice / lower bound
    if tune.tuner == "hyperband":
        first["tuner/epochs"] = base.train.epochs
    stages = [name for name in first if name.startswith("pooling")]
    points = [{**first, **dict.fromkeys(stages, kind)} for kind in tune.space.pooling]
    points += [{**first, "head": head} for head in tune.space.head]
    trials = [search_space.trial_config(base, tune, values) for values in points]
    variants = {c.variants[0].label: c.variants[0] for c in trials}
    return sweep.preflight(dataclasses.replace(trials[0], variants=tuple(variants.values())))


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
    rundir.write_json(path, settings, indent=2)


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
        beat = (oracle.heartbeat(self.oracle, trial.trial_id, self.tune.lost_after / 6)
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
    rundir.write_atomic(out_dir / "trials.csv", rundir.csv_text(columns, rows, "raise"))
    best = _best_trial(oracle)
    if best is None:
        return rows, None
    cfg = search_space.trial_config(base, tune, best.hyperparameters.values)
    header = (f"# Best trial ({best.trial_id}) of a `python -m experiments tune` search: "
              f"{tune.objective} = {best.score:.4f}.\n"
              f"# Run it: python -m experiments run {out_dir / 'best.toml'}\n")
    rundir.write_atomic(out_dir / "best.toml", header + config.to_toml(cfg.to_dict()))
    _plot(rows, [c for c in columns if c.startswith("pooling")], tune,
          out_dir / "objective_by_pooling.png")
    return rows, best


def _plot(rows, stages, tune, path):
    """Dots: each completed trial's objective, by the pooling kind of each stage.

    Colour and marker tell the heads apart; each tick says how many trials
    had that kind (n=...). Returns the figure's path.
    """
    plt = plots.pyplot()
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
    rundir.save_figure(fig, path, dpi=110)
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
