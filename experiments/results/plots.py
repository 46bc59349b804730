"""The PNG plots of a run folder.

``learning_curves.png`` (one panel per variant), ``generalization_gap.png``,
``accuracy_vs_shift.png``, ``shift_consistency.png`` and, with more than one
training-set size, ``accuracy_vs_train_size.png``. Titles say how many seeds a
mean is over; whiskers and bands are 95% confidence intervals over seeds.
"""

import math
from pathlib import Path

import numpy as np

from .. import rundir
from ..rundir import axis_shift_columns, shift_columns
from ..stats import at_size, band, by_variant, mean_ci, missing, regimes

# 16 distinct colours (tab20 without its two greys and two pale pairs), each with
# its own marker and a line style: a variant keeps one style in every plot of a run.
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
            "#c49c94", "#dbdb8d")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p", "d", "8", "H", "1")
_LINES = ("-", "--", "-.", ":")


def pyplot():
    """matplotlib's pyplot on the Agg backend: files only, no display needed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


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
    plt = pyplot()
    out_dir = Path(out_dir)
    sizes = regimes(rows)
    largest = at_size(rows, sizes[-1])
    groups = by_variant(largest)
    history = [h for h in history if missing(h.get("train_size"))
               or int(h["train_size"]) == sizes[-1]]
    note = _note(largest, sizes)
    style = styles(by_variant(rows))
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
    counts = sorted({len(runs) for runs in by_variant(rows).values()})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def _note(rows, sizes):
    text = f"mean of {_seed_count(rows)} seeds"
    return text + (f", train size {sizes[-1]}" if len(sizes) > 1 else "")


def _save(plt, fig, path):
    fig.tight_layout()
    rundir.save_figure(fig, path, dpi=110, bbox_inches="tight")  # keeps a legend outside
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
        return [float(np.nanmean(v)) if not all(map(missing, v)) else math.nan
                for v in values]

    if not steps:
        return [], [], []
    return steps, mean("val_accuracy"), mean("accuracy")


def _bars(plt, rows, sizes, metric, label, path, style):
    """Bars per variant: mean, 95% CI, seeds as dots; in the variant's colour, or with
    several training-set sizes one colour per size and the variant's colour as edge."""
    variants = list(by_variant(rows))
    width = 0.8 / len(sizes)
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(variants) * len(sizes) ** 0.5 + 2), 4))
    for k, size in enumerate(sizes):
        groups = by_variant(at_size(rows, size))
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
    for variant in by_variant(rows):
        points = []
        for size in sizes:
            values = [r["test_accuracy"] for r in at_size(rows, size) if r["variant"] == variant]
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
