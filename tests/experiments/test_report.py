"""Report: confidence intervals, CSV round trip, the Markdown summary and the plots."""

import json
import math

import numpy as np
import pytest

from experiments import report
from experiments.config import ConfigError


def test_mean_ci_matches_the_t_distribution_by_hand():
    mean, std, low, high = report.mean_ci([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, df=2) * s / sqrt(n), s = 1
    assert (mean, std) == (2.0, 1.0)
    assert low == pytest.approx(2.0 - half) and high == pytest.approx(2.0 + half)
    mean, std, low, high = report.mean_ci([0.5])
    assert mean == 0.5 and all(math.isnan(v) for v in (std, low, high))


def _rows():
    """Two variants x three seeds with known numbers."""
    rows = []
    values = {"max": [0.90, 0.80, 0.70], "avg": [0.80, 0.75, 0.60]}
    for variant, accs in values.items():
        for seed, acc in enumerate(accs):
            rows.append({
                "dataset": "digits", "variant": variant, "pooling": variant, "head": "flatten",
                "p": None, "seed": seed, "train_size": 100, "train_accuracy": 1.0,
                "test_accuracy": acc, "train_loss": 0.1, "test_loss": 0.5,
                "generalization_gap": 1.0 - acc, "shift_consistency": 0.5 + seed / 10,
                "accuracy_shift_0": acc, "accuracy_shift_1": acc / 2, "epochs": 2,
                "train_seconds": 1.5,
                "history": {"loss": [1.0, 0.5], "accuracy": [0.5, 0.9],
                            "val_loss": [1.1, 0.6], "val_accuracy": [0.4, 0.8]},
            })
    return rows


def test_tables_round_trip(tmp_path):
    records = _rows()
    report.write_tables(records, tmp_path)
    rows = report.read_csv(tmp_path / "results.csv")
    assert len(rows) == 6
    assert list(rows[0])[:15] == list(report.COLUMNS)
    assert list(rows[0])[15:] == ["accuracy_shift_0", "accuracy_shift_1"]
    assert rows[1]["variant"] == "max" and rows[1]["test_accuracy"] == 0.8
    assert math.isnan(rows[0]["p"])
    history = report.read_csv(tmp_path / "history.csv")
    assert len(history) == 12
    assert history[1] == {"variant": "max", "seed": 0.0, "epoch": 2.0, "loss": 0.5,
                          "accuracy": 0.9, "val_loss": 0.6, "val_accuracy": 0.8}


def test_summary_has_stats_and_paired_differences():
    text = report.summarize(_rows(), baseline="max")
    assert text.startswith("# Results: digits")
    lines = text.splitlines()
    start = lines.index("## test accuracy")
    table = lines[start + 2: start + 6]
    assert table[0] == "| variant | n | mean | std | 95% CI | Δ vs max | 95% CI of Δ |"
    assert table[2].startswith("| max | 3 | 0.8000 | 0.1000 | [0.5516, 1.0484] | — |")
    # avg - max per seed: -0.10, -0.05, -0.10 -> mean -0.0833
    assert table[3].startswith("| avg | 3 | 0.7167 | 0.1041 |")
    assert "| -0.0833 | [-0.1550, -0.0116] |" in table[3]
    assert "| avg | 0.7167 | 0.3583 |" in text  # accuracy vs shift table
    assert "Δ" not in report.summarize(_rows(), baseline=None)


def test_render_writes_summary_and_plots(tmp_path):
    report.write_tables(_rows(), tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"baseline": "avg"}))
    report.render(tmp_path)
    assert "Δ vs avg" in (tmp_path / "summary.md").read_text()
    for name in ("learning_curves", "generalization_gap", "accuracy_vs_shift",
                 "shift_consistency"):
        png = (tmp_path / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_render_without_results_is_a_clean_error(tmp_path):
    with pytest.raises(ConfigError, match="no results.csv here"):
        report.render(tmp_path)


def test_write_atomic_replaces_whole_files(tmp_path):
    path = tmp_path / "a.txt"
    report.write_atomic(path, "one")
    report.write_atomic(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary left


def test_single_seed_summary_shows_na_not_crash():
    rows = [r for r in _rows() if r["seed"] == 0]
    text = report.summarize(rows, baseline="max")
    assert "| avg | 1 | 0.8000 | n/a | n/a | -0.1000 | n/a |" in text
    assert np.isfinite(report.mean_ci([1.0, 1.0])[2])
