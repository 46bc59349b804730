"""A whole experiment: every variant x seed, results written after each run, resumable.

Public API
----------
``run(cfg, out_dir, log=print) -> list[dict]``
    Train and evaluate every (train size, seed, variant) of `cfg` (sizes
    outer, then seeds, so the first seeds are complete, paired sets early)
    that `out_dir` has not finished; returns the run records in that order
    and renders the report (with ``findings.md`` if the config has findings).
``rundir.run_path(out_dir, variant, seed, train_size=0) -> Path``
    ``out_dir/runs/<variant label>__seed<seed>.json`` (with ``__n<size>``
    before the seed for a nonzero ``data.train_size``): one finished run
    (its results row plus ``"history"``), written atomically when the run
    ends. A run whose file exists is skipped, so re-running the same command
    resumes a killed sweep and loses at most the run in flight.
``rundir.tensorboard_dir(out_dir, variant, seed, train_size=0) -> Path``
    ``out_dir/tensorboard/<variant label>__seed<seed>``: the run's TensorBoard
    logs, written when ``train.tensorboard = true``
    (``tensorboard --logdir out_dir/tensorboard``).
``versions() -> dict``
    Python, platform and the package versions recorded in ``versions.json``.

The pieces of ``run``, for sweeps spread over processes
(``experiments.distributed_sweep``): ``plan(cfg)`` (the run order),
``check_compatible(cfg, out_dir)``, ``prepare(cfg, out_dir)`` (writes
``config.json`` and ``versions.json``), ``load_data(cfg, size, seed, loaded)``
(runs with equal ``data_key(cfg, size, seed)`` share data), ``one_run(cfg, variant, seed, size, data,
out_dir) -> record``, ``finished(cfg, out_dir)`` (the records on disk, in
plan order), ``finish(records, out_dir, log)`` (tables and report),
``describe(cfg, out_dir, done)`` and ``scores(record)`` (log text).

Layout of `out_dir`: ``config.json`` (the resolved config), ``versions.json``,
``runs/``, ``results.csv`` and ``history.csv`` (rebuilt after every run),
``summary.md``, ``findings.md`` and the PNG plots (at the end). Re-using an
`out_dir` whose ``config.json`` differs in ``data``, ``model``, ``train`` or
``eval`` is a ConfigError (seeds, variants, findings and ``data.train_size``
may change: that extends a sweep).
"""

import importlib.metadata
import json
import platform
import time
from pathlib import Path

from .. import rundir
from ..config import DEFAULT_HEADS
from ..errors import ConfigError
from ..results import report
from ..run import data as data_lib
from ..run import metrics, train

_PACKAGES = ("keras-pool", "keras", "tensorflow", "numpy", "scipy", "scikit-learn",
             "tensorflow-datasets", "matplotlib")
# keys that do not change a run's results (train_size: each size has its own run files)
COSMETIC = {("train", "verbose"), ("train", "tensorboard"), ("data", "train_size")}


def versions():
    """The interpreter, platform and package versions this sweep runs with."""
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def plan(cfg):
    """Every (train size, seed, variant) of `cfg`, in the order a sweep runs them."""
    return [(size, seed, variant) for size in cfg.data.train_sizes for seed in cfg.seeds
            for variant in cfg.variants]


def prepare(cfg, out_dir):
    """Check that `out_dir` may hold `cfg`'s runs; write config.json and versions.json."""
    out_dir = Path(out_dir)
    (out_dir / "runs").mkdir(parents=True, exist_ok=True)
    rundir.write_json(out_dir / rundir.CONFIG, cfg.to_dict(), indent=2)
    rundir.write_json(out_dir / rundir.VERSIONS, versions(), indent=2)


def finished(cfg, out_dir):
    """The run records of `cfg` already in `out_dir`, in plan order."""
    paths = (rundir.run_path(out_dir, v, s, n) for n, s, v in plan(cfg))
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths if p.is_file()]


def load_data(cfg, size, seed, loaded):
    """The data of runs at (`size`, `seed`), from `loaded` (a dict kept between calls) or loaded.

    `loaded` keeps the last data only: runs that share it are adjacent in the plan.
    """
    key = data_key(cfg, size, seed)
    if key not in loaded:
        loaded.clear()
        loaded[key] = data_lib.load(cfg.data, train_size=size, seed=seed)
    return loaded[key]


def one_run(cfg, variant, seed, size, data, out_dir):
    """Train and evaluate one run on `data` (loaded for `size` and `seed`); its record."""
    log_dir = rundir.tensorboard_dir(out_dir, variant, seed, size)
    return _one_run(cfg, variant, seed, data, log_dir)


