"""Results files: CSV tables, a Markdown summary with confidence intervals, PNG plots.

Public API
----------
``write_atomic(path, text)``
    Write a text file so a reader (or a kill) never sees half of it.
``write_tables(records, out_dir)``
    ``results.csv`` (one row per run, ``COLUMNS`` then ``accuracy_shift_*``)
    and ``history.csv`` (one row per run and epoch: the learning curves),
    from run records (a results row plus ``"history"``: per-epoch lists).
``read_csv(path) -> list[dict]``
    Rows with numbers parsed.
``mean_ci(values, level=0.95) -> (mean, std, low, high)``
    Sample std and a t-distribution interval; NaN where undefined (n < 2).
``summarize(rows, baseline=None) -> str``
    The Markdown summary: per training-set size (regime) and variant the
    mean, std and 95% CI of every metric over seeds, the test set's own
    standard error beside the test accuracy, the paired difference (same
    seed) to the `baseline` variant, and the runs that hit the epoch budget.
    Accuracies have 4 decimals, epochs and seconds 1.
``band(values) -> (mean, low, high)``
    A 95% CI band of accuracies, clipped to [0, 1].
``plot(rows, history, out_dir) -> list[Path]``
    ``learning_curves.png`` (one panel per variant), ``generalization_gap.png``,
    ``accuracy_vs_shift.png``, ``shift_consistency.png`` and, with more than
    one training-set size, ``accuracy_vs_train_size.png``. Titles say how
    many seeds a mean is over.
``render(out_dir)``
    ``summary.md``, the plots and (if ``config.json`` has findings)
    ``findings.md`` from ``results.csv`` and ``history.csv`` (and the baseline
    named in ``config.json``, if there is one); ``python -m experiments
    report DIR`` calls it.
"""

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from .config import ConfigError
from .runtime import default_file_mode

COLUMNS = (
    "dataset", "variant", "pooling", "head", "p", "seed", "train_size", "test_size",
    "train_accuracy", "test_accuracy", "train_loss", "test_loss",
    "generalization_gap", "shift_consistency", "epochs", "best_epoch", "epoch_budget",
    "hit_budget", "train_seconds",
)
HISTORY_COLUMNS = ("variant", "train_size", "seed", "epoch", "loss", "accuracy", "val_loss",
                   "val_accuracy")
_TEXT = {"dataset", "variant", "pooling", "head"}
_NAMES = {
    "test_accuracy": "test accuracy", "train_accuracy": "train accuracy",
    "generalization_gap": "generalization gap (train - test accuracy)",
    "test_loss": "test loss", "train_loss": "train loss",
    "shift_consistency": "shift consistency", "train_seconds": "train seconds",
    "epochs": "epochs trained",
}


def write_atomic(path, text):
    """Write `text` to `path` via a temporary file in the same folder and a rename.

    The file gets the mode a plain ``open(path, "w")`` would give (0666 less
    the umask), not mkstemp's private 0600.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, default_file_mode())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def shift_columns(row, prefix="accuracy_shift_"):
    """The ``accuracy_shift_<s>`` keys of a row, by increasing shift."""
    keys = [k for k in row if k.startswith(prefix)]
    return sorted(keys, key=lambda k: int(k.rsplit("_", 1)[1]))


def axis_shift_columns(row):
    """The ``accuracy_axis_shift_<s>`` keys of a row (images only), by increasing shift."""
    return shift_columns(row, "accuracy_axis_shift_")


def _csv(columns, rows):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_tables(records, out_dir):
    """Rewrite ``results.csv`` and ``history.csv`` in `out_dir` from run records."""
    out_dir = Path(out_dir)
    if not records:
        return
    columns = list(COLUMNS) + shift_columns(records[0]) + axis_shift_columns(records[0])
    write_atomic(out_dir / "results.csv", _csv(columns, records))
    epochs = []
    for record in records:
        history = record["history"]
        for epoch in range(len(history["loss"])):
            row = {"variant": record["variant"], "train_size": record["train_size"],
                   "seed": record["seed"], "epoch": epoch + 1}
            row.update({k: v[epoch] for k, v in history.items()})
            epochs.append(row)
    write_atomic(out_dir / "history.csv", _csv(HISTORY_COLUMNS, epochs))


def read_csv(path):
    """The rows of a CSV file this module wrote, numbers as float (empty -> NaN)."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: (v if k in _TEXT else _number(v)) for k, v in row.items()}
                for row in csv.DictReader(f)]


