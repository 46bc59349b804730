"""Statistics of results rows: confidence intervals over seeds, bands, the test set's own error.

The one place the harness computes uncertainty; the summary, the plots and the
findings' verdicts all take their intervals from here.
"""

import math

import numpy as np


def mean_ci(values, level=0.95):
    """Mean, sample std, and the t-distribution confidence interval of the mean.

    NaN where undefined (std and interval need n >= 2).
    """
    from scipy import stats

    values = np.asarray(values, dtype=float)
    mean = float(values.mean()) if len(values) else math.nan
    if len(values) < 2:
        return mean, math.nan, math.nan, math.nan
    std = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1)) * std / math.sqrt(len(values))
    return mean, std, mean - half, mean + half


def band(values):
    """(mean, low, high) of a 95% CI band for accuracies, clipped to [0, 1]."""
    mean, _, low, high = mean_ci(values)
    if math.isnan(low):
        return mean, math.nan, math.nan
    return mean, min(max(low, 0.0), 1.0), min(max(high, 0.0), 1.0)


def test_set_se(accuracy, n_test):
    """Binomial standard error of an accuracy measured on `n_test` test examples."""
    if not n_test or math.isnan(n_test):
        return math.nan
    return math.sqrt(max(accuracy * (1 - accuracy), 0.0) / n_test)


def regimes(rows):
    """The training-set sizes in `rows`, ascending."""
    return sorted({int(r["train_size"]) for r in rows})


def at_size(rows, size):
    """The rows of training-set size `size`."""
    return [r for r in rows if int(r["train_size"]) == size]


def by_variant(rows):
    """{variant: {seed: row}}, variants in first-seen order (rows of one regime)."""
    groups = {}
    for row in rows:
        groups.setdefault(row["variant"], {})[int(row["seed"])] = row
    return groups


def missing(value):
    """True for a value a CSV left empty (None, "", NaN)."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))
