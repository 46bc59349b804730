"""``summary.md``: per training-set size and variant, every metric's mean, std and 95% CI
over seeds, the test set's own standard error, the paired difference to the
baseline variant, and the runs that hit the epoch budget.

Accuracies have 4 decimals, epochs and seconds 1.
"""

import math

import numpy as np

from .. import tables
from ..rundir import axis_shift_columns, shift_columns
from ..stats import at_size, by_variant, mean_ci, missing, regimes, test_set_se

NAMES = {
    "test_accuracy": "test accuracy", "train_accuracy": "train accuracy",
    "generalization_gap": "generalization gap (train - test accuracy)",
    "test_loss": "test loss", "train_loss": "train loss",
    "shift_consistency": "shift consistency", "train_seconds": "train seconds",
    "epochs": "epochs trained",
}
_DECIMALS = {"train_seconds": 1, "epochs": 1, "best_epoch": 1}


def _fmt(value, signed=False, metric=None):
    return tables.number(value, _DECIMALS.get(metric, 4), signed)


def _interval(low, high, signed=False, metric=None):
    return tables.interval(low, high, _DECIMALS.get(metric, 4), signed)


def summarize(rows, baseline=None):
    """The Markdown summary of results rows (see the module docstring)."""
    shifts = shift_columns(rows[0])
    last = shifts[-1]
    metrics = ["test_accuracy", "train_accuracy", "generalization_gap", "test_loss",
               "train_loss", "shift_consistency", last, "epochs", "train_seconds"]
    names = dict(NAMES, **{last: f"accuracy at shift {last.rsplit('_', 1)[1]}"})
    seeds = sorted({int(r["seed"]) for r in rows})
    sizes = regimes(rows)
    variants = list(by_variant(rows))
    if baseline not in variants:
        baseline = None
    n_test = rows[0].get("test_size", math.nan)
    lines = [
        f"# Results: {rows[0]['dataset']}",
        "",
        f"{len(rows)} runs: {len(variants)} variants, seeds {', '.join(map(str, seeds))}, "
        f"training-set sizes {', '.join(map(str, sizes))}"
        + ("" if missing(n_test) else f", {int(n_test)} test examples")
        + ". Mean, sample std and 95% confidence interval (t-distribution) over seeds"
        + (f"; Δ is the paired difference to `{baseline}` (same seed, same initial weights)."
           if baseline else ".")
        + " The test-set SE is the binomial standard error sqrt(p(1-p)/n_test) of one "
          "run's test accuracy: differences below about twice it are within the test "
          "set's own sampling error.",
        "",
    ]
    lines += _budget_lines(rows)
    overview = []
    for size in sizes:
        for variant, runs in by_variant(at_size(rows, size)).items():
            means = [_fmt(float(np.mean([r[m] for r in runs.values()])), metric=m)
                     for m in metrics]
            acc = float(np.mean([r["test_accuracy"] for r in runs.values()]))
            se = test_set_se(acc, next(iter(runs.values())).get("test_size", math.nan))
            overview.append([size, variant, len(runs), *means, _fmt(se)])
    lines += ["## Overview (means over seeds)", ""]
    lines += tables.table(["train size", "variant", "runs", *(names[m] for m in metrics),
                           "test-set SE"], "rlr" + "r" * (len(metrics) + 1), overview)
    for metric in metrics:
        lines += ["", f"## {names[metric]}", ""]
        header, aligns = ["train size", "variant", "n", "mean", "std", "95% CI"], "rlrrrl"
        if metric == "test_accuracy":
            header, aligns = header + ["test-set SE"], aligns + "r"
        if baseline:
            header, aligns = header + [f"Δ vs {baseline}", "95% CI of Δ"], aligns + "rl"
        body = []
        for size in sizes:
            groups = by_variant(at_size(rows, size))
            for variant, runs in groups.items():
                mean, std, low, high = mean_ci([r[metric] for r in runs.values()])
                cells = [size, variant, len(runs), _fmt(mean, metric=metric),
                         _fmt(std, metric=metric), _interval(low, high, metric=metric)]
                if metric == "test_accuracy":
                    n = next(iter(runs.values())).get("test_size", math.nan)
                    cells.append(_fmt(test_set_se(mean, n)))
                if baseline:
                    cells += _paired(runs, groups.get(baseline, {}), metric,
                                     variant == baseline)
                body.append(cells)
        lines += tables.table(header, aligns, body)
    for column_set, title in ((shifts, "Accuracy vs shift"),
                              (axis_shift_columns(rows[0]), "Accuracy vs shift along one axis")):
        if not column_set:
            continue
        body = [[size, variant, *(_fmt(float(np.mean([r[c] for r in runs.values()])))
                                  for c in column_set)]
                for size in sizes for variant, runs in by_variant(at_size(rows, size)).items()]
        lines += ["", f"## {title} (mean over seeds)", ""]
        lines += tables.table(["train size", "variant",
                               *(f"shift {c.rsplit('_', 1)[1]}" for c in column_set)],
                              "rl" + "r" * len(column_set), body)
    return "\n".join(lines) + "\n"


def _budget_lines(rows):
    """The "epoch budget" section: every run that trained until the budget ran out."""
    if not rows or "hit_budget" not in rows[0]:
        return []
    hit = [r for r in rows if not missing(r["hit_budget"]) and r["hit_budget"]]
    lines = ["## Runs that hit the epoch budget", ""]
    if not hit:
        return lines + ["None: every run stopped early (validation loss stopped improving).",
                        ""]
    lines.append(f"**{len(hit)} of {len(rows)} runs trained until the epoch budget "
                 f"({int(hit[0]['epoch_budget'])}) ran out and may not have converged:**")
    lines.append("")
    by = {}
    for r in hit:
        by.setdefault((int(r["train_size"]), r["variant"]), []).append(str(int(r["seed"])))
    lines += [f"- train size {n}, {v}: seeds {', '.join(s)}" for (n, v), s in by.items()]
    return lines + [""]


def _paired(runs, base_runs, metric, is_baseline):
    """The Δ and its CI cells of a variant against the baseline (same seeds)."""
    if is_baseline:
        return ["—", "—"]
    common = sorted(set(runs) & set(base_runs))
    if not common:
        return ["n/a", "n/a"]
    diffs = [runs[s][metric] - base_runs[s][metric] for s in common]
    mean, _, low, high = mean_ci(diffs)
    return [_fmt(mean, True, metric), _interval(low, high, True, metric)]
