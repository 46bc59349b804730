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
from experiments import config, rundir
from experiments.config import ConfigError
from experiments.run import train
from experiments.sweeps import sweep

ROOT = Path(__file__).resolve().parents[2]


def test_run_writes_rows_curves_summary_plots_config_and_versions(tmp_path, tiny_raw):
    tiny_raw["seeds"] = [0, 1]
    cfg = config.parse(tiny_raw)
    lines = []
    records = sweep.run(cfg, tmp_path, log=lines.append)
    assert [(r["variant"], r["seed"]) for r in records] == [
        ("max", 0), ("avg", 0), ("max", 1), ("avg", 1)]
    rows = rundir.read_csv(tmp_path / "results.csv")
    assert len(rows) == 4
    for row in rows:
        assert row["dataset"] == "digits" and row["train_size"] == 200 and row["epochs"] == 1
        assert 0.0 <= row["test_accuracy"] <= 1.0 and row["train_seconds"] > 0
        assert row["generalization_gap"] == pytest.approx(
            row["train_accuracy"] - row["test_accuracy"])
        assert row["accuracy_shift_0"] == pytest.approx(row["test_accuracy"], abs=1e-6)
        assert 0.0 <= row["shift_consistency"] <= 1.0 and "accuracy_shift_1" in row
    assert len(rundir.read_csv(tmp_path / "history.csv")) == 4
    assert "## shift consistency" in (tmp_path / "summary.md").read_text()
    assert len(list(tmp_path.glob("*.png"))) == 4
    assert config.parse(json.loads((tmp_path / "config.json").read_text())) == cfg
    assert "keras" in json.loads((tmp_path / "versions.json").read_text())
    progress = [line for line in lines if line.startswith("[")]
    assert len(progress) == 4 and progress[-1].startswith("[4/4] avg seed=1 n=200: test acc")
    assert "0 runs left" in progress[-1]


def test_same_seed_same_result(tiny_raw):
    tiny_raw["variants"] = [{"pooling": "stochastic"}]
    cfg = config.parse(tiny_raw)
    from experiments.run import data as data_lib
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
    done = rundir.run_path(tmp_path, cfg.variants[0], 0, 200)
    assert done.name == "max__n200__seed0.json"
    assert done.is_file() and not rundir.run_path(tmp_path, cfg.variants[1], 0, 200).exists()
    assert len(rundir.read_csv(tmp_path / "results.csv")) == 1
    stamp = done.stat().st_mtime_ns

    monkeypatch.setattr(sweep, "_one_run", real_one_run)
    lines = []
    sweep.run(cfg, tmp_path, log=lines.append)
    assert any(line.startswith("[1/2] skip max seed=0") for line in lines)
    assert done.stat().st_mtime_ns == stamp
    assert [r["variant"] for r in rundir.read_csv(tmp_path / "results.csv")] == ["max", "avg"]


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
                             "--out", str(out), "--jobs", "1"], cwd=ROOT,
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

    result = _cli("run", str(path), "--out", str(out), "--jobs", "1")
    assert result.returncode == 0, result.stderr
    for name in stamps:
        label = name.split("__")[0]
        assert f"skip {label} seed=0" in result.stdout
    assert {p.name: p.stat().st_mtime_ns for p in finished} == stamps
    assert "Epoch 15/15" in result.stdout  # Keras progress of the runs it did
    assert len(rundir.read_csv(out / "results.csv")) == 3
    assert (out / "summary.md").is_file()

    (out / "summary.md").unlink()
    assert cli.main(["report", str(out)]) == 0 and (out / "summary.md").is_file()


def test_early_stopping_restores_the_best_epoch_and_records_the_budget(tiny_raw):
    from experiments.run import data as data_lib

    tiny_raw["train"].update(epochs=40, patience=2, learning_rate=0.03)
    cfg = config.parse(tiny_raw)
    data = data_lib.load(cfg.data)
    fitted = train.fit(cfg.variants[0], cfg, data, seed=0)
    losses = fitted.history["val_loss"]
    assert fitted.epochs == len(losses) < 40 and not fitted.hit_budget
    assert fitted.best_epoch == losses.index(min(losses)) + 1
    assert fitted.epochs - fitted.best_epoch == 2  # stopped after `patience` worse epochs
    restored = fitted.model.evaluate(data.pipeline("val", 64), verbose=0, return_dict=True)
    assert restored["loss"] == pytest.approx(min(losses), rel=1e-4)  # best weights are back
    tiny_raw["train"].update(epochs=2, patience=5)
    short = train.fit(cfg.variants[0], config.parse(tiny_raw), data, seed=0)
    assert short.epochs == 2 and short.hit_budget