def run(cfg, out_dir, log=print):
    """Run (or resume) the sweep of `cfg` in `out_dir`; see the module docstring."""
    out_dir = Path(out_dir)
    check_compatible(cfg, out_dir)
    runs = plan(cfg)
    pending = [(n, s) for n, s, v in runs if not rundir.run_path(out_dir, v, s, n).is_file()]
    todo, loaded = len(pending), {}
    if pending:  # load the first data now: bad data input fails before anything is written
        load_data(cfg, *pending[0], loaded)
    prepare(cfg, out_dir)
    log(describe(cfg, out_dir, len(runs) - todo))
    records, start, ran = [], time.perf_counter(), 0
    for index, (size, seed, variant) in enumerate(runs, 1):
        path = rundir.run_path(out_dir, variant, seed, size)
        where = f"{variant.label} seed={seed}" + (f" n={size}" if size else "")
        if path.is_file():
            records.append(json.loads(path.read_text(encoding="utf-8")))
            log(f"[{index}/{len(runs)}] skip {where}: finished in {path}")
            continue
        data = load_data(cfg, size, seed, loaded)
        run_start = time.perf_counter()
        record = one_run(cfg, variant, seed, size, data, out_dir)
        rundir.write_json(path, record)
        records.append(record)
        rundir.write_tables(records, out_dir)
        ran += 1
        elapsed = time.perf_counter() - start
        left = todo - ran
        log(f"[{index}/{len(runs)}] {where}: {scores(record)}, "
            f"{time.perf_counter() - run_start:.1f}s | elapsed {_clock(elapsed)}, "
            f"{left} runs left (~{_clock(elapsed / ran * left)})")
    finish(records, out_dir, log)
    return records


def describe(cfg, out_dir, done):
    """The sweep's opening log line: how many runs, of what, and how many are finished."""
    regimes, runs = len(cfg.data.train_sizes), len(plan(cfg))
    return (f"{runs} runs ({len(cfg.variants)} variants x {len(cfg.seeds)} seeds"
            + (f" x {regimes} training-set sizes" if regimes > 1 else "")
            + f") on {cfg.data.dataset} in {out_dir}; {done} already finished")


def scores(record):
    """A run's headline scores, for a log line."""
    return (f"test acc {record['test_accuracy']:.4f}, gap {record['generalization_gap']:+.4f}, "
            f"consistency {record['shift_consistency']:.3f}, epochs {record['epochs']}")


def finish(records, out_dir, log=print):
    """Rewrite the tables from `records` (plan order) and render the report."""
    rundir.write_tables(records, out_dir)
    report.render(out_dir)
    log(f"done: {Path(out_dir) / 'summary.md'}")


def data_key(cfg, size, seed):
    """Runs with equal keys train and test on the same data."""
    return size, seed if cfg.data.split_seed == "seed" else None


def _one_run(cfg, variant, seed, data, log_dir=None):
    """Fit and evaluate one variant; the record stored for it."""
    fitted = train.fit(variant, cfg, data, seed, log_dir)
    scores = metrics.evaluate(fitted.model, data, cfg.eval, seed)
    return {
        "dataset": cfg.data.dataset, "variant": variant.label, "pooling": variant.pooling_label,
        "head": variant.head or DEFAULT_HEADS[cfg.model.family], "p": variant.p,
        "seed": seed, "train_size": len(data.x_train),
        "test_size": len(data.x_test), **scores, "epochs": fitted.epochs,
        "best_epoch": fitted.best_epoch,
        "epoch_budget": train.budget(cfg.train, len(data.x_train))[0],
        "hit_budget": int(fitted.hit_budget), "train_seconds": fitted.seconds,
        "history": fitted.history,
    }


def check_compatible(cfg, out_dir):
    """ConfigError if `out_dir` holds runs made under different settings."""
    path = out_dir / "config.json"
    if not path.is_file():
        return
    old, new = json.loads(path.read_text(encoding="utf-8")), cfg.to_dict()
    for section in ("data", "model", "train", "eval"):
        for key, value in new[section].items():
            before = old.get(section, {}).get(key)
            if (section, key) not in COSMETIC and before != value:
                raise ConfigError(
                    f"{out_dir}: holds runs made with {section}.{key} = {before!r}, this config "
                    f"has {value!r}; use another --out or delete that folder"
                )


def _clock(seconds):
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m{seconds:02d}s"
