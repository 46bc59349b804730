"""The residual family on signals trains many times in one process without crashing (issue 27).

docs/own-data.md once noted that training ``model.family = "resnet"`` on
MNIST-1D several times in one process ended in glibc's "corrupted size vs.
prev_size" in about half the attempts. These tests run that workload in a
process of its own, so a crash fails the test (a signal is a negative exit
status) instead of killing pytest: the harness's small MNIST-1D ResNet sweep
(stride, max, antialias; 3 seeds; ``--jobs 1``), and the stand-alone
reproducer ``repro_resnet1d_crash.py`` (plain TensorFlow/Keras) for a few runs.
"""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.config import to_toml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

SWEEP = {
    "seeds": [0, 1, 2],
    "baseline": "stride",
    "data": {"dataset": "mnist1d", "train_size": 600, "validation_split": 0.1,
             "normalize": "standardize", "split_seed": "seed", "pad": "auto",
             "mnist1d": {"num_samples": 1000, "train_split": 0.8}},
    "model": {"family": "resnet", "filters": [8, 16], "blocks": 1, "kernel_size": 5,
              "pool_size": 2},
    "train": {"epochs": 3, "patience": 2, "batch_size": 128, "learning_rate": 0.005,
              "verbose": 0},
    "eval": {"max_shift": 2, "consistency_pairs": 1},
    "variants": [{"pooling": "stride"}, {"pooling": "max"}, {"pooling": "antialias"}],
}


def _clean(result):
    """Exit status 0, no glibc heap message: the process was not killed by a signal."""
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"exit status {result.returncode}:\n{output[-4000:]}"
    assert "corrupted" not in output and "double free" not in output, output[-4000:]


@pytest.mark.slow
def test_the_mnist1d_resnet_sweep_finishes_in_one_process(tmp_path):
    pytest.importorskip("mnist1d")
    config = tmp_path / "resnet1d.toml"
    config.write_text(to_toml(SWEEP), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "experiments", "run", str(config), "--jobs", "1",
         "--out", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    _clean(result)
    with (tmp_path / "out" / "results.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted((r["pooling"], r["seed"]) for r in rows) == sorted(
        (p, str(s)) for p in ("stride", "max", "antialias") for s in (0, 1, 2))


@pytest.mark.slow
def test_the_standalone_reproducer_runs_clean():
    result = subprocess.run(
        [sys.executable, str(HERE / "repro_resnet1d_crash.py"), "--runs", "3", "--epochs", "1",
         "--filters", "8", "16"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    _clean(result)
    assert result.stdout.strip().splitlines()[-1] == "clean"