def _number(text):
    return float(text) if text != "" else math.nan


def mean_ci(values, level=0.95):
    """Mean, sample std, and the t-distribution confidence interval of the mean."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    mean = float(values.mean()) if len(values) else math.nan
    if len(values) < 2:
        return mean, math.nan, math.nan, math.nan
    std = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1)) * std / math.sqrt(len(values))
    return mean, std, mean - half, mean + half


def regimes(rows):
    """The training-set sizes in `rows`, ascending."""
    return sorted({int(r["train_size"]) for r in rows})


def _by_variant(rows):
    """{variant: {seed: row}}, variants in first-seen order (rows of one regime)."""
    groups = {}
    for row in rows:
        groups.setdefault(row["variant"], {})[int(row["seed"])] = row
    return groups


def _at(rows, size):
    return [r for r in rows if int(r["train_size"]) == size]


_DECIMALS = {"train_seconds": 1, "epochs": 1, "best_epoch": 1}


def _fmt(value, signed=False, metric=None):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    digits = _DECIMALS.get(metric, 4)
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _interval(low, high, signed=False, metric=None):
    if math.isnan(low):
        return "n/a"
    return f"[{_fmt(low, signed, metric)}, {_fmt(high, signed, metric)}]"


def test_set_se(accuracy, n_test):
    """Binomial standard error of an accuracy measured on `n_test` test examples."""
    if not n_test or math.isnan(n_test):
        return math.nan
    return math.sqrt(max(accuracy * (1 - accuracy), 0.0) / n_test)


def summarize(rows, baseline=None):
    """The Markdown summary of results rows (see the module docstring)."""
    shifts = shift_columns(rows[0])
    last = shifts[-1]
    metrics = ["test_accuracy", "train_accuracy", "generalization_gap", "test_loss",
               "train_loss", "shift_consistency", last, "epochs", "train_seconds"]
    names = dict(_NAMES, **{last: f"accuracy at shift {last.rsplit('_', 1)[1]}"})
    seeds = sorted({int(r["seed"]) for r in rows})
    sizes = regimes(rows)
    variants = list(_by_variant(rows))
    if baseline not in variants:
        baseline = None
    n_test = rows[0].get("test_size", math.nan)
    lines = [
        f"# Results: {rows[0]['dataset']}",
        "",
        f"{len(rows)} runs: {len(variants)} variants, seeds {', '.join(map(str, seeds))}, "
        f"training-set sizes {', '.join(map(str, sizes))}"
        + ("" if _missing(n_test) else f", {int(n_test)} test examples")
        + ". Mean, sample std and 95% confidence interval (t-distribution) over seeds"
        + (f"; Δ is the paired difference to `{baseline}` (same seed, same initial weights)."
           if baseline else ".")
        + " The test-set SE is the binomial standard error sqrt(p(1-p)/n_test) of one "
          "run's test accuracy: differences below about twice it are within the test "
          "set's own sampling error.",
        "",
    ]
    lines += _budget_lines(rows)
    lines += ["## Overview (means over seeds)", "",
              "| train size | variant | runs | " + " | ".join(names[m] for m in metrics)
              + " | test-set SE |",
              "|---:|---|---:|" + "---:|" * (len(metrics) + 1)]
    for size in sizes:
        for variant, runs in _by_variant(_at(rows, size)).items():
            means = [_fmt(float(np.mean([r[m] for r in runs.values()])), metric=m)
                     for m in metrics]
            acc = float(np.mean([r["test_accuracy"] for r in runs.values()]))
            se = test_set_se(acc, next(iter(runs.values())).get("test_size", math.nan))
            lines.append(f"| {size} | {variant} | {len(runs)} | " + " | ".join(means)
                         + f" | {_fmt(se)} |")
    for metric in metrics:
        lines += ["", f"## {names[metric]}", ""]
        header = "| train size | variant | n | mean | std | 95% CI |"
        rule = "|---:|---|---:|---:|---:|---|"
        if metric == "test_accuracy":
            header += " test-set SE |"
            rule += "---:|"
        if baseline:
            header += f" Δ vs {baseline} | 95% CI of Δ |"
            rule += "---:|---|"
        lines += [header, rule]
        for size in sizes:
            groups = _by_variant(_at(rows, size))
            for variant, runs in groups.items():
                mean, std, low, high = mean_ci([r[metric] for r in runs.values()])
                line = (f"| {size} | {variant} | {len(runs)} | {_fmt(mean, metric=metric)} | "
                        f"{_fmt(std, metric=metric)} | {_interval(low, high, metric=metric)} |")
                if metric == "test_accuracy":
                    n = next(iter(runs.values())).get("test_size", math.nan)
                    line += f" {_fmt(test_set_se(mean, n))} |"
                if baseline:
                    line += _paired(runs, groups.get(baseline, {}), metric,
                                    variant == baseline)
                lines.append(line)
    for column_set, title in ((shifts, "Accuracy vs shift"),
                              (axis_shift_columns(rows[0]), "Accuracy vs shift along one axis")):
        if not column_set:
            continue
        lines += ["", f"## {title} (mean over seeds)", "",
                  "| train size | variant | "
                  + " | ".join(f"shift {c.rsplit('_', 1)[1]}" for c in column_set) + " |",
                  "|---:|---|" + "---:|" * len(column_set)]
        for size in sizes:
            for variant, runs in _by_variant(_at(rows, size)).items():
                means = [_fmt(float(np.mean([r[c] for r in runs.values()]))) for c in column_set]
                lines.append(f"| {size} | {variant} | " + " | ".join(means) + " |")
    return "\n".join(lines) + "\n"


def _missing(value):
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _budget_lines(rows):
    """The "epoch budget" section: every run that trained until the budget ran out."""
    if not rows or "hit_budget" not in rows[0]:
        return []
    hit = [r for r in rows if not _missing(r["hit_budget"]) and r["hit_budget"]]
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
    if is_baseline:
        return " — | — |"
    common = sorted(set(runs) & set(base_runs))
    if not common:
        return " n/a | n/a |"
    diffs = [runs[s][metric] - base_runs[s][metric] for s in common]
    mean, _, low, high = mean_ci(diffs)
    return f" {_fmt(mean, True, metric)} | {_interval(low, high, True, metric)} |"


def band(values):
    """(mean, low, high) of a 95% CI band for accuracies, clipped to [0, 1]."""
    mean, _, low, high = mean_ci(values)
    if math.isnan(low):
        return mean, math.nan, math.nan
    return mean, min(max(low, 0.0), 1.0), min(max(high, 0.0), 1.0)


# 16 distinct colours (tab20 without its two greys and two pale pairs), each with
# its own marker and a line style: a variant keeps one style in every plot of a run.
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
            "#c49c94", "#dbdb8d")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p", "d", "8", "H", "1")
_LINES = ("-", "--", "-.", ":")


def styles(variants):
    """variant -> matplotlib keyword arguments (color, marker, linestyle), in the given
    order; distinct for up to 16 variants, then repeating colours with new line styles."""
    return {v: {"color": _COLOURS[i % len(_COLOURS)], "marker": _MARKERS[i % len(_MARKERS)],
                "linestyle": _LINES[(i + i // len(_COLOURS)) % len(_LINES)]}
            for i, v in enumerate(variants)}


def _legend_outside(ax, **kwargs):
    """A legend to the right of the axes, never over the data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              fontsize="small", **kwargs)


