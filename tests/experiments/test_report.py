"""Report: confidence intervals, CSV round trip, the Markdown summary and the plots."""

import json
import math

import numpy as np
import pytest

from experiments import rundir, stats
from experiments.config import ConfigError
from experiments.results import plots, report, summary


def test_mean_ci_matches_the_t_distribution_by_hand():
    mean, std, low, high = stats.mean_ci([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, df=2) * s / sqrt(n), s = 1
    assert (mean, std) == (2.0, 1.0)
    assert low == pytest.approx(2.0 - half) and high == pytest.approx(2.0 + half)
    mean, std, low, high = stats.mean_ci([0.5])
    assert mean == 0.5 and all(math.isnan(v) for v in (std, low, high))


def _rows():
    """Two variants x three seeds with known numbers."""
    rows = []
    values = {"max": [0.90, 0.80, 0.70], "avg": [0.80, 0.75, 0.60]}
    for variant, accs in values.items():
        for seed, acc in enumerate(accs):
            rows.append({
                "dataset": "digits", "variant": variant, "pooling": variant, "head": "flatten",
                "p": None, "seed": seed, "train_size": 100, "test_size": 400,
                "train_accuracy": 1.0,
                "test_accuracy": acc, "train_loss": 0.1, "test_loss": 0.5,
                "generalization_gap": 1.0 - acc, "shift_consistency": 0.5 + seed / 10,
                "accuracy_shift_0": acc, "accuracy_shift_1": acc / 2, "epochs": 2,
                "best_epoch": 2, "epoch_budget": 2, "hit_budget": int(variant == "avg"),
                "train_seconds": 1.23456,
                "history": {"loss": [1.0, 0.5], "accuracy": [0.5, 0.9],
                            "val_loss": [1.1, 0.6], "val_accuracy": [0.4, 0.8]},
            })
    return rows


def test_tables_round_trip(tmp_path):
    records = _rows()
    rundir.write_tables(records, tmp_path)
    rows = rundir.read_csv(tmp_path / "results.csv")
    assert len(rows) == 6
    assert list(rows[0])[:19] == list(rundir.COLUMNS)
    assert list(rows[0])[19:] == ["accuracy_shift_0", "accuracy_shift_1"]
    assert rows[1]["variant"] == "max" and rows[1]["test_accuracy"] == 0.8
    assert math.isnan(rows[0]["p"])
    history = rundir.read_csv(tmp_path / "history.csv")
    assert len(history) == 12
    assert history[1] == {"variant": "max", "train_size": 100.0, "seed": 0.0, "epoch": 2.0,
                          "loss": 0.5, "accuracy": 0.9, "val_loss": 0.6, "val_accuracy": 0.8}


def test_summary_has_stats_and_paired_differences():
    text = summary.summarize(_rows(), baseline="max")
    assert text.startswith("# Results: digits")
    lines = text.splitlines()
    start = lines.index("## test accuracy")
    table = lines[start + 2: start + 6]
    assert table[0] == ("| train size | variant | n | mean | std | 95% CI | test-set SE |"
                        " Δ vs max | 95% CI of Δ |")
    # test-set SE of the mean accuracy 0.8 on 400 examples: sqrt(0.8 * 0.2 / 400) = 0.02
    assert table[2].startswith(
        "| 100 | max | 3 | 0.8000 | 0.1000 | [0.5516, 1.0484] | 0.0200 | — |")
    # avg - max per seed: -0.10, -0.05, -0.10 -> mean -0.0833
    assert table[3].startswith("| 100 | avg | 3 | 0.7167 | 0.1041 |")
    assert "| -0.0833 | [-0.1550, -0.0116] |" in table[3]
    assert "| 100 | avg | 0.7167 | 0.3583 |" in text  # accuracy vs shift table
    assert "Δ" not in summary.summarize(_rows(), baseline=None)


def test_summary_rounds_seconds_and_epochs_and_flags_runs_at_the_budget():
    text = summary.summarize(_rows(), baseline="max")
    assert "1.23456" not in text and "1.2346" not in text
    lines = text.splitlines()
    start = lines.index("## train seconds")
    assert lines[start + 4].startswith("| 100 | max | 3 | 1.2 | 0.0 |")
    assert "| 100 | max | 3 | 2.0 |" in lines[lines.index("## epochs trained") + 4]
    budget = lines.index("## Runs that hit the epoch budget")
    assert lines[budget + 2].startswith("**3 of 6 runs trained until the epoch budget (2)")
    assert lines[budget + 4] == "- train size 100, avg: seeds 0, 1, 2"
    rows = [dict(r, hit_budget=0) for r in _rows()]
    assert "None: every run stopped early" in summary.summarize(rows)


def test_every_table_is_split_by_training_set_size():
    rows = _rows() + [dict(r, train_size=400, test_accuracy=r["test_accuracy"] + 0.1)
                      for r in _rows()]
    text = summary.summarize(rows, baseline="max")
    assert "training-set sizes 100, 400" in text
    lines = text.splitlines()
    start = lines.index("## test accuracy")
    assert [line.split(" | ")[0:2] for line in lines[start + 4: start + 8]] == [
        ["| 100", "max"], ["| 100", "avg"], ["| 400", "max"], ["| 400", "avg"]]
    assert "| 400 | avg | 3 | 0.8167 |" in text
    for title in ("## Overview (means over seeds)", "## Accuracy vs shift (mean over seeds)"):
        header = lines[lines.index(title) + 2]
        assert header.startswith("| train size | variant |")


def test_render_writes_summary_and_plots(tmp_path):
    rundir.write_tables(_rows(), tmp_path)
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
    rundir.write_atomic(path, "one")
    rundir.write_atomic(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary left


def test_single_seed_summary_shows_na_not_crash():
    rows = [r for r in _rows() if r["seed"] == 0]
    text = summary.summarize(rows, baseline="max")
    assert "| 100 | avg | 1 | 0.8000 | n/a | n/a | 0.0200 | -0.1000 | n/a |" in text
    assert np.isfinite(stats.mean_ci([1.0, 1.0])[2])


def _capture_figures(monkeypatch):
    """Keep every figure the report saves (title, axes) instead of closing it."""
    saved = {}

    def save(plt, fig, path):
        fig.canvas.draw()
        saved[path.name] = fig
        return path

    monkeypatch.setattr(plots, "_save", save)
    return saved


def test_band_is_clipped_to_the_unit_interval():
    mean, low, high = stats.band([1.0, 0.9, 1.0])
    assert high == 1.0 and 0 < low < mean < 1
    assert stats.band([0.0, 0.1, 0.0])[1] == 0.0


def test_shift_plot_bands_stay_in_0_1_and_titles_count_seeds(monkeypatch, tmp_path):
    rows = _rows()
    for r in rows:  # accuracies near 1 whose t-interval exceeds 1
        r["accuracy_shift_0"] = [1.0, 0.9, 1.0][int(r["seed"])]
    saved = _capture_figures(monkeypatch)
    history = []
    for r in rows:
        for e in (1, 2):
            history.append({"variant": r["variant"], "train_size": 100, "seed": r["seed"],
                            "epoch": e, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.0,
                            "val_accuracy": 0.4})
    plots.plot(rows, history, tmp_path)
    fig = saved["accuracy_vs_shift.png"]
    ax = fig.axes[0]
    assert "mean of 3 seeds" in ax.get_title()
    tops = [path.vertices[:, 1].max() for c in ax.collections for path in c.get_paths()]
    assert tops and max(tops) <= 1.0
    curves = saved["learning_curves.png"]
    assert "mean of 3 seeds" in curves._suptitle.get_text()
    assert [a.get_title() for a in curves.axes if a.get_visible()] == ["max", "avg"]
    plots.plot(rows, history, tmp_path, baseline="avg")
    first = saved["learning_curves.png"].axes[0]  # the max panel shows the avg baseline in grey
    assert "avg (val)" in [line.get_label() for line in first.get_lines()]
    assert "grey: avg" in saved["learning_curves.png"]._suptitle.get_text()
    assert "mean of 3 seeds" in saved["generalization_gap.png"].axes[0].get_title()


def test_train_size_plot_has_one_line_per_variant_with_clipped_bands(monkeypatch, tmp_path):
    rows = _rows() + [dict(r, train_size=400, test_accuracy=[1.0, 0.9, 1.0][int(r["seed"])])
                      for r in _rows()]
    saved = _capture_figures(monkeypatch)
    paths = plots.plot(rows, [], tmp_path)
    assert paths[-1].name == "accuracy_vs_train_size.png"
    ax = saved["accuracy_vs_train_size.png"].axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["max", "avg"]
    assert list(ax.get_lines()[0].get_xdata()) == [100, 400]
    tops = [path.vertices[:, 1].max() for c in ax.collections for path in c.get_paths()]
    assert max(tops) <= 1.0 and "mean of 3 seeds" in ax.get_title()


def test_plot_styles_are_distinct_for_16_variants_and_the_same_in_every_plot():
    names = [f"variant{i}" for i in range(16)]
    style = plots.styles(names)
    assert len({s["color"] for s in style.values()}) == 16
    assert len({s["marker"] for s in style.values()}) == 16
    assert plots.styles(names) == style  # one variant, one style, every call
    more = plots.styles(names + ["extra"])
    assert (more["extra"]["color"], more["extra"]["linestyle"]) != (
        style["variant0"]["color"], style["variant0"]["linestyle"])