def test_regimes_and_seeded_splits_sweep_write_one_row_each_and_resume(tmp_path, tiny_raw,
                                                                       monkeypatch):
    tiny_raw.update(seeds=[0, 1])
    tiny_raw["data"].update(train_size=[60, 120], split_seed="seed")
    tiny_raw["train"].update(epochs=3, patience=1)
    tiny_raw["findings"] = [{"name": "max beats avg", "a": "max", "b": "avg",
                             "source": "test"}]
    cfg = config.parse(tiny_raw)
    real_one_run, calls = sweep._one_run, []

    def crash_on_fifth(*args):
        calls.append(args)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_one_run(*args)

    monkeypatch.setattr(sweep, "_one_run", crash_on_fifth)
    with pytest.raises(KeyboardInterrupt):
        sweep.run(cfg, tmp_path, log=lambda line: None)
    assert len(rundir.read_csv(tmp_path / "results.csv")) == 4
    monkeypatch.setattr(sweep, "_one_run", real_one_run)
    sweep.run(cfg, tmp_path, log=lambda line: None)
    rows = rundir.read_csv(tmp_path / "results.csv")
    keys = [(r["train_size"], r["seed"], r["variant"]) for r in rows]
    assert sorted(keys) == sorted({(n, s, v) for n in (60, 120) for s in (0, 1)
                                   for v in ("max", "avg")})  # nothing lost or duplicated
    assert rundir.run_path(tmp_path, cfg.variants[0], 1, 60).name == "max__n60__seed1.json"
    assert len(list((tmp_path / "runs").glob("*.json"))) == 8
    for r in rows:
        assert 1 <= r["best_epoch"] <= r["epochs"] <= r["epoch_budget"] == 3
        assert r["test_size"] == 450 and r["hit_budget"] in (0, 1)
    # each seed has its own test split: the same variant differs across seeds at one size
    summary = (tmp_path / "summary.md").read_text()
    assert "training-set sizes 60, 120" in summary and "test-set SE" in summary
    assert (tmp_path / "accuracy_vs_train_size.png").is_file()
    text = (tmp_path / "findings.md").read_text()
    assert text.count("| max beats avg |") == 2  # one verdict per regime


def _real_data_sweep(tmp_path, raw):
    cfg = config.parse(raw)
    lines = []
    sweep.run(cfg, tmp_path, log=lines.append)
    return cfg, rundir.read_csv(tmp_path / "results.csv"), lines


def test_mnist1d_end_to_end_on_the_real_generated_data(tmp_path):
    raw = {"seeds": [0], "data": {"dataset": "mnist1d", "train_size": [100, 200],
                                     "split_seed": "seed", "pad": "auto",
                                     "normalize": "standardize"},
           "model": {"filters": [4, 4], "kernel_size": 5},
           "train": {"epochs": 2, "patience": 1, "batch_size": 64, "verbose": 0},
           "eval": {"max_shift": 2, "consistency_pairs": 1},
           "variants": [{"pooling": "max"}, {"pooling": "stride"}],
           "findings": [{"name": "max beats stride", "a": "max", "b": "stride",
                         "train_size": 100, "source": "Greydanus 2020"}]}
    cfg, rows, lines = _real_data_sweep(tmp_path, raw)
    assert len(rows) == 4 and {r["dataset"] for r in rows} == {"mnist1d"}
    assert {r["test_size"] for r in rows} == {1000}
    assert "accuracy_axis_shift_1" not in rows[0] and "accuracy_shift_2" in rows[0]
    assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in rows)
    assert "| max beats stride | max | stride |" in (tmp_path / "findings.md").read_text()
    assert lines[0].startswith("4 runs (2 variants x 1 seeds x 2 training-set sizes)")


def test_mnist5k_end_to_end_on_the_real_digits(tmp_path):
    raw = {"seeds": [0], "data": {"dataset": "mnist5k", "train_size": 200, "pad": 2},
           "model": {"filters": [4, 8]},
           "train": {"epochs": 1, "patience": 1, "batch_size": 64, "verbose": 0},
           "eval": {"max_shift": 2, "consistency_pairs": 1, "batch_size": 500},
           "variants": [{"pooling": "max", "head": "global_max"}, {"pooling": "none"}]}
    cfg, rows, _ = _real_data_sweep(tmp_path, raw)
    assert [r["variant"] for r in rows] == ["max+global_max", "none"]
    assert {(r["train_size"], r["test_size"], r["epochs"]) for r in rows} == {(200, 1000, 1)}
    assert "accuracy_axis_shift_2" in rows[0] and rows[0]["hit_budget"] == 1
    summary = (tmp_path / "summary.md").read_text()
    assert "Accuracy vs shift along one axis" in summary and "hit the epoch budget" in summary