def plot(rows, history, out_dir, baseline=None):
    """Write the PNG plots into `out_dir`; returns their paths.

    ``learning_curves.png``, ``generalization_gap.png``, ``accuracy_vs_shift.png``,
    ``shift_consistency.png``, and ``accuracy_vs_train_size.png`` when there is
    more than one training-set size. Curves, shift lines and bars show the
    largest training-set size unless they plot the sizes themselves; the
    learning curves draw `baseline` (default: the first variant) in grey in
    every panel.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    out_dir = Path(out_dir)
    sizes = regimes(rows)
    largest = _at(rows, sizes[-1])
    groups = _by_variant(largest)
    history = [h for h in history if _missing(h.get("train_size"))
               or int(h["train_size"]) == sizes[-1]]
    note = _note(largest, sizes)
    style = styles(_by_variant(rows))
    paths = [
        _learning_curves(plt, history, groups, note, out_dir / "learning_curves.png", baseline),
        _bars(plt, rows, sizes, "generalization_gap", "train - test accuracy",
              out_dir / "generalization_gap.png", style),
        _shift_lines(plt, groups, largest[0], note, out_dir / "accuracy_vs_shift.png", style),
        _bars(plt, rows, sizes, "shift_consistency", "shift consistency",
              out_dir / "shift_consistency.png", style),
    ]
    if len(sizes) > 1:
        paths.append(_size_lines(plt, rows, sizes, out_dir / "accuracy_vs_train_size.png",
                                 style))
    return paths


def _seed_count(rows):
    counts = sorted({len(runs) for runs in _by_variant(rows).values()})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def _note(rows, sizes):
    text = f"mean of {_seed_count(rows)} seeds"
    return text + (f", train size {sizes[-1]}" if len(sizes) > 1 else "")


def _save(plt, fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")  # keeps a legend outside the axes
    plt.close(fig)
    return path


def _learning_curves(plt, history, groups, note, path, baseline=None):
    """One panel per variant: validation (solid) and training (dashed) accuracy; the
    baseline variant (default: the first) drawn in grey in every other panel."""
    variants = list(groups)
    cols = min(4, len(variants))
    rows_n = math.ceil(len(variants) / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.2 * cols, 2.6 * rows_n + 0.6),
                             sharex=True, sharey=True, squeeze=False)
    curves = {v: _mean_curves(history, v) for v in variants}
    reference = baseline if baseline in variants else variants[0]
    for ax, variant in zip(axes.flat, variants):
        if variant != reference and curves[reference][0]:
            steps, val, train = curves[reference]
            ax.plot(steps, val, "-", color="0.6", lw=1, label=f"{reference} (val)")
        steps, val, train = curves[variant]
        if steps:
            ax.plot(steps, val, "-", color="C0", label="validation")
            ax.plot(steps, train, "--", color="C1", label="train")
        ax.set_title(variant, fontsize="medium")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(variants):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy")
    if history:
        axes.flat[min(1, len(variants) - 1)].legend(fontsize="x-small")
    fig.suptitle(f"Learning curves ({note}, of those still training after early stops; "
                 f"grey: {reference})")
    return _save(plt, fig, path)


def _mean_curves(history, variant):
    epochs = [h for h in history if h["variant"] == variant]
    steps = sorted({int(h["epoch"]) for h in epochs})

    def mean(key):  # NaN where no run has the value (no validation set: no val_accuracy)
        values = [[h.get(key, math.nan) for h in epochs if h["epoch"] == e] for e in steps]
        return [float(np.nanmean(v)) if not all(map(_missing, v)) else math.nan
                for v in values]

    if not steps:
        return [], [], []
    return steps, mean("val_accuracy"), mean("accuracy")


def _bars(plt, rows, sizes, metric, label, path, style):
    """Bars per variant: mean, 95% CI, seeds as dots; in the variant's colour, or with
    several training-set sizes one colour per size and the variant's colour as edge."""
    variants = list(_by_variant(rows))
    width = 0.8 / len(sizes)
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(variants) * len(sizes) ** 0.5 + 2), 4))
    for k, size in enumerate(sizes):
        groups = _by_variant(_at(rows, size))
        for i, variant in enumerate(variants):
            values = [r[metric] for r in groups.get(variant, {}).values()]
            if not values:
                continue
            mean, _, low, high = mean_ci(values)
            err = None if math.isnan(low) else [[mean - low], [high - mean]]
            x = i + (k - (len(sizes) - 1) / 2) * width
            colour = style[variant]["color"]
            ax.bar(x, mean, width=width * 0.9, yerr=err, capsize=3, alpha=0.7,
                   color=f"C{k}" if len(sizes) > 1 else colour, edgecolor=colour, linewidth=2,
                   label=f"train size {size}" if i == 0 and len(sizes) > 1 else None)
            ax.plot([x] * len(values), values, "k.", alpha=0.7, ms=3)
    ax.set_xticks(range(len(variants)), variants, rotation=30, ha="right")
    ax.set(ylabel=label, title=f"{label} (mean of {_seed_count(rows)} seeds; "
                               "whiskers: 95% CI, dots: seeds)")
    if len(sizes) > 1:
        _legend_outside(ax)
    ax.grid(axis="y", alpha=0.3)
    return _save(plt, fig, path)


