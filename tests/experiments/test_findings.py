"""Findings: verdicts from paired confidence intervals, per regime, and findings.md."""

import json
import math

import pytest

from experiments import config, rundir, stats
from experiments.results import findings, report


def _rows(diffs_by_size, metric="test_accuracy"):
    """Variants a and b over len(diffs) seeds; a - b equals the given differences."""
    rows = []
    for size, diffs in diffs_by_size.items():
        for seed, diff in enumerate(diffs):
            for variant, value in (("a", 0.5 + diff), ("b", 0.5)):
                rows.append({"variant": variant, "seed": seed, "train_size": size,
                             metric: value})
    return rows


def _claim(**kw):
    return config.Finding(**{"name": "a beats b", "a": "a", "b": "b", **kw})


@pytest.mark.parametrize("low, high, direction, expected", [
    (0.01, 0.05, "greater", "supported"),
    (0.01, 0.05, "less", "contradicted"),
    (-0.05, -0.01, "less", "supported"),
    (-0.05, -0.01, "greater", "contradicted"),
    (-0.01, 0.05, "greater", "inconclusive"),
    (-0.01, 0.05, "less", "inconclusive"),
    (math.nan, math.nan, "greater", "inconclusive"),
])
def test_verdict_follows_the_ci_and_the_claimed_direction(low, high, direction, expected):
    assert findings.verdict(low, high, direction) == expected


def test_judge_pairs_by_seed_and_reports_each_regime():
    rows = _rows({100: [0.02, 0.03, 0.025, 0.03, 0.02], 400: [0.01, -0.02, 0.0, 0.02, -0.01]})
    judged = findings.judge([_claim()], rows)
    assert [(j["train_size"], j["verdict"], j["n"]) for j in judged] == [
        (100, "supported", 5), (400, "inconclusive", 5)]
    assert judged[0]["mean"] == pytest.approx(0.025)
    mean, _, low, high = stats.mean_ci([0.02, 0.03, 0.025, 0.03, 0.02])
    assert (judged[0]["low"], judged[0]["high"]) == pytest.approx((low, high))
    only = findings.judge([_claim(train_size=400, direction="less")], rows)
    assert len(only) == 1 and only[0]["train_size"] == 400


def test_a_claim_in_the_wrong_direction_is_contradicted_and_lower_is_better_metrics_work():
    rows = _rows({100: [0.05, 0.06, 0.04]}, metric="generalization_gap")
    claim = _claim(metric="generalization_gap", direction="less", source="Zeiler & Fergus 2013")
    (judged,) = findings.judge([claim], rows)
    assert judged["verdict"] == "contradicted" and judged["mean"] == pytest.approx(0.05)
    text = findings.markdown([judged])
    assert "| a beats b | a | b | generalization_gap | A < B | 100 | 3 | +0.0500 |" in text
    assert "**contradicted**" in text and "Source: Zeiler & Fergus 2013." in text


def test_unpaired_seeds_are_left_out_and_one_seed_is_inconclusive():
    rows = _rows({100: [0.1, 0.2]})
    rows = [r for r in rows if not (r["variant"] == "b" and r["seed"] == 1)]
    (judged,) = findings.judge([_claim()], rows)
    assert judged["n"] == 1 and judged["verdict"] == "inconclusive"
    assert "| n/a | **inconclusive** |" in findings.markdown([judged])


def test_render_writes_findings_md_from_the_config(tmp_path):
    records = []
    for seed, (a, b) in enumerate([(0.9, 0.8), (0.85, 0.8), (0.95, 0.85)]):
        for variant, acc in (("max", a), ("avg", b)):
            records.append({
                "dataset": "digits", "variant": variant, "pooling": variant, "head": "flatten",
                "p": None, "seed": seed, "train_size": 50, "test_size": 100,
                "train_accuracy": 1.0, "test_accuracy": acc, "train_loss": 0.1,
                "test_loss": 0.5, "generalization_gap": 1 - acc, "shift_consistency": 0.5,
                "accuracy_shift_0": acc, "epochs": 3, "best_epoch": 2, "epoch_budget": 9,
                "hit_budget": 0, "train_seconds": 1.0,
                "history": {"loss": [1.0], "accuracy": [0.5], "val_loss": [1.0],
                            "val_accuracy": [0.5]}})
    rundir.write_tables(records, tmp_path)
    cfg = config.parse({"variants": [{"pooling": "max"}, {"pooling": "avg"}],
                        "findings": [{"name": "max beats avg", "a": "max", "b": "avg",
                                      "source": "Boureau 2010"}]})
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_dict()))
    report.render(tmp_path)
    text = (tmp_path / "findings.md").read_text()
    assert "| max beats avg | max | avg | test_accuracy | A > B | 50 | 3 | +0.0833 |" in text
    assert "**supported**" in text
