"""Sweeps: every variant x seed, results after each run, determinism, resume after a kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from experiments import __main__ as cli
from experiments import config, report, sweep, train
from experiments.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_run_writes_rows_curves_summary_plots_config_and_versions(tmp_path, tiny_raw):
    tiny_raw["seeds"] = [0, 1]
    cfg = config.parse(tiny_raw)
    lines = []
    records = sweep.run(cfg, tmp_path, log=lines.append)
    assert [(r["variant"], r["seed"]) for r in records] == [
        ("max", 0), ("avg", 0), ("max", 1), ("avg", 1)]
    rows = report.read_csv(tmp_path / "results.csv")
    assert len(rows) == 4
    for row in rows:
        assert row["dataset"] == "digits" and row["train_size"] == 200 and row["epochs"] == 1
        assert 0.0 <= row["test_accuracy"] <= 1.0 and row["train_seconds"] > 0
        assert row["generalization_gap"] == pytest.approx(
            row["train_accuracy"] - row["test_accuracy"])
        assert row["accuracy_shift_0"] == pytest.approx(row["test_accuracy"], abs=1e-6)
        assert 0.0 <= row["shift_consistency"] <= 1.0 and "accuracy_shift_1" in row
    assert len(report.read_csv(tmp_path / "history.csv")) == 4
    assert "## shift consistency" in (tmp_path / "summary.md").read_text()
    assert len(list(tmp_path.glob("*.png"))) == 4
    assert config.parse(json.loads((tmp_path / "config.json").read_text())) == cfg
    assert "keras" in json.loads((tmp_path / "versions.json").read_text())
    progress = [line for line in lines if line.startswith("[")]
    assert len(progress) == 4 and progress[-1].startswith("[4/4] avg seed=1: test acc")
    assert "0 runs left" in progress[-1]


def test_same_seed_same_result(tiny_raw):
    tiny_raw["variants"] = [{"pooling": "stochastic"}]
    cfg = config.parse(tiny_raw)
    from experiments import data as data_lib
    data = data_lib.load(cfg.data)
    first = train.fit(cfg.variants[0], cfg, data, seed=4)
    second = train.fit(cfg.variants[0], cfg, data, seed=4)
    assert first.history == second.history
    for a, b in zip(first.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = train.fit(cfg.variants[0], cfg, data, seed=5)
    assert other.history != first.history


def test_interrupted_sweep_resumes_and_skips_finished_runs(tmp_path, tiny_raw, monkeypatch):
    cfg = config.parse(tiny_raw)
    real_one_run, calls = sweep._one_run, []

    def crash_on_second(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_one_run(*args)

    monkeypatch.setattr(sweep, "_one_run", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        sweep.run(cfg, tmp_path, log=lambda line: None)
    done = sweep.run_path(tmp_path, cfg.variants[0], 0)
    assert done.is_file() and not sweep.run_path(tmp_path, cfg.variants[1], 0).exists()
    assert len(report.read_csv(tmp_path / "results.csv")) == 1
    stamp = done.stat().st_mtime_ns

    monkeypatch.setattr(sweep, "_one_run", real_one_run)
    lines = []
    sweep.run(cfg, tmp_path, log=lines.append)
    assert any(line.startswith("[1/2] skip max seed=0") for line in lines)
    assert done.stat().st_mtime_ns == stamp
    assert [r["variant"] for r in report.read_csv(tmp_path / "results.csv")] == ["max", "avg"]


def test_an_out_dir_from_a_different_config_is_refused(tmp_path, tiny_raw):
    cfg = config.parse(tiny_raw)
    old = cfg.to_dict()
    old["train"]["epochs"] = 7
    (tmp_path / "config.json").write_text(json.dumps(old))
    with pytest.raises(ConfigError, match=r"train.epochs = 7, this config has 1"):
        sweep.run(cfg, tmp_path, log=lambda line: None)


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "experiments", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_killed_cli_sweep_resumes_where_it_stopped(tmp_path, tiny_raw, write_config):
    tiny_raw["variants"] = [{"pooling": "max"}, {"pooling": "avg"}, {"pooling": "min"}]
    tiny_raw["data"] = {"dataset": "digits", "validation_split": 0.1}
    tiny_raw["train"]["epochs"] = 15
    tiny_raw["train"]["verbose"] = 2
    path = write_config(tiny_raw, name="killme")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "experiments", "run", str(path),
                             "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while not list((out / "runs").glob("*.json")) and time.monotonic() < deadline:
        assert proc.poll() is None, "the sweep ended before it could be killed"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = sorted((out / "runs").glob("*.json"))
    assert 1 <= len(finished) < 3
    stamps = {p.name: p.stat().st_mtime_ns for p in finished}

    result = _cli("run", str(path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    for name in stamps:
        label = name.split("__")[0]
        assert f"skip {label} seed=0" in result.stdout
    assert {p.name: p.stat().st_mtime_ns for p in finished} == stamps
    assert "Epoch 15/15" in result.stdout  # Keras progress of the runs it did
    assert len(report.read_csv(out / "results.csv")) == 3
    assert (out / "summary.md").is_file()

    (out / "summary.md").unlink()
    assert cli.main(["report", str(out)]) == 0 and (out / "summary.md").is_file()