def _shift_lines(plt, groups, first_row, note, path, style):
    panels = [(shift_columns(first_row), "shift (zero fill; images: both axes, diagonal)")]
    if axis_shift_columns(first_row):
        panels.append((axis_shift_columns(first_row), "shift along one axis (zero fill)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.2), sharey=True,
                             squeeze=False)
    for ax, (columns, xlabel) in zip(axes[0], panels):
        shifts = [int(c.rsplit("_", 1)[1]) for c in columns]
        for variant, runs in groups.items():
            bands = [band([r[c] for r in runs.values()]) for c in columns]
            line, = ax.plot(shifts, [b[0] for b in bands], label=variant, ms=5, **style[variant])
            if not any(math.isnan(b[1]) for b in bands):
                ax.fill_between(shifts, [b[1] for b in bands], [b[2] for b in bands],
                                color=line.get_color(), alpha=0.15)
        ax.set(xlabel=xlabel, title=f"test accuracy vs shift ({note}; band: 95% CI)")
        ax.set_xticks(shifts)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy")
    _legend_outside(axes[0][-1], ncol=1 if len(groups) <= 12 else 2)
    return _save(plt, fig, path)


def _size_lines(plt, rows, sizes, path, style):
    fig, ax = plt.subplots(figsize=(7, 4.4))
    for variant in _by_variant(rows):
        points = []
        for size in sizes:
            values = [r["test_accuracy"] for r in _at(rows, size) if r["variant"] == variant]
            if values:
                points.append((size, *band(values)))
        if not points:
            continue
        xs, means, lows, highs = zip(*points)
        line, = ax.plot(xs, means, label=variant, ms=5, **style[variant])
        if not any(math.isnan(v) for v in lows):
            ax.fill_between(xs, lows, highs, color=line.get_color(), alpha=0.12)
    ax.set(xlabel="training-set size", ylabel="test accuracy",
           title=f"test accuracy vs training-set size (mean of {_seed_count(rows)} seeds; "
                 "band: 95% CI)")
    ax.set_xticks(sizes)
    ax.grid(alpha=0.3)
    _legend_outside(ax, ncol=1 if len(style) <= 12 else 2)
    return _save(plt, fig, path)


def render(out_dir):
    """Write ``summary.md`` and the plots in `out_dir` from its CSV files."""
    out_dir = Path(out_dir)
    results = out_dir / "results.csv"
    if not results.is_file():
        raise ConfigError(f"{out_dir}: no results.csv here; run `python -m experiments run` first")
    rows = read_csv(results)
    if not rows:
        raise ConfigError(f"{results}: no runs recorded yet")
    history_path = out_dir / "history.csv"
    history = read_csv(history_path) if history_path.is_file() else []
    baseline = _baseline(out_dir, rows)
    write_atomic(out_dir / "summary.md", summarize(rows, baseline))
    plot(rows, history, out_dir, baseline)
    from . import findings

    claims = findings.from_run_dir(out_dir)
    if claims:
        write_atomic(out_dir / "findings.md", findings.markdown(findings.judge(claims, rows)))


def _baseline(out_dir, rows):
    """The config's baseline variant, else "max" when present."""
    config_path = out_dir / "config.json"
    if config_path.is_file():
        baseline = json.loads(config_path.read_text(encoding="utf-8")).get("baseline")
        if baseline:
            return baseline
    return "max" if any(r["variant"] == "max" for r in rows) else None
