"""A whole experiment: every variant x seed, results written after each run, resumable.

Public API
----------
``run(cfg, out_dir, log=print) -> list[dict]``
    Train and evaluate every (seed, variant) of `cfg` (seeds outer, so the
    first seeds are complete, paired sets early) that `out_dir` has not
    finished; returns the run records in that order and renders the report.
``run_path(out_dir, variant, seed) -> Path``
    ``out_dir/runs/<variant label>__seed<seed>.json``: one finished run
    (its results row plus ``"history"``), written atomically when the run
    ends. A run whose file exists is skipped, so re-running the same command
    resumes a killed sweep and loses at most the run in flight.
``tensorboard_dir(out_dir, variant, seed) -> Path``
    ``out_dir/tensorboard/<variant label>__seed<seed>``: the run's TensorBoard
    logs, written when ``train.tensorboard = true``
    (``tensorboard --logdir out_dir/tensorboard``).
``versions() -> dict``
    Python, platform and the package versions recorded in ``versions.json``.

Layout of `out_dir`: ``config.json`` (the resolved config), ``versions.json``,
``runs/``, ``results.csv`` and ``history.csv`` (rebuilt after every run),
``summary.md`` and the PNG plots (at the end). Re-using an `out_dir` whose
``config.json`` differs in ``data``, ``model``, ``train`` or ``eval`` is a
ConfigError (seeds and variants may change: that extends a sweep).
"""

import importlib.metadata
import json
import platform
import time
from pathlib import Path

import keras

from . import data as data_lib
from . import metrics, report, train
from .config import ConfigError

_PACKAGES = ("keras-pool", "keras", "tensorflow", "numpy", "scipy", "scikit-learn",
             "tensorflow-datasets", "matplotlib")
_COSMETIC = {("train", "verbose"), ("train", "tensorboard")}  # keys that do not change results


def run_path(out_dir, variant, seed):
    """Where the finished run of `variant` with `seed` is stored."""
    return Path(out_dir) / "runs" / f"{variant.label}__seed{seed}.json"


def versions():
    """The interpreter, platform and package versions this sweep runs with."""
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def run(cfg, out_dir, log=print):
    """Run (or resume) the sweep of `cfg` in `out_dir`; see the module docstring."""
    out_dir = Path(out_dir)
    _check_compatible(cfg, out_dir)
    plan = [(seed, variant) for seed in cfg.seeds for variant in cfg.variants]
    todo = sum(not run_path(out_dir, v, s).is_file() for s, v in plan)
    data = data_lib.load(cfg.data) if todo else None
    (out_dir / "runs").mkdir(parents=True, exist_ok=True)
    report.write_atomic(out_dir / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
    report.write_atomic(out_dir / "versions.json", json.dumps(versions(), indent=2) + "\n")
    log(f"{len(plan)} runs ({len(cfg.variants)} variants x {len(cfg.seeds)} seeds) "
        f"on {cfg.data.dataset} in {out_dir}; {len(plan) - todo} already finished")
    records, start, ran = [], time.perf_counter(), 0
    for index, (seed, variant) in enumerate(plan, 1):
        path = run_path(out_dir, variant, seed)
        if path.is_file():
            records.append(json.loads(path.read_text(encoding="utf-8")))
            log(f"[{index}/{len(plan)}] skip {variant.label} seed={seed}: finished in {path}")
            continue
        run_start = time.perf_counter()
        record = _one_run(cfg, variant, seed, data, tensorboard_dir(out_dir, variant, seed))
        report.write_atomic(path, json.dumps(record) + "\n")
        records.append(record)
        report.write_tables(records, out_dir)
        ran += 1
        elapsed = time.perf_counter() - start
        left = todo - ran
        log(f"[{index}/{len(plan)}] {variant.label} seed={seed}: "
            f"test acc {record['test_accuracy']:.4f}, gap {record['generalization_gap']:+.4f}, "
            f"consistency {record['shift_consistency']:.3f}, "
            f"{time.perf_counter() - run_start:.1f}s | elapsed {_clock(elapsed)}, "
            f"{left} runs left (~{_clock(elapsed / ran * left)})")
    report.write_tables(records, out_dir)
    report.render(out_dir)
    log(f"done: {out_dir / 'summary.md'}")
    return records


def tensorboard_dir(out_dir, variant, seed):
    """Where the TensorBoard logs of a run go (``train.tensorboard = true``)."""
    return Path(out_dir) / "tensorboard" / f"{variant.label}__seed{seed}"


def _one_run(cfg, variant, seed, data, log_dir=None):
    """Fit and evaluate one variant; the record stored for it."""
    fitted = train.fit(variant, cfg, data, seed, log_dir)
    scores = metrics.evaluate(fitted.model, data, cfg.eval, seed)
    keras.backend.clear_session()
    return {
        "dataset": cfg.data.dataset, "variant": variant.label, "pooling": variant.pooling_label,
        "head": variant.head, "p": variant.p, "seed": seed, "train_size": len(data.x_train),
        **scores, "epochs": fitted.epochs, "train_seconds": fitted.seconds,
        "history": fitted.history,
    }


def _check_compatible(cfg, out_dir):
    """ConfigError if `out_dir` holds runs made under different settings."""
    path = out_dir / "config.json"
    if not path.is_file():
        return
    old, new = json.loads(path.read_text(encoding="utf-8")), cfg.to_dict()
    for section in ("data", "model", "train", "eval"):
        for key, value in new[section].items():
            before = old.get(section, {}).get(key)
            if (section, key) not in _COSMETIC and before != value:
                raise ConfigError(
                    f"{out_dir}: holds runs made with {section}.{key} = {before!r}, this config "
                    f"has {value!r}; use another --out or delete that folder"
                )


def _clock(seconds):
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m{seconds:02d}s"
