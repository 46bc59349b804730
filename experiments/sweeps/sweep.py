"""A whole experiment in one process: every variant x seed, written run by run, resumable.

`run` trains and evaluates every (training-set size, seed, variant) of a config
in `plan` order: sizes outer, then seeds, so the first seeds are complete,
paired sets early. Runs with the same data (equal `data_key`) share one load of
it. Before anything is written, `preflight` loads the first pending run's data
and builds the model of every variant, so bad input (data, builder,
application, a variant the family cannot express) fails at once, in one line;
every other command that trains calls it first too. After each run its record
(its results row plus ``"history"``) is written whole, and ``results.csv`` and ``history.csv`` are
rebuilt; at the end the report is rendered (``experiments.results.report``:
the summary, the plots and, if the config has findings, ``findings.md``). The
run folder's layout, and how its files are written, is in ``experiments.rundir``.

Resuming: a run whose record exists is skipped, so re-running the same command
resumes a killed sweep and loses at most the run in flight. Re-using a folder
whose ``config.json`` differs in ``data``, ``model``, ``train`` or ``eval`` is a
ConfigError (`check_compatible`); seeds, variants, findings and
``data.train_size`` may change (that extends a sweep), and so may the cosmetic
``train.verbose`` and ``train.tensorboard``.

The steps of `run` are functions of their own (`plan`, `check_compatible`,
`preflight`, `prepare`, `load_data`, `one_run`, `finished`, `finish`, and
`describe` and `scores` for log lines), so that a sweep spread over processes or machines
(``experiments.sweeps.distributed``, ``experiments.sweeps.jobs``) trains each
run with the same code and writes the same files.
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
from ..run import metrics, models, train

_PACKAGES = ("keras-pool", "keras", "tensorflow", "numpy", "scipy", "scikit-learn",
             "tensorflow-datasets", "matplotlib")
# keys that do not change a run's results (train_size: each size has its own run files)
COSMETIC = {("train", "verbose"), ("train", "tensorboard"), ("data", "train_size")}


def versions():
    """The interpreter, platform and package versions this sweep runs with (``versions.json``)."""
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
    """Create `out_dir` and its ``runs/``; write config.json and versions.json.

    Call `check_compatible` first: this overwrites config.json.
    """
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


def preflight(cfg, out_dir=None, loaded=None):
    """Reject bad input before anything is written or trained.

    Loads the data of the first run left to do in `out_dir` (without `out_dir`:
    the first run of the plan) and builds, without compiling or training, the
    model of every variant on it (``models.check_buildable``). Data that cannot
    be read or is malformed (``experiments.run.sources``, ``data.load``), a
    builder that cannot be imported, raises or returns a wrong model, an
    application or a variant the family cannot build: each is a one-line
    ConfigError here. The one-process sweep, the chief of ``run --jobs N``
    (before it starts its workers), a distributed sweep's chief and workers,
    and ``tune`` (its chief and workers too) all call it first, so they reject
    the same input the same way.

    Args:
        cfg: the experiment's `Config`.
        out_dir: the run folder, or None.
        loaded: the dict `load_data` keeps its data in (a new one if None).

    Returns:
        The data loaded, or None when every run is finished (nothing is checked).

    Raises:
        ConfigError: bad input, as above.
    """
    runs = plan(cfg)
    if out_dir is not None:
        runs = [(n, s, v) for n, s, v in runs
                if not rundir.run_path(out_dir, v, s, n).is_file()]
    if not runs:
        return None
    size, seed, _ = runs[0]
    data = load_data(cfg, size, seed, {} if loaded is None else loaded)
    models.check_buildable(cfg.variants, cfg.model, data.input_shape, data.num_classes, seed)
    return data


def one_run(cfg, variant, seed, size, data, out_dir):
    """Train and evaluate one run on `data` (loaded for `size` and `seed`); its record.

    Writes nothing but the run's TensorBoard logs (``train.tensorboard``).

    Returns:
        The run's results row (its variant, seed and sizes, every number of
        ``metrics.evaluate``, its epochs and training time) plus
        ``"history"``, the per-epoch curves: what the sweep stores as its record.
    """
    log_dir = rundir.tensorboard_dir(out_dir, variant, seed, size)
    return _one_run(cfg, variant, seed, data, log_dir)


def run(cfg, out_dir, log=print):
    """Run (or resume) the sweep of `cfg` in `out_dir`; see the module docstring.

    Args:
        cfg: the experiment's `Config`.
        out_dir: the run folder.
        log: called with each progress line.

    Returns:
        Every run's record, in plan order (the finished ones read back).

    Raises:
        ConfigError: `out_dir` holds runs made with other settings, or bad
            data input.
    """
    out_dir = Path(out_dir)
    check_compatible(cfg, out_dir)
    runs = plan(cfg)
    pending = [(n, s) for n, s, v in runs if not rundir.run_path(out_dir, v, s, n).is_file()]
    todo, loaded = len(pending), {}
    preflight(cfg, out_dir, loaded)  # bad input fails before anything is written
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
    scores = metrics.evaluate(fitted.model, data, cfg.eval, seed, variant.test_draws)
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
