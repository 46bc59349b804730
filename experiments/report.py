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
    The Markdown summary: per variant mean, std and 95% CI of every metric,
    and the paired difference (same seed) to the `baseline` variant.
``plot(rows, history, out_dir) -> list[Path]``
    ``learning_curves.png``, ``generalization_gap.png``,
    ``accuracy_vs_shift.png``, ``shift_consistency.png``.
``render(out_dir)``
    ``summary.md`` and the plots from ``results.csv`` and ``history.csv``
    (and the baseline named in ``config.json``, if there is one);
    ``python -m experiments report DIR`` calls it.
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
    "dataset", "variant", "pooling", "head", "p", "seed", "train_size",
    "train_accuracy", "test_accuracy", "train_loss", "test_loss",
    "generalization_gap", "shift_consistency", "epochs", "train_seconds",
)
HISTORY_COLUMNS = ("variant", "seed", "epoch", "loss", "accuracy", "val_loss", "val_accuracy")
_TEXT = {"dataset", "variant", "pooling", "head"}
_NAMES = {
    "test_accuracy": "test accuracy", "train_accuracy": "train accuracy",
    "generalization_gap": "generalization gap (train - test accuracy)",
    "test_loss": "test loss", "train_loss": "train loss",
    "shift_consistency": "shift consistency", "train_seconds": "train seconds",
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


def shift_columns(row):
    """The ``accuracy_shift_<s>`` keys of a row, by increasing shift."""
    keys = [k for k in row if k.startswith("accuracy_shift_")]
    return sorted(keys, key=lambda k: int(k.rsplit("_", 1)[1]))


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
    columns = list(COLUMNS) + shift_columns(records[0])
    write_atomic(out_dir / "results.csv", _csv(columns, records))
    epochs = []
    for record in records:
        history = record["history"]
        for epoch in range(len(history["loss"])):
            row = {"variant": record["variant"], "seed": record["seed"], "epoch": epoch + 1}
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


def _by_variant(rows):
    """{variant: {seed: row}}, variants in first-seen order."""
    groups = {}
    for row in rows:
        groups.setdefault(row["variant"], {})[int(row["seed"])] = row
    return groups


def _fmt(value, signed=False):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _interval(low, high, signed=False):
    if math.isnan(low):
        return "n/a"
    return f"[{_fmt(low, signed)}, {_fmt(high, signed)}]"


def summarize(rows, baseline=None):
    """The Markdown summary of results rows (see the module docstring)."""
    groups = _by_variant(rows)
    shifts = shift_columns(rows[0])
    last = shifts[-1]
    metrics = ["test_accuracy", "train_accuracy", "generalization_gap", "test_loss",
               "train_loss", "shift_consistency", last, "train_seconds"]
    names = dict(_NAMES, **{last: f"accuracy at shift {last.rsplit('_', 1)[1]}"})
    seeds = sorted({int(r["seed"]) for r in rows})
    if baseline not in groups:
        baseline = None
    lines = [
        f"# Results: {rows[0]['dataset']}",
        "",
        f"{len(rows)} runs: {len(groups)} variants, seeds {', '.join(map(str, seeds))}. "
        "Mean, sample std and 95% confidence interval (t-distribution) over seeds"
        + (f"; Δ is the paired difference to `{baseline}` (same seed, same initial weights)."
           if baseline else "."),
        "",
        "## Overview (means over seeds)",
        "",
        "| variant | runs | " + " | ".join(names[m] for m in metrics) + " |",
        "|---|---:|" + "---:|" * len(metrics),
    ]
    for variant, runs in groups.items():
        means = [_fmt(float(np.mean([r[m] for r in runs.values()]))) for m in metrics]
        lines.append(f"| {variant} | {len(runs)} | " + " | ".join(means) + " |")
    for metric in metrics:
        lines += ["", f"## {names[metric]}", ""]
        header = "| variant | n | mean | std | 95% CI |"
        rule = "|---|---:|---:|---:|---|"
        if baseline:
            header += f" Δ vs {baseline} | 95% CI of Δ |"
            rule += "---:|---|"
        lines += [header, rule]
        for variant, runs in groups.items():
            mean, std, low, high = mean_ci([r[metric] for r in runs.values()])
            line = (f"| {variant} | {len(runs)} | {_fmt(mean)} | {_fmt(std)} | "
                    f"{_interval(low, high)} |")
            if baseline:
                line += _paired(runs, groups[baseline], metric, variant == baseline)
            lines.append(line)
    lines += ["", "## Accuracy vs shift (mean over seeds)", "",
              "| variant | " + " | ".join(f"shift {c.rsplit('_', 1)[1]}" for c in shifts) + " |",
              "|---|" + "---:|" * len(shifts)]
    for variant, runs in groups.items():
        means = [_fmt(float(np.mean([r[c] for r in runs.values()]))) for c in shifts]
        lines.append(f"| {variant} | " + " | ".join(means) + " |")
    return "\n".join(lines) + "\n"


def _paired(runs, base_runs, metric, is_baseline):
    if is_baseline:
        return " — | — |"
    common = sorted(set(runs) & set(base_runs))
    if not common:
        return " n/a | n/a |"
    diffs = [runs[s][metric] - base_runs[s][metric] for s in common]
    mean, _, low, high = mean_ci(diffs)
    return f" {_fmt(mean, True)} | {_interval(low, high, True)} |"


def plot(rows, history, out_dir):
    """Write the four PNG plots into `out_dir`; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    out_dir = Path(out_dir)
    groups = _by_variant(rows)
    return [
        _learning_curves(plt, history, list(groups), out_dir / "learning_curves.png"),
        _bars(plt, groups, "generalization_gap", "train - test accuracy",
              out_dir / "generalization_gap.png"),
        _shift_lines(plt, groups, shift_columns(rows[0]), out_dir / "accuracy_vs_shift.png"),
        _bars(plt, groups, "shift_consistency", "shift consistency",
              out_dir / "shift_consistency.png"),
    ]


def _save(plt, fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _learning_curves(plt, history, variants, path):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, variant in enumerate(variants):
        epochs = [h for h in history if h["variant"] == variant]
        steps = sorted({int(h["epoch"]) for h in epochs})
        for ax, key in zip(axes, ("accuracy", "loss")):
            for prefix, style in (("", "-"), ("val_", "--")):
                curve = [np.nanmean([h[prefix + key] for h in epochs if h["epoch"] == e])
                         for e in steps]
                if not np.all(np.isnan(curve)):
                    ax.plot(steps, curve, style, color=colors[i % len(colors)],
                            label=variant if not prefix else None)
    for ax, key in zip(axes, ("accuracy", "loss")):
        ax.set(xlabel="epoch", ylabel=key, title=f"{key} (solid: train, dashed: validation)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    return _save(plt, fig, path)


def _bars(plt, groups, metric, label, path):
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(groups) + 2), 4))
    for i, runs in enumerate(groups.values()):
        values = [r[metric] for r in runs.values()]
        mean, _, low, high = mean_ci(values)
        err = None if math.isnan(low) else [[mean - low], [high - mean]]
        ax.bar(i, mean, yerr=err, capsize=4, color="C0", alpha=0.6)
        ax.plot([i] * len(values), values, "k.", alpha=0.7)
    ax.set_xticks(range(len(groups)), list(groups), rotation=30, ha="right")
    ax.set(ylabel=label, title=f"{label} per variant (bar: mean, whiskers: 95% CI, dots: seeds)")
    ax.grid(axis="y", alpha=0.3)
    return _save(plt, fig, path)


def _shift_lines(plt, groups, columns, path):
    fig, ax = plt.subplots(figsize=(7, 4.2))
    shifts = [int(c.rsplit("_", 1)[1]) for c in columns]
    for variant, runs in groups.items():
        cis = [mean_ci([r[c] for r in runs.values()]) for c in columns]
        line, = ax.plot(shifts, [ci[0] for ci in cis], "o-", label=variant)
        if not any(math.isnan(ci[2]) for ci in cis):
            ax.fill_between(shifts, [ci[2] for ci in cis], [ci[3] for ci in cis],
                            color=line.get_color(), alpha=0.15)
    ax.set(xlabel="shift (pixels, both axes, zero fill)", ylabel="test accuracy",
           title="accuracy vs shift (band: 95% CI)")
    ax.set_xticks(shifts)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
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
    plot(rows, history, out_dir)


def _baseline(out_dir, rows):
    """The config's baseline variant, else "max" when present."""
    config_path = out_dir / "config.json"
    if config_path.is_file():
        baseline = json.loads(config_path.read_text(encoding="utf-8")).get("baseline")
        if baseline:
            return baseline
    return "max" if any(r["variant"] == "max" for r in rows) else None
