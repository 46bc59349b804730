"""Nothing half-written (issue 27): results.csv, history.csv and the summary stay whole after
a kill while they are written, or a failure in the middle of a sweep."""

import csv
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments import rundir
from experiments.config import parse
from experiments.sweeps import sweep
from tests.experiments.conftest import TINY
from tests.experiments.processes import wait_for

ROOT = Path(__file__).resolve().parents[2]
# Rewrites results.csv and history.csv with 1, 2, 3, ... thousand runs, forever: each
# version has a different row count, so a torn file shows.
WRITER = """
import sys
from experiments import rundir
history = {"loss": [1.0] * 5, "accuracy": [0.5] * 5, "val_loss": [1.0] * 5,
           "val_accuracy": [0.5] * 5}
def record(i):
    row = {c: i for c in rundir.COLUMNS}
    row.update(dataset="digits", variant=f"v{i}", pooling="max", head="flatten",
               accuracy_shift_0=0.5, accuracy_shift_1=0.25, history=history)
    return row
k = 1
while True:
    rundir.write_tables([record(i) for i in range(1000 * k)], sys.argv[1])
    k = k % 8 + 1
"""


def _whole(path, columns):
    """The rows of a CSV file that must be whole: header, every field, a complete last line."""
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    rows = list(csv.DictReader(text.splitlines()))
    assert list(rows[0]) == list(columns)
    assert all(None not in r and None not in r.values() for r in rows)
    return rows


def test_a_kill_while_the_tables_are_written_leaves_them_whole(tmp_path):
    rng = random.Random(27)
    columns = [*rundir.COLUMNS, "accuracy_shift_0", "accuracy_shift_1"]
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=ROOT)
        try:
            wait_for(lambda: (tmp_path / rundir.HISTORY).is_file(), 60, "the first tables")
            time.sleep(rng.uniform(0.05, 1.0))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        results = _whole(tmp_path / rundir.RESULTS, columns)
        assert len(results) % 1000 == 0 and [r["variant"] for r in results] == [
            f"v{i}" for i in range(len(results))]
        history = _whole(tmp_path / rundir.HISTORY, rundir.HISTORY_COLUMNS)
        assert len(history) % 5000 == 0
    # besides the two tables, at most the hidden temporary files of writes cut off
    assert {p.name for p in tmp_path.iterdir() if not p.name.startswith(".")} == {
        rundir.RESULTS, rundir.HISTORY}


def _fake_run(cfg, variant, seed, size, data, out_dir):
    """A run's record without training: enough for the tables and the report."""
    return {"dataset": "digits", "variant": variant.label, "pooling": variant.pooling_label,
            "head": "flatten", "p": None, "seed": seed, "train_size": 200, "test_size": 450,
            "train_accuracy": 0.9, "test_accuracy": 0.8 + seed / 100, "train_loss": 0.3,
            "test_loss": 0.5, "generalization_gap": 0.1, "shift_consistency": 0.7,
            "accuracy_shift_0": 0.8, "accuracy_shift_1": 0.7, "epochs": 1, "best_epoch": 1,
            "epoch_budget": 1, "hit_budget": 1, "train_seconds": 0.1,
            "history": {"loss": [1.0], "accuracy": [0.5], "val_loss": [1.0],
                        "val_accuracy": [0.5]}}


def test_a_failure_mid_sweep_leaves_the_tables_and_summary_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "one_run", _fake_run)
    sweep.run(parse(TINY), tmp_path, log=lambda *_: None)  # 2 runs, and the report
    summary = (tmp_path / rundir.SUMMARY).read_text()
    calls = []

    def fails_on_the_second(*args):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("out of memory")
        return _fake_run(*args)

    monkeypatch.setattr(sweep, "one_run", fails_on_the_second)
    with pytest.raises(RuntimeError, match="out of memory"):  # seeds 0, 1: 2 more runs
        sweep.run(parse({**TINY, "seeds": [0, 1]}), tmp_path, log=lambda *_: None)
    rows = _whole(tmp_path / rundir.RESULTS,
                  [*rundir.COLUMNS, "accuracy_shift_0", "accuracy_shift_1"])
    assert [(r["variant"], r["seed"]) for r in rows] == [("max", "0"), ("avg", "0"), ("max", "1")]
    assert len(_whole(tmp_path / rundir.HISTORY, rundir.HISTORY_COLUMNS)) == 3
    assert (tmp_path / rundir.SUMMARY).read_text() == summary  # the last whole one
    assert not list(tmp_path.glob(".*.tmp"))
